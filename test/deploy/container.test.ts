/**
 * The container image (Containerfile), built and run as a user would: podman builds it, runs it with a named volume on
 * /data, and the test waits for GET /health to answer 200 through the published port, checks that earshot runs as a
 * user other than root and that the image's HEALTHCHECK passes (`podman healthcheck run`), stops it (SIGTERM through
 * tini: earshot closes cleanly, exit 0), and removes the container, the volume and the images.
 *
 * The base image. Registries of images cannot be reached from this machine, so the test makes the base itself, as the
 * official Node image is made: Debian bookworm from Debian's packages (mmdebstrap, variant apt, so that the runtime
 * stage can apt-get ffmpeg), with this machine's node and npm copied into /usr/local as the official image has them
 * (Debian's own nodejs is 18; earshot needs 20). It passes that image as `--build-arg BASE=...`. The base also trusts
 * the certificate authorities this machine added (/usr/local/share/ca-certificates), so that npm ci inside the build
 * can reach the npm registry through a TLS-inspecting proxy, as the host's npm does.
 *
 * Everything podman stores (images, layers, the volume) lives in a temporary folder of its own (`--root`), never in the
 * repository or the machine's podman store, and is deleted at the end. Podman runs with runc and cgroupfs and no
 * default ulimits (a containers.conf written there, named by CONTAINERS_CONF), which is what works on this machine
 * without systemd.
 *
 * Skipped, with the reason, when podman, runc or mmdebstrap is missing, when not root (mmdebstrap and rootful podman),
 * or when podman cannot run a container here. CI (.ci/run) does not install podman, so this test skips there: the base
 * and the image take about two and a half minutes and 1.5 GB of downloads and disk on every run. To run it:
 * `apt-get install -y podman runc mmdebstrap`, then
 * `npm run build && npx tap --disable-coverage dist/test/deploy/container.test.js`. It prints the image size, the
 * build time and the time from `podman run` to /health 200.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { freePort } from '../helpers/stream-helpers.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
/** Longest wait for /health to answer 200 after `podman run`, in ms. */
const HEALTH_TIMEOUT_MS = 60_000
/** Output of a command kept for failure messages, in characters. */
const KEEP_CHARS = 6000

const NPM_DIR = path.resolve(path.dirname(fs.realpathSync(process.execPath)), '..', 'lib', 'node_modules', 'npm')

function why (): string | false {
  const missing = ['podman', 'runc', 'mmdebstrap'].filter((cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error !== undefined)
  if (missing.length > 0) return `${missing.join(', ')} not installed (Debian: apt-get install podman runc mmdebstrap); CI does not install them`
  if (process.getuid?.() !== 0) return 'needs root (mmdebstrap builds the base as root, podman runs rootful)'
  if (!fs.existsSync(path.join(NPM_DIR, 'bin', 'npm-cli.js'))) return `no npm beside this node (${NPM_DIR}) to put into the base image`
  return false
}
const skip = why()

interface Ran { code: number | null, out: string, ms: number }

/** Run a command to its end; resolves with its exit code and the tail of its stdout and stderr together. */
function run (cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  const start = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const keep = (s: string): void => { out = (out + s).slice(-KEEP_CHARS) }
    child.stdout.setEncoding('utf8').on('data', keep)
    child.stderr.setEncoding('utf8').on('data', keep)
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, out, ms: performance.now() - start }))
  })
}

