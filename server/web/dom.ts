/**
 * Small helpers of the page: building elements (text only, never HTML from data), and formatting times and numbers.
 */

type Child = Node | string | number | null | undefined | false

/** An element with attributes (`class`, `aria-*`, `data-*`, …) and children; strings become text nodes. */
export function el<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Record<string, string | number | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    e.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(typeof c === 'number' ? String(c) : c)
  return e
}

/** The element of an id that the page must have; a missing one is a bug of index.html. */
export function byId<T extends HTMLElement = HTMLElement> (id: string): T {
  const e = document.getElementById(id)
  if (!e) throw new Error(`index.html has no #${id}`)
  return e as T
}

/** Positions (clock) and lengths (length), as the CLI writes them too. */
export { clock, length } from '../src/clock.js'

/** Seconds as a short duration for people: "45 s", "12 min", "2 h 5 min". */
export function duration (seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `${minutes} min`
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}

/** 0..1 as a whole percentage. */
export function percent (fraction: number): string {
  return `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)}%`
}

/** An ISO time as the local date and time to the second ("Dec 1, 14:03:27" in the browser's language). */
export function dateTime (iso: string): string {
  const d = new Date(iso)
  return `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })}, ${d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })}`
}

/**
 * Show `text` in a view's alert (an element of class "alert" with role="alert" and a <p> for the text), or hide the
 * alert when `text` is empty: every view tells its errors the same way, in the same box.
 */
export function setAlert (id: string, text: string, notice = false): void {
  const box = byId(id)
  const p = box.querySelector('p')
  if (p) p.textContent = text
  box.classList.toggle('notice', notice)
  box.hidden = text === ''
}

/** Offer `blob` to the user as a download named `name` (a CSV built from the API's answers). */
export function saveFile (name: string, blob: Blob): void {
  const a = el('a', { href: URL.createObjectURL(blob), download: name, hidden: true })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000)
}
