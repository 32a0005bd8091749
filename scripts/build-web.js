#!/usr/bin/env node
/**
 * Builds the browser side into dist/web (part of `npm run build`, so `npm install` runs it):
 *
 *   dist/web/sdk/earshot.js           the browser SDK (client-sdk/src/browser), one ES module, served at /sdk/earshot.js
 *   dist/web/sdk/earshot-worklet.js   its AudioWorklet processor alone, for pages that refuse blob: scripts
 *   dist/web/app.js                   the page's script (server/web/app.ts); it imports the SDK from /sdk/earshot.js
 *   dist/web/index.html, style.css    copied from server/web
 *
 * The processor is bundled first and its code put into the SDK as a string, which loads it from a blob: URL: the SDK
 * stays one file. The protocol package (msgpackr and the message shapes) is bundled from protocol/src, the same
 * source the server compiles. Type checking is tsc's job (client-sdk/src/browser/tsconfig.json); esbuild only strips
 * types and bundles.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const out = path.join(root, 'dist', 'web')
const browser = path.join(root, 'client-sdk', 'src', 'browser')
const web = path.join(root, 'server', 'web')

/** Browsers with AudioWorklet and ES2022 classes (private fields): Chrome 94, Firefox 93, Safari 15.4. */
const TARGET = ['chrome94', 'firefox93', 'safari15.4']
/** Files of server/web copied as they are. */
const STATIC_FILES = ['index.html', 'style.css']

const common = { bundle: true, format: 'esm', platform: 'browser', target: TARGET, minify: true, legalComments: 'eof', logLevel: 'warning' }

// The page imports the SDK's source for its types; in the browser it loads the served bundle instead.
const sdkFromServer = {
  name: 'sdk-from-server',
  setup (build) {
    build.onResolve({ filter: /client-sdk\/src\/browser\/index\.js$/ }, () => ({ path: '/sdk/earshot.js', external: true }))
  },
}

async function main () {
  fs.rmSync(out, { recursive: true, force: true })
  fs.mkdirSync(path.join(out, 'sdk'), { recursive: true })

  const worklet = await esbuild.build({ ...common, entryPoints: [path.join(browser, 'pcm-worklet.ts')], write: false, outfile: 'earshot-worklet.js' })
  const workletCode = worklet.outputFiles[0].text
  fs.writeFileSync(path.join(out, 'sdk', 'earshot-worklet.js'), workletCode)

  await esbuild.build({
    ...common,
    entryPoints: [path.join(browser, 'index.ts')],
    outfile: path.join(out, 'sdk', 'earshot.js'),
    define: { __EARSHOT_WORKLET_SOURCE__: JSON.stringify(workletCode) },
  })

  await esbuild.build({ ...common, entryPoints: [path.join(web, 'app.ts')], outfile: path.join(out, 'app.js'), plugins: [sdkFromServer] })

  for (const name of STATIC_FILES) fs.copyFileSync(path.join(web, name), path.join(out, name))

  const sizes = ['sdk/earshot.js', 'app.js', ...STATIC_FILES].map((f) => `${f} ${Math.round(fs.statSync(path.join(out, f)).size / 1024)} KiB`)
  process.stdout.write(`web: ${path.relative(root, out)}: ${sizes.join(', ')}\n`)
}

main().catch((err) => {
  process.stderr.write(`build-web: ${err.message}\n`)
  process.exit(1)
})
