/**
 * The browser tests' Chromium: Debian's /usr/bin/chromium driven headless by playwright-core, with an empty profile
 * in a new temporary folder, optionally a fake microphone that plays a WAV file in a loop, and screenshots kept under
 * .tap/screenshots/<test file>/ (tap deletes t.testdir(); a person should be able to look at what the page showed).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

/** Debian's chromium package (.ci/run installs it). */
export const CHROMIUM = '/usr/bin/chromium'

/** Flags of every launch: no sandbox (CI runs as root), no GPU, nothing that talks to the network. */
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
]

/** The repository root: this file runs as dist/test/helpers/browser.js. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
/** Launching and closing the browser takes well under this, in ms. */
const LAUNCH_TIMEOUT_MS = 30_000
/** Any single page action or wait without its own bound, in ms. */
export const ACTION_TIMEOUT_MS = 15_000

export interface BrowserOptions {
  /** A WAV file the fake microphone plays, looped; without it, no fake capture device. */
  microphone?: string
  /** Let getUserMedia through without a prompt (default true); false refuses every permission prompt. */
  grantMicrophone?: boolean
  viewport?: { width: number, height: number }
  /** A phone's touch screen: touch events, a mobile viewport, and the media queries (pointer: coarse) of one. */
  touch?: boolean
  /** More command-line flags (`--host-resolver-rules=…` to give loopback servers names of other sites). */
  args?: readonly string[]
}

export interface Browser {
  context: BrowserContext
  page: Page
  /** Uncaught exceptions and console errors of the page, for a test to assert none. */
  pageErrors: string[]
  /** Save a full-page screenshot as NAME.png under the test file's screenshot folder; resolves with its path. */
  screenshot (name: string): Promise<string>
}

/** The folder a test file's screenshots go to: .tap/screenshots/<test file name>. */
export function screenshotDir (): string {
  const dir = path.join(ROOT, '.tap', 'screenshots', path.basename(process.argv[1] ?? 'browser', '.js'))
  fs.mkdirSync(dir, { recursive: true })
  return dir
}

/**
 * Launch Chromium with an empty profile and open one page; closed, and the profile removed, in t's teardown. Throws, failing
 * the test, when /usr/bin/chromium is missing: a browser test must not pass without a browser.
 */
export async function openBrowser (t: Test, options: BrowserOptions = {}): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the browser tests need Debian's chromium package (apt-get install chromium; .ci/run installs it)`)
  }
  const args = [...CHROMIUM_FLAGS]
  if (options.microphone !== undefined) {
    args.push('--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${options.microphone}`)
  }
  args.push(options.grantMicrophone === false ? '--deny-permission-prompts' : '--use-fake-ui-for-media-stream', ...options.args ?? [])
  // The profile lives outside t.testdir(): tap may empty that folder while Chromium still writes to its profile.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args,
    viewport: options.viewport ?? { width: 1280, height: 900 },
    hasTouch: options.touch === true,
    isMobile: options.touch === true,
    timeout: LAUNCH_TIMEOUT_MS,
  })
  t.teardown(async () => {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([context.close(), new Promise((resolve) => { timer = setTimeout(resolve, LAUNCH_TIMEOUT_MS) })])
    clearTimeout(timer)
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 3 })
  })
  context.setDefaultTimeout(ACTION_TIMEOUT_MS)
  const page = context.pages()[0] ?? await context.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (err) => pageErrors.push(`uncaught: ${err.message}`))
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`) })
  const dir = screenshotDir()
  return {
    context,
    page,
    pageErrors,
    async screenshot (name: string) {
      const file = path.join(dir, `${name}.png`)
      await page.screenshot({ path: file, fullPage: true })
      return file
    },
  }
}
