/**
 * The web page and the browser SDK: files built into dist/web by scripts/build-web.js (part of `npm run build`),
 * served as they are. Each route names one file, so no request path ever reaches the file system. A file is read
 * once and kept in memory until its modification time changes (a rebuild shows without a restart).
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { earshotError } from '../errors.js'
import type { HttpReply } from './request.js'
import type { Route } from './router.js'

/** dist/web, beside dist/server: this module runs as dist/server/src/http/web-routes.js. */
export const WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url))

/**
 * The page's Content-Security-Policy: its own scripts, styles and API only. blob: scripts are the SDK's AudioWorklet
 * processor (see client-sdk/src/browser/listener.ts); ws: and wss: its stream (some browsers do not count a
 * same-origin WebSocket as 'self').
 */
const PAGE_CSP = [
  "default-src 'self'", "script-src 'self' blob:", "connect-src 'self' ws: wss:", "img-src 'self' data:", "style-src 'self'",
  "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
].join('; ')

/** Every answer: revalidate (file names carry no version), never sniff, never send the URL (a `?token=`) on. */
const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

const JS = 'text/javascript; charset=utf-8'

interface Cached { mtimeMs: number, bytes: Buffer }
const cache = new Map<string, Cached>()

/** A built file's bytes; EAR_ERR_NOT_FOUND, saying how to build, when it is missing. */
function readBuilt (file: string, urlPath: string): Buffer {
  const full = path.join(WEB_DIR, file)
  let mtimeMs: number
  try {
    mtimeMs = fs.statSync(full).mtimeMs
  } catch {
    throw earshotError('EAR_ERR_NOT_FOUND', `${urlPath}: the web page is not built (run npm run build)`)
  }
  const hit = cache.get(file)
  if (hit && hit.mtimeMs === mtimeMs) return hit.bytes
  const bytes = fs.readFileSync(full)
  cache.set(file, { mtimeMs, bytes })
  return bytes
}

function fileRoute (urlPath: string, file: string, type: string, summary: string, extra: Record<string, string> = {}): Route {
  return {
    method: 'GET',
    path: urlPath,
    access: 'public',
    summary,
    handle: (): HttpReply => ({ status: 200, type, body: readBuilt(file, urlPath), headers: { ...COMMON_HEADERS, ...extra } }),
  }
}

/** Other origins may load the SDK as a module script or worklet, which needs CORS; it is public code. */
const CROSS_ORIGIN = { 'access-control-allow-origin': '*' }

export const webRoutes: Route[] = [
  fileRoute('/', 'index.html', 'text/html; charset=utf-8', 'The web page: listen, identify a file, the catalog, monitors',
    { 'content-security-policy': PAGE_CSP }),
  fileRoute('/web/app.js', 'app.js', JS, 'The web page\'s script'),
  fileRoute('/web/style.css', 'style.css', 'text/css; charset=utf-8', 'The web page\'s style sheet'),
  fileRoute('/sdk/earshot.js', 'sdk/earshot.js', JS, 'The browser SDK as one ES module: listen({ url, token })', CROSS_ORIGIN),
  fileRoute('/sdk/earshot-worklet.js', 'sdk/earshot-worklet.js', JS, 'The browser SDK\'s AudioWorklet processor, for pages that refuse blob: scripts', CROSS_ORIGIN),
]
