/**
 * Serves the web dashboard's files: `GET /dashboard/` (the page), its script and its stylesheet,
 * built by scripts/build.mjs into `dist/dashboard/`. The page holds no data: it reads everything
 * from Relay's public API in the browser, so the same files serve `relay dev` and `relay dashboard`.
 *
 * Every answer forbids framing (clickjacking a "requeue all" button), inline and foreign scripts,
 * and connections to any origin but the page's own (CSP), and sends no referrer.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

/** Where the page lives on the server. */
export const DASHBOARD_PATH = '/dashboard/';

/** The files the build writes, and their content types. */
const FILES: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Relay</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="app.css">
<script type="module" src="app.js"></script>
</head>
<body><div id="app"><p>Loading…</p></div><noscript>The Relay dashboard needs JavaScript.</noscript></body>
</html>
`;

/**
 * The folder holding the built files: `dashboard/` beside the bundled CLI (dist/relay.mjs), or the
 * repository's `dist/dashboard/` when this module runs from its source.
 */
export function defaultAssetDir(): string {
  const bundled = fileURLToPath(new URL('./dashboard/', import.meta.url));
  return existsSync(`${bundled}app.js`)
    ? bundled
    : fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));
}

/**
 * A request listener for the dashboard's paths: answers them and returns true, or returns false
 * for any other path. Files are read once, at the first request for them.
 */
export function dashboardPages(
  dir = defaultAssetDir(),
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const cache = new Map<string, Buffer>();
  const read = (name: string): Buffer | undefined => {
    if (!cache.has(name)) {
      try {
        cache.set(name, readFileSync(`${dir}/${name}`));
      } catch {
        return undefined;
      }
    }
    return cache.get(name);
  };
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== '/dashboard' && !path.startsWith(DASHBOARD_PATH)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answer(
        res,
        req,
        405,
        { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' },
        'method not allowed',
      );
      return true;
    }
    if (path === '/dashboard') {
      answer(res, req, 308, { location: DASHBOARD_PATH }, '');
      return true;
    }
    const name = path.slice(DASHBOARD_PATH.length);
    if (name === '' || name === 'index.html') {
      answer(res, req, 200, { 'content-type': 'text/html; charset=utf-8' }, PAGE);
      return true;
    }
    const type = FILES[name];
    const body = type === undefined ? undefined : read(name);
    if (type === undefined) {
      answer(res, req, 404, { 'content-type': 'text/plain; charset=utf-8' }, 'not found');
    } else if (body === undefined) {
      answer(
        res,
        req,
        503,
        { 'content-type': 'text/plain; charset=utf-8' },
        `the dashboard is not built (${dir}${name} is missing): run npm run build`,
      );
    } else answer(res, req, 200, { 'content-type': type }, body);
    return true;
  };
}

function answer(
  res: ServerResponse,
  req: IncomingMessage,
  status: number,
  headers: Record<string, string>,
  body: string | Buffer,
): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}
