/**
 * The certificate and key a transport serves TLS with (settings `tls.*`, `serve --tls-cert/--tls-key`): read and
 * checked once, before anything listens, so that a bad file stops the server with EAR_ERR_TLS saying what is wrong.
 *
 * The check is node:tls's own `createSecureContext`, which parses both files and matches the key to the certificate.
 * uWebSockets.js reads the files again by name, and says no more of any file it cannot use than "App construction
 * failed" (a missing file, a key of another certificate, a key given as the certificate: all the same).
 */
import fs from 'node:fs'
import tls from 'node:tls'
import type { TlsSettings } from '../config/defaults.js'
import { earshotError, wrapError } from '../errors.js'

/** A checked certificate and key: their files (for uWS) and their bytes (for node:https). */
export interface TlsFiles {
  certFile: string
  keyFile: string
  cert: Buffer
  key: Buffer
  /** Undefined for a key that is not encrypted. */
  passphrase: string | undefined
}

/** OpenSSL's reasons for the mistakes people make, in words; OpenSSL's own text follows as the cause. */
const REASONS: ReadonlyArray<[RegExp, string]> = [
  [/key values mismatch/, 'the key does not belong to the certificate'],
  [/bad decrypt|bad password read|interrupted or cancelled/, 'the key is encrypted and tls.passphrase is missing or wrong'],
]

function reasonOf (err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  return REASONS.find(([re]) => re.test(text))?.[1] ?? 'they cannot be used together'
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----/
const PEM_KEY = /-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----/

function readPem (path: string, setting: string, what: string, pem: RegExp): Buffer {
  let bytes: Buffer
  try {
    bytes = fs.readFileSync(path)
  } catch (err) {
    throw wrapError('EAR_ERR_TLS', err, `cannot read ${setting} ${path}`)
  }
  if (!pem.test(bytes.toString('latin1'))) throw earshotError('EAR_ERR_TLS', `${setting} ${path} holds no PEM ${what}`)
  return bytes
}

/**
 * The certificate and key that `settings` name, checked: undefined when neither is set (plain http and ws).
 * @throws EAR_ERR_TLS for one without the other, a file that cannot be read or holds no PEM, a key that does not
 *   belong to the certificate, or an encrypted key without its passphrase
 */
export function loadTls (settings: TlsSettings): TlsFiles | undefined {
  const { cert: certFile, key: keyFile } = settings
  if (certFile === '' && keyFile === '') {
    if (settings.passphrase !== '') throw earshotError('EAR_ERR_TLS', 'tls.passphrase is set without tls.cert and tls.key')
    return undefined
  }
  if (certFile === '' || keyFile === '') {
    const [given, missing] = certFile === '' ? ['key', 'cert'] : ['cert', 'key']
    throw earshotError('EAR_ERR_TLS', `tls.${given} (--tls-${given}) is set without tls.${missing} (--tls-${missing}): give both`)
  }
  const cert = readPem(certFile, 'tls.cert', 'certificate', PEM_CERT)
  const key = readPem(keyFile, 'tls.key', 'private key', PEM_KEY)
  const passphrase = settings.passphrase === '' ? undefined : settings.passphrase
  try {
    tls.createSecureContext({ cert, key, passphrase })
  } catch (err) {
    throw wrapError('EAR_ERR_TLS', err, `${certFile} and ${keyFile}: ${reasonOf(err)}`)
  }
  return { certFile, keyFile, cert, key, passphrase }
}
