/**
 * Which URLs can be monitored, and how a monitored URL shows in messages. Apart from the puller because the API
 * checks a URL before any monitor exists (monitors.ts), and the HTTP client checks every redirect the same way.
 */

const MAX_URL_CHARS = 2048
/** A URL that cannot be parsed shows as its start, this long. */
const MAX_UNPARSED_CHARS = 100

/**
 * Whether `url` can be monitored: undefined when it can, otherwise a one-line reason. Only http: and https: URLs
 * with a host; no user name or password in the URL, since a URL shows in logs, status and metrics.
 */
export function validateSourceUrl (url: string): string | undefined {
  if (typeof url !== 'string' || url.trim() === '') return 'no URL given'
  if (url.length > MAX_URL_CHARS) return `the URL is longer than ${MAX_URL_CHARS} characters`
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return 'not a valid absolute URL (expected http://host/path or https://host/path)'
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `only http: and https: streams can be monitored, not ${u.protocol}`
  if (u.hostname === '') return 'the URL has no host'
  if (u.username !== '' || u.password !== '') return 'the URL holds a user name or password, which would show in logs and status'
  return undefined
}

/** The URL for messages: scheme, host and path; the query is left out, since stream tokens often live there. */
export function displayUrl (url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return url.slice(0, MAX_UNPARSED_CHARS)
  }
}