t.test('the image builds, serves /health as a user other than root, passes its HEALTHCHECK and stops cleanly', { skip, timeout: 900_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-container-'))
  const conf = path.join(dir, 'containers.conf')
  fs.writeFileSync(conf, '[containers]\ndefault_ulimits = []\n\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n')
  const env: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: conf }
  delete env.NODE_OPTIONS
  const tag = `${process.pid}-${Date.now()}`
  const base = `localhost/earshot-test-base:${tag}`
  const image = `localhost/earshot-test:${tag}`
  const name = `earshot-test-${tag}`
  const volume = `earshot-test-data-${tag}`
  const podman = (...args: string[]): Promise<Ran> =>
    run('podman', ['--root', path.join(dir, 'storage'), '--runroot', path.join(dir, 'run'), ...args], env)
  t.teardown(async () => {
    await podman('rm', '--force', '--time', '0', name)
    await podman('volume', 'rm', '--force', volume)
    await podman('rmi', '--force', image, base)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  // The base: Debian bookworm with apt, this machine's node and npm in /usr/local, and its added CAs.
  const tar = path.join(dir, 'base.tar')
  const mm = await run('mmdebstrap', ['--variant=apt', '--include=ca-certificates',
    '--customize-hook=mkdir -p "$1/usr/local/lib/node_modules"',
    `--customize-hook=copy-in ${fs.realpathSync(process.execPath)} /usr/local/bin`,
    `--customize-hook=copy-in ${NPM_DIR} /usr/local/lib/node_modules`,
    '--customize-hook=ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"',
    '--customize-hook=for f in /usr/local/share/ca-certificates/*.crt; do [ -e "$f" ] && cp "$f" "$1/usr/local/share/ca-certificates/"; done; chroot "$1" update-ca-certificates',
    'bookworm', tar], env)
  t.equal(mm.code, 0, `mmdebstrap made the base's root file system in ${(mm.ms / 1000).toFixed(1)} s`, { output: mm.out })
  if (mm.code !== 0) return
  const imported = await podman('import', '--change', 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
    '--change', 'CMD ["node"]', tar, base)
  fs.rmSync(tar, { force: true })
  t.equal(imported.code, 0, 'podman imported it as the base image', { output: imported.out })
  if (imported.code !== 0) return

  // Can this machine run a container at all? If not, that is the environment's doing, not the image's.
  const probe = await podman('run', '--rm', base, 'node', '--version')
  if (probe.code !== 0) {
    t.pass('podman runs a container', { skip: `podman cannot run a container here: ${probe.out.trim().split('\n').slice(-3).join(' / ')}` })
    return
  }
  t.equal(probe.out.trim(), process.version, `the base runs this machine's node (${process.version})`)

  const build = await podman('build', '--format', 'docker', '--build-arg', `BASE=${base}`, '--tag', image,
    '--file', path.join(ROOT, 'Containerfile'), ROOT)
  t.equal(build.code, 0, `the image built in ${(build.ms / 1000).toFixed(1)} s`, { output: build.out })
  if (build.code !== 0) return
  const size = await podman('image', 'inspect', '--format', '{{.Size}}', image)
  const baseSize = await podman('image', 'inspect', '--format', '{{.Size}}', base)
  t.comment(`image ${(Number(size.out.trim()) / 1e6).toFixed(0)} MB (base ${(Number(baseSize.out.trim()) / 1e6).toFixed(0)} MB), built in ${(build.ms / 1000).toFixed(1)} s`)
  const healthcheck = await podman('image', 'inspect', '--format', '{{json .HealthCheck}}', image)
  t.match(healthcheck.out, /127\.0\.0\.1:8080\/health/, 'the image carries the HEALTHCHECK (built in docker format)')

  const port = await freePort()
  t.equal((await podman('volume', 'create', volume)).code, 0, 'a named volume for /data')
  const started = performance.now()
  // --health-interval disable: no systemd timer here to run the check periodically; `healthcheck run` runs it below.
  const ran = await podman('run', '--detach', '--name', name, '--publish', `127.0.0.1:${port}:8080`,
    '--volume', `${volume}:/data`, '--health-interval', 'disable', image)
  t.equal(ran.code, 0, 'podman run started it', { output: ran.out })
  if (ran.code !== 0) return
  let status = 0
  while (performance.now() - started < HEALTH_TIMEOUT_MS) {
    status = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0)
    if (status === 200) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const healthyMs = performance.now() - started
  const logs = async (): Promise<string> => (await podman('logs', name)).out
  t.equal(status, 200, `GET /health answered 200 ${(healthyMs / 1000).toFixed(2)} s after podman run`, status === 200 ? {} : { logs: await logs() })
  if (status !== 200) return
  t.comment(`from podman run to /health 200: ${(healthyMs / 1000).toFixed(2)} s`)
  const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json() as { status: string, index: { tracks: number } }
  t.equal(health.status, 'ok', 'the node is ok, with an empty index')

  const uid = await podman('exec', name, 'id', '-u')
  t.equal(uid.code, 0, 'podman exec id -u', { output: uid.out })
  t.not(uid.out.trim(), '0', `earshot runs as uid ${uid.out.trim()}, not root`)
  const owner = await podman('exec', name, 'stat', '-c', '%u', '/data/data.mdb', '/data/server/earshot.pid')
  t.same(owner.out.trim().split('\n'), [uid.out.trim(), uid.out.trim()], 'the index and the server state are in the volume, owned by that user')
  const cli = await podman('exec', name, 'earshot', 'stats')
  t.equal(cli.code, 0, '`earshot stats` runs beside the server', { output: cli.out })

  const check = await podman('healthcheck', 'run', name)
  t.equal(check.code, 0, 'podman healthcheck run: the HEALTHCHECK passes', { output: check.out })

  const stopped = await podman('stop', '--time', '15', name)
  t.equal(stopped.code, 0, `podman stop took ${(stopped.ms / 1000).toFixed(1)} s`, { output: stopped.out })
  const exit = await podman('inspect', '--format', '{{.State.ExitCode}}', name)
  t.equal(exit.out.trim(), '0', 'earshot exited 0 on SIGTERM', { logs: await logs() })
  t.match(await logs(), /"msg":"closed"/, 'it logged its clean close')
})
