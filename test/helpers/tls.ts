/**
 * TLS for the tests: self-signed certificates made with the `openssl` command (Node makes keys but not
 * certificates), and requests that trust one of them, from a chosen local address.
 */
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import path from 'node:path'
import { spawnSync } from 'node:child_process'

/** Why the TLS tests cannot run here, or false. */
export const noOpenssl: string | false = spawnSync('openssl', ['version'], { stdio: 'ignore' }).error === undefined
  ? false
  : 'openssl not installed (Debian: apt-get install openssl): it makes the test certificates'

export interface Certificate {
  /** PEM file of the certificate, which is its own authority (give it as `ca`, or NODE_EXTRA_CA_CERTS). */
  cert: string
  /** PEM file of its key, encrypted when a passphrase was given. */
  key: string
  /** The certificate's PEM text. */
  pem: string
}

function openssl (args: readonly string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`)
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, valid for two days, with an EC P-256 key (fast to make),
 * written as `name.crt` and `name.key` into `dir`.
 */
export function makeCertificate (dir: string, name: string, passphrase?: string): Certificate {
  const cert = path.join(dir, `${name}.crt`)
  const key = path.join(dir, `${name}.key`)
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-days', '2', '-subj', `/CN=earshot test ${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert,
    ...(passphrase === undefined ? ['-noenc'] : ['-passout', `pass:${passphrase}`])])
  return { cert, key, pem: fs.readFileSync(cert, 'utf8') }
}

export interface Answer { status: number, headers: http.IncomingHttpHeaders, body: string }

export interface RequestOptions {
  method?: string
  headers?: Record<string, string>
  body?: Uint8Array
  /** For https: the certificate (PEM) to trust. */
  ca?: string
  /** Connect from this local address (another loopback address, 127.0.0.2, is another client). */
  localAddress?: string
}

/** One http or https request on a connection of its own (no keep-alive socket outlives the test). */
export function request (url: string, o: RequestOptions = {}): Promise<Answer> {
  const send = url.startsWith('https:') ? https.request : http.request
  return new Promise((resolve, reject) => {
    const req = send(url, { method: o.method ?? 'GET', headers: o.headers, ca: o.ca, localAddress: o.localAddress, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (s: string) => { body += s })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end(o.body)
  })
}
