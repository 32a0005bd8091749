/**
 * Runtime settings (not stored in the index): their types and defaults come from the one schema (schema.ts), where
 * every setting has its range and description. Options given by the user are spread over these and validated once
 * (load.ts).
 */
import { defaultFingerprint, type FingerprintParams } from './fingerprint.js'
import { deepFreeze } from './freeze.js'
import {
  defaultsOf, settingsFileSchema, type AccessSettings, type CatalogLimits, type ClusterSettings, type HttpLimits, type MatcherSettings, type MonitorSettings,
  type NetworkSettings, type SettingsFile, type StreamLimits, type TlsSettings, type WebhookConfig,
} from './schema.js'

export type { AccessSettings, CatalogLimits, ClusterSettings, HttpLimits, MatcherSettings, MonitorSettings, NetworkSettings, StreamLimits, TlsSettings, WebhookConfig }

type Sections = 'stream' | 'http' | 'access' | 'monitors' | 'webhooks' | 'catalog' | 'network' | 'matcher' | 'cluster' | 'tls'

export type Settings = { -readonly [K in Exclude<keyof SettingsFile, Sections>]-?: NonNullable<SettingsFile[K]> } & {
  /** Folder of the LMDB index. */
  db: string
  /** Stored with the index, not a setting: an index built with others is refused. */
  fingerprint: FingerprintParams
  stream: StreamLimits
  http: HttpLimits
  access: AccessSettings
  monitors: MonitorSettings
  webhooks: WebhookConfig
  catalog: CatalogLimits
  network: NetworkSettings
  matcher: MatcherSettings
  cluster: ClusterSettings
  tls: TlsSettings
}

export const defaults: Readonly<Settings> = deepFreeze({
  db: './data',
  fingerprint: defaultFingerprint,
  postingsPerLookup: Infinity, // off: see schema.ts
  ...(defaultsOf(settingsFileSchema) as Omit<Settings, 'db' | 'fingerprint' | 'postingsPerLookup'>),
})

/** The index folder from `--db`, then `EARSHOT_DB`, then the default. */
export function resolveDb (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env.EARSHOT_DB || defaults.db)
}
