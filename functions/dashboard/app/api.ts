/**
 * The page's way to Relay: the SDK's client pointed at the page's own origin (the API itself under
 * `relay dev`, the signing proxy under `relay dashboard`), with the bearer token the user gave, if
 * any. Every call goes through Relay's public HTTP API.
 */
import { RelayApiError, RelayClient } from '../../sdk/client.ts';

const TOKEN_KEY = 'relay.token';

/**
 * The token for this tab: one handed over in the URL's fragment (`#token=…`, never sent to a
 * server), else the one kept for this tab. A fragment token is kept and removed from the address bar.
 */
export function initialToken(): string {
  const given = /^#token=([^&]+)/.exec(location.hash)?.[1];
  if (given !== undefined) {
    saveToken(decodeURIComponent(given));
    history.replaceState(null, '', `${location.pathname}${location.search}#/`);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function saveToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function clientFor(token: string): RelayClient {
  return new RelayClient({
    endpoint: location.origin,
    // '' (not undefined): the SDK would look for RELAY_TOKEN in a process the browser does not have.
    token,
    sigv4: false,
    fetch: (input, init) => fetch(input, init),
    retries: 2,
  });
}

/** Whether an error means the API wants a (different) token. */
export const needsToken = (error: unknown) => error instanceof RelayApiError && error.status === 401;

/** A one-line description of a failed call, for the page. */
export function describe(error: unknown): string {
  if (error instanceof RelayApiError) return `${error.message} (${error.status} ${error.code})`;
  return error instanceof Error ? error.message : String(error);
}
