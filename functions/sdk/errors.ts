/** The errors the SDK throws, and how an error answer becomes one. */

/** Codes for answers without a JSON error envelope (relay routes answer plain text). */
const CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  421: 'misdirected_request',
  422: 'invalid_request',
  429: 'too_many_requests',
  500: 'internal_error',
  503: 'unavailable',
};

/** Relay answered with an error status. `code` is the API's machine-readable code. */
export class RelayApiError extends Error {
  override readonly name: string = 'RelayApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The existing job, when an idempotency key was already used. */
    readonly jobId?: string,
  ) {
    super(message);
  }
}

/** The run is no longer the job's current run: its lease expired, or it was cancelled or replaced. */
export class LeaseLostError extends RelayApiError {
  override readonly name = 'LeaseLostError';
  constructor(
    readonly queue: string,
    readonly id: string,
    readonly runId: string,
    message: string,
  ) {
    super(404, 'lease_lost', message);
  }
}

/** Relay could not be reached (connection refused, reset, DNS…); `cause` holds the network error. */
export class RelayConnectionError extends Error {
  override readonly name = 'RelayConnectionError';
}

/**
 * Requests had to be signed with SigV4 and no AWS credentials were found (or the signing modules
 * are not installed); `cause` holds the credential chain's error. Nothing was sent.
 */
export class RelayCredentialsError extends Error {
  override readonly name = 'RelayCredentialsError';
}

/** Turns an error answer into a `RelayApiError`: the native envelope, or a plain-text body. */
export function apiError(response: Response, text: string): RelayApiError {
  const fallbackCode = CODES[response.status] ?? 'error';
  try {
    const { error } = JSON.parse(text) as { error?: { code?: string; message?: string; job_id?: string } };
    if (error?.message) {
      return new RelayApiError(response.status, error.code ?? fallbackCode, error.message, error.job_id);
    }
  } catch {
    // Not JSON: relay routes answer plain text.
  }
  return new RelayApiError(
    response.status,
    fallbackCode,
    text.trim() || `${response.status} ${response.statusText}`.trim(),
  );
}
