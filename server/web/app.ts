/**
 * The page's entry: one section shown at a time by the URL's hash (#listen, #identify, #catalog, #monitors), the
 * access token form, and the server's figures in the header. Each panel is its own module.
 */
import { api, describe, getToken, setToken } from './api.js'
import { CatalogView } from './catalog-view.js'
import { byId } from './dom.js'
import { IdentifyView } from './identify-view.js'
import { ListenView } from './listen-view.js'
import { MonitorsView } from './monitors-view.js'

const SECTIONS = ['listen', 'identify', 'catalog', 'monitors'] as const
type Section = typeof SECTIONS[number]

interface Stats { tracks: number, monitors: { total: number }, minConfidence: number }

// Each view lives on through the listeners it sets up.
const listenView = new ListenView()
new IdentifyView()
const catalog = new CatalogView()
const monitors = new MonitorsView()
catalog.onChange = () => { void showServerInfo() }
monitors.onChange = () => { void showServerInfo() }
listenView.trackCount = showServerInfo

function current (): Section {
  const h = location.hash.slice(1)
  return (SECTIONS as readonly string[]).includes(h) ? h as Section : 'listen'
}

/** Show the section of the hash; `moveFocus` after a navigation, so keyboard and screen reader users land on it. */
function showSection (moveFocus: boolean): void {
  const active = current()
  for (const id of SECTIONS) byId(id).hidden = id !== active
  for (const a of document.querySelectorAll<HTMLAnchorElement>('.site-header nav a')) {
    if (a.hash === `#${active}`) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  if (active === 'catalog') catalog.show()
  if (active === 'monitors') monitors.show()
  else monitors.hide()
  if (moveFocus) {
    const heading = byId(active).querySelector('h1')
    if (heading) { heading.tabIndex = -1; heading.focus() }
  }
}

/**
 * Show the server's figures in the header, and the Listen panel's notice while the catalog is empty; resolves with the
 * number of tracks (undefined when the stats cannot be read, e.g. without a token the server asks for).
 */
async function showServerInfo (): Promise<number | undefined> {
  const info = byId('server-info')
  try {
    const s = await api<Stats>('/v1/stats')
    info.textContent = `${s.tracks} ${s.tracks === 1 ? 'track' : 'tracks'} in the catalog · ${s.monitors.total} ${s.monitors.total === 1 ? 'monitor' : 'monitors'}`
    byId('catalog-empty').hidden = s.tracks > 0
    listenView.minConfidence = s.minConfidence
    return s.tracks
  } catch (err) {
    info.textContent = describe(err)
    return undefined
  }
}

byId<HTMLInputElement>('token').value = getToken()
byId('token-form').addEventListener('submit', (e) => {
  e.preventDefault()
  setToken(byId<HTMLInputElement>('token').value.trim())
  void showServerInfo()
  showSection(false)
})

window.addEventListener('hashchange', () => showSection(true))
showSection(false)
void showServerInfo()
document.body.dataset.ready = 'true'
