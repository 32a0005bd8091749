/**
 * The web page and the browser SDK: files built into dist/web by scripts/build-web.js (part of `npm run build`),
 * served as they are. Each route names one file, so no request path ever reaches the file system. A file is read
 * once and kept in memory until its modification time changes (a rebuild shows without a restart).
 */
import fs from 'node:fs'
import { Type } from '@sinclair/typebox'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { earshotError } from '../errors.js'
import type { HttpReply } from './request.js'
import { route, type Route } from './router.js'

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

function fileRoute (urlPath: string, file: string, type: string, operationId: string, summary: string, description = '', extra: Record<string, string> = {}): Route {
  return route({
    method: 'GET',
    path: urlPath,
    access: 'public',
    operationId,
    tag: 'web',
    summary,
    description: `${description}${description ? ' ' : ''}Sent with \`Cache-Control: no-cache\`.`,
    responses: { 200: { description: 'The file', content: { [type.split(';')[0]]: Type.String() } } },
    errors: { 404: 'EAR_ERR_NOT_FOUND: the page is not built (run `npm run build`)' },
    handle: (): HttpReply => ({ status: 200, type, body: readBuilt(file, urlPath), headers: { ...COMMON_HEADERS, ...extra } }),
  })
}

/** Other origins may load the SDK as a module script or worklet, which needs CORS; it is public code. */
const CROSS_ORIGIN = { 'access-control-allow-origin': '*' }

export const webRoutes = [
  fileRoute('/', 'index.html', 'text/html; charset=utf-8', 'getWebPage', 'The web page: listen, identify a file, the catalog, monitors',
    'The page itself (index.html), with a Content-Security-Policy. It streams the microphone with the browser SDK and calls this API with the token typed into it.',
    { 'content-security-policy': PAGE_CSP }),
  fileRoute('/web/app.js', 'app.js', JS, 'getWebScript', 'The web page\'s script'),
  fileRoute('/web/style.css', 'style.css', 'text/css; charset=utf-8', 'getWebStyle', 'The web page\'s style sheet'),
  fileRoute('/sdk/earshot.js', 'sdk/earshot.js', JS, 'getBrowserSdk', 'The browser SDK as one ES module: listen({ url, token })',
    'The browser SDK (client-sdk/src/browser, bundled): `import { listen } from \'/sdk/earshot.js\'`. Served with `Access-Control-Allow-Origin: *` so pages of other origins may load it.',
    CROSS_ORIGIN),
  fileRoute('/sdk/earshot-worklet.js', 'sdk/earshot-worklet.js', JS, 'getBrowserSdkWorklet', 'The browser SDK\'s AudioWorklet processor, for pages that refuse blob: scripts',
    'The SDK carries this processor inside and loads it from a blob: URL; a page whose Content-Security-Policy refuses blob: scripts passes this URL as `workletUrl`.',
    CROSS_ORIGIN),
]
