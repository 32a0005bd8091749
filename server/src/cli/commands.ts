/**
 * The CLI's commands. Each opens the index itself, so that read-only commands never take the writer's lock.
 */
import fs from 'node:fs'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import { dbOption, jsonOption, type Command } from './command.js'
import { defaults, resolveDb, type Settings } from '../config/defaults.js'
import { LmdbIndex, type Maintenance } from '../index/lmdb-index.js'
import { indexFiles, type IndexEvent } from '../catalog/indexer.js'
import { Identifier } from '../match/identify.js'
import { decodeFile } from '../audio/decode.js'
import { readFileBytes } from '../audio/file-bytes.js'
import { analyzeLimits } from '../catalog/analyze-limits.js'
import { earshotError } from '../errors.js'
import { FingerprintWriter, checkFingerprintFile, isFingerprintFile, readFingerprintFile } from '../index/fingerprint-file.js'
import { createProgress } from './progress.js'
import { resolveLogLevel } from '../log.js'
import { loadSettings, settingAt, settingFromText } from '../config/load.js'
import { apiFlags, jobsCommand, monitorCommand, playsCommand } from './remote.js'
import { apiOptions, callApi, serverAddress, serverFlag } from './api-client.js'
import { count, formatBytes, length } from './format.js'
import { backupCommand } from './backup.js'
import { demoCommand } from './demo.js'
import { segmentsHere, segmentsOnServer, showSegments } from './segments.js'
import { errLine, out, outJson, terminal } from './terminal-text.js'
import { speedNote } from '../../../protocol/src/speed.js'
import { readSidecar, type Sidecar } from '../catalog/sidecar.js'
import { applyEdit, checkEdit, labelsText, splitLabel, type MetadataEdit } from '../index/track-metadata.js'
import { findTracks, trackFilter } from '../index/track-filter.js'
import type { Track } from '../index/types.js'

type Values = Record<string, string | boolean | undefined>


function openIndex (values: Values, readOnly: boolean): LmdbIndex {
  return LmdbIndex.open(resolveDb(values.db as string | undefined), defaults.fingerprint, { readOnly })
}

/**
 * The settings of a command that works on this machine (index, identify, stream): the file named by EARSHOT_CONFIG
 * and the EARSHOT_* variables, as `serve` reads them, so that a limit or the ffmpeg path is set once for all.
 */
function localSettings (): Settings {
  return loadSettings(defaults, undefined, process.env)
}

/** `--ext mp3,.FLAC` as a set of lower-case extensions with their dot; undefined when not given. */
function parseExtensions (value: string | boolean | undefined): Set<string> | undefined {
  if (value === undefined) return undefined
  const list = String(value).split(',').map((e) => e.trim().toLowerCase().replace(/^\./, '')).filter(Boolean)
  const bad = list.find((e) => !/^[a-z0-9]{1,10}$/.test(e))
  if (list.length === 0 || bad !== undefined) throw earshotError('EAR_ERR_USAGE', `--ext must be extensions separated by commas, like mp3,flac; got '${String(value)}'`)
  return new Set(list.map((e) => `.${e}`))
}

function parseNumber (name: string, value: string | boolean | undefined, min: number, max: number, integer: boolean): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw earshotError('EAR_ERR_USAGE', `--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got '${String(value)}'`)
  }
  return n
}

/** The metadata file of --metadata, read and checked whole before anything is indexed; undefined when not given. */
async function metadataOption (value: string | boolean | undefined): Promise<Sidecar | undefined> {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '') throw earshotError('EAR_ERR_USAGE', '--metadata needs a .csv or .json file')
  return readSidecar(value)
}

const metadataFlag = {
  metadata: { type: 'string', description: 'A metadata file (.csv or .json) giving files their ISRC, external id, labels (and title, artist, album); paths relative to its folder (docs/API.md, "Metadata files")' },
} as const

function parseTrackId (value: string): number {
  const id = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(id) || id < 1) throw earshotError('EAR_ERR_USAGE', `a track id is a positive integer, got '${value}'`)
  return id
}

const index: Command = {
  summary: 'Index audio files and folders (recursive, all cores)',
  usage: '<files or folders...>',
  positionals: [1, Infinity],
  options: {
    ...dbOption,
    threads: { type: 'string', description: 'Worker threads (default: one per core)' },
    bulk: { type: 'boolean', description: 'Write sorted runs straight into segments: for big folders (copies of one recording within a run are both kept)' },
    ext: { type: 'string', description: 'Extensions taken from folders, comma-separated (e.g. mp3,flac; default: every audio extension the decoders and ffmpeg take)' },
    ...metadataFlag,
  },
  async run (values, inputs) {
    const threads = parseNumber('threads', values.threads, 1, 256, true)
    const extensions = parseExtensions(values.ext)
    const metadata = await metadataOption(values.metadata)
    const db = openIndex(values, false)
    const progress = createProgress(terminal().stderr)
    let firstSkip: string | undefined
    try {
      const summary = await indexFiles(db, inputs, {
        params: defaults.fingerprint,
        limits: analyzeLimits(localSettings()),
        threads,
        bulk: values.bulk === true,
        extensions,
        metadata,
        onEvent: (e: IndexEvent) => {
          switch (e.type) {
            case 'found': progress.start(e.total); break
            case 'indexed': progress.tick(`indexed ${e.file} -> #${e.track.id} ${e.track.title}${e.replaced ? ` (replacing #${e.replaced.id}, the file changed)` : ''}`); break
            case 'present': progress.tick(`already present ${e.file} ${e.reason}`); break
            case 'skipped': firstSkip ??= e.reason; progress.skip(`skipped ${e.file}: ${e.reason}`); break
            case 'warning': progress.note(`warning ${e.file}: ${e.message}`); break
            case 'symlink': break // counted in the summary
          }
        },
      })
      progress.stop()
      const rate = summary.fingerprintSeconds > 0 ? ` (fingerprinting ${(summary.audioSeconds / summary.fingerprintSeconds).toFixed(0)}x real time per core)` : ''
      out(`indexed ${summary.indexed}, already present ${summary.present}, skipped ${summary.skipped}; ` +
        `${(summary.audioSeconds / 3600).toFixed(2)} h of audio in ${summary.seconds.toFixed(1)} s${rate}` +
        (summary.replaced > 0 ? `; ${count(summary.replaced, 'changed file')} replaced ${summary.replaced === 1 ? 'its' : 'their'} old track` : '') +
        (summary.updated > 0 ? `; ${count(summary.updated, 'track')} brought up to date` : '') +
        (summary.warnings > 0 ? `; ${count(summary.warnings, 'tag value')} skipped with a warning` : '') +
        (summary.truncated > 0 ? `; ${summary.truncated} truncated or damaged (still being copied?), not indexed` : '') +
        (summary.symlinks > 0 ? `; ${count(summary.symlinks, 'symbolic link')} in folders not followed` : ''))
      if (summary.indexed > 0) maintainIndex(db)
      if (summary.indexed + summary.present > 0) return 0
      errLine(`earshot: ${firstSkip ?? 'EAR_ERR_NOT_AUDIO: nothing to index'}`)
      return 1
    } finally {
      progress.stop()
      await db.close()
    }
  },
}

/** Merge segments after a load, and say so when it took a while. */
function maintainIndex (db: LmdbIndex, compact = false): Maintenance {
  const started = performance.now()
  const done = db.maintain({ compact })
  const seconds = (performance.now() - started) / 1000
  if (done.merges > 0 || done.flushed > 0 || compact) {
    out(`index maintained in ${seconds.toFixed(1)} s: ${count(done.flushed, 'posting')} flushed, ${count(done.merges, 'merge')}, ${count(db.stats().segments ?? 0, 'segment')}`)
  }
  return done
}

const fingerprintCommand: Command = {
  summary: 'Fingerprint audio files and folders into a fingerprint file for earshot import (docs/FINGERPRINTS.md)',
  usage: '<files or folders...> --out FILE',
  positionals: [1, Infinity],
  options: {
    out: { type: 'string', description: 'The fingerprint file to write (must not exist)' },
    threads: { type: 'string', description: 'Worker threads (default: one per core)' },
    ...metadataFlag,
  },
  async run (values, inputs) {
    const file = values.out
    if (typeof file !== 'string' || file === '') throw earshotError('EAR_ERR_USAGE', '--out FILE is required')
    const threads = parseNumber('threads', values.threads, 1, 256, true)
    const metadata = await metadataOption(values.metadata)
    const dir = path.dirname(path.resolve(file))
    if (!fs.existsSync(dir)) throw earshotError('EAR_ERR_FILE_NOT_FOUND', dir)
    const writer = new FingerprintWriter(file, defaults.fingerprint)
    const progress = createProgress(terminal().stderr)
    let firstSkip: string | undefined
    let written = false
    try {
      const summary = await indexFiles(undefined, inputs, {
        params: defaults.fingerprint,
        limits: analyzeLimits(localSettings()),
        threads,
        metadata,
        keep: (meta, hashes) => writer.write(meta, hashes),
        onEvent: (e: IndexEvent) => {
          switch (e.type) {
            case 'found': progress.start(e.total); break
            case 'kept': progress.tick(`fingerprinted ${e.file} ${e.meta.title}`); break
            case 'skipped': firstSkip ??= e.reason; progress.skip(`skipped ${e.file}: ${e.reason}`); break
            case 'warning': progress.note(`warning ${e.file}: ${e.message}`); break
            default: break // counted in the summary
          }
        },
      })
      progress.stop()
      out(`fingerprinted ${summary.indexed}, skipped ${summary.skipped}; ` +
        `${(summary.audioSeconds / 3600).toFixed(2)} h of audio in ${summary.seconds.toFixed(1)} s to ${file}` +
        (summary.truncated > 0 ? `; ${summary.truncated} truncated or damaged (still being copied?), not fingerprinted` : '') +
        (summary.symlinks > 0 ? `; ${count(summary.symlinks, 'symbolic link')} in folders not followed` : ''))
      written = summary.indexed > 0
      if (written) return 0
      errLine(`earshot: ${firstSkip ?? 'EAR_ERR_NOT_AUDIO: nothing to fingerprint'}`)
      return 1
    } finally {
      progress.stop()
      writer.close()
      // A file with no tracks, or cut short by an error, would only mislead: remove it.
      if (!written) fs.rmSync(file, { force: true })
    }
  },
}

/** What `identify` prints for people: one line per match, best first, or "no match". */
function printIdentified (result: IdentifyResult): void {
  if (result.matches.length === 0) {
    out(`no match (${(result.queryDurationMs / 1000).toFixed(1)} s of audio, ${result.processingTimeMs} ms)`)
    return
  }
  for (const m of result.matches) {
    const speed = speedNote(m.speed)
    out(`#${m.id} ${m.artist ? `${m.artist} - ` : ''}${m.title}${m.album ? ` [${m.album}]` : ''} at ${m.offsetSeconds.toFixed(1)} s, ${speed ? `${speed}, ` : ''}confidence ${m.confidence.toFixed(2)}`)
  }
}

type IdentifyResult = ReturnType<Identifier['identify']>

/** The clip sent to a server's POST /v1/identify as a file upload (the server decodes it, by its name too). */
async function identifyRemote (values: Values, file: string): Promise<IdentifyResult> {
  let bytes: Buffer
  try { bytes = await fs.promises.readFile(file) } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw earshotError(code === 'ENOENT' ? 'EAR_ERR_FILE_NOT_FOUND' : 'EAR_ERR_NOT_AUDIO', file)
  }
  const form = new FormData()
  form.append('audio', new Blob([bytes as Uint8Array<ArrayBuffer>]), path.basename(file))
  return JSON.parse((await callApi(apiOptions(values), 'POST', '/v1/identify', form)).text) as IdentifyResult
}

const identify: Command = {
  summary: 'Identify an audio clip against the index, or against a running server\'s with --server; --segments: every song of a long recording',
  usage: '<file>',
  positionals: [1, 1],
  options: {
    ...dbOption,
    ...jsonOption,
    segments: { type: 'boolean', description: 'List every recognised segment of a long recording (an hour of air, a DJ set): start, end, track, offset, confidence' },
    csv: { type: 'boolean', description: 'With --segments: the segments as CSV' },
    'min-confidence': { type: 'string', description: `Report matches at or above this confidence, 0..1 (default ${defaults.minConfidence}; with --server, the server's setting, which this can only raise)` },
    server: { type: 'string', description: 'Ask this server (its POST /v1/identify, with its catalog) instead of the local index: http(s)://host:port' },
    token: apiFlags.token,
  },
  notes: ['Without --segments only the start of a file is examined (http.maxIdentifySeconds, 60 s); with it, up to http.maxRecordingSeconds (8 h).',
    'Exit status: 0 when the clip was examined, whether or not it matched ("no match", or `"matches":[]` with --json);',
    '1 when it could not be (a file that is missing or not audio, an index that cannot be read, a server that cannot be',
    'reached or refuses); 2 for a usage error.'],
  async run (values, [file]) {
    const local = localSettings()
    if (values.csv && !values.segments) throw earshotError('EAR_ERR_USAGE', '--csv goes with --segments')
    if (values.csv && values.json) throw earshotError('EAR_ERR_USAGE', '--csv and --json: choose one')
    if (values.segments) {
      if (values['min-confidence'] !== undefined) throw earshotError('EAR_ERR_USAGE', '--min-confidence does not go with --segments: a segment is a confirmed match')
      if (values.server !== undefined) {
        showSegments(await segmentsOnServer(values, file), values)
        return 0
      }
      // Read before the index is opened: a wrong path is the first thing to say.
      const bytes = await readFileBytes(file, local.catalog.maxFileBytes)
      const db = openIndex(values, true)
      try {
        showSegments(await segmentsHere(db, local, bytes, file), values)
      } finally {
        await db.close()
      }
      return 0
    }
    const minConfidence = parseNumber('min-confidence', values['min-confidence'], 0, 1, false) ?? local.minConfidence
    let result: IdentifyResult
    if (values.server !== undefined) {
      const remote = await identifyRemote(values, file)
      const floor = values['min-confidence'] === undefined ? 0 : minConfidence
      result = { ...remote, matches: remote.matches.filter((m) => m.confidence >= floor) }
    } else {
      const audio = await decodeFile(file, local.http.maxIdentifySeconds, local.ffmpegPath) // as the API: the start of a long file
      const db = openIndex(values, true)
      try {
        result = new Identifier(db, { ...local, minConfidence }).identify(audio.samples, audio.sampleRate)
      } finally {
        await db.close()
      }
    }
    if (values.json) outJson(result)
    else printIdentified(result)
    return 0
  },
}

/** A track's fields, one a line, as `tracks show` and `tracks edit` print them. */
function printTrack (t: Track): void {
  for (const [k, v] of Object.entries(t)) {
    // The length as the track table and the web page show it, with the seconds to a tenth.
    const text = k === 'durationSeconds' ? `${(v as number).toFixed(1)} (${length(v as number)})`
      : k === 'labels' ? labelsText(v as Record<string, string>)
        : Array.isArray(v) ? v.join(', ') : String(v)
    out(`${k.padEnd(16)}${text}`)
  }
}

/** The edit `tracks edit` flags make: an empty --isrc or --external-id removes it, --label KEY= removes a label. */
function editFromFlags (values: Values, labelFlags: readonly string[]): MetadataEdit {
  const edit: MetadataEdit = {}
  for (const f of ['title', 'artist', 'album'] as const) if (typeof values[f] === 'string') edit[f] = values[f] as string
  if (typeof values.isrc === 'string') edit.isrc = values.isrc === '' ? null : values.isrc
  if (typeof values['external-id'] === 'string') edit.externalId = values['external-id'] === '' ? null : values['external-id'] as string
  if (labelFlags.length > 0) {
    const labels: Record<string, string | null> = {}
    for (const flag of labelFlags) {
      const [key, value] = splitLabel(flag)
      if (value === undefined) throw earshotError('EAR_ERR_USAGE', `--label takes KEY=VALUE (KEY= removes the label), got '${flag}'`)
      labels[key] = value === '' ? null : value
    }
    edit.labels = labels
  }
  if (Object.keys(edit).length === 0) throw earshotError('EAR_ERR_USAGE', 'earshot tracks edit <id> needs a change: --title, --artist, --album, --isrc, --external-id or --label KEY=VALUE')
  return checkEdit(edit)
}

const tracks: Command = {
  summary: 'List (and search), show, edit or remove tracks: tracks list | show <id> | edit <id> | rm <id>',
  usage: 'list | show <id> | edit <id> | rm <id>',
  positionals: [1, 2],
  actions: ['list', 'show', 'edit', 'rm'],
  options: {
    ...dbOption,
    ...jsonOption,
    search: { type: 'string', description: 'list: only tracks whose title, artist, album, ISRC, external id or a label holds this text (any case)' },
    title: { type: 'string', description: 'edit: the title' },
    artist: { type: 'string', description: 'edit: the artist' },
    album: { type: 'string', description: 'edit: the album' },
    isrc: { type: 'string', description: 'list: only tracks with this ISRC; edit: set it (12 characters, CC-XXX-YY-NNNNN; \'\' removes it)' },
    'external-id': { type: 'string', description: 'list: only tracks with this external id; edit: set it (\'\' removes it)' },
    label: { type: 'string', multiple: true, description: 'list: only tracks with this label, KEY or KEY:VALUE; edit: set one, KEY=VALUE (KEY= removes it), as often as needed' },
  },
  notes: ['An edit is made by hand: indexing the file again, a metadata file or a changed file replacing the track keep',
    'what it set. A running server on the same index sees the change at once.'],
  async run (values, [action, arg], lists) {
    // A flag of another action would be silently ignored: say so instead.
    const given = [...Object.keys(values).filter((k) => values[k] !== undefined), ...(lists.label.length > 0 ? ['label'] : [])]
    const own: Record<string, readonly string[]> = { list: ['search', 'isrc', 'external-id', 'label'], edit: ['title', 'artist', 'album', 'isrc', 'external-id', 'label'] }
    const stray = given.find((k) => k !== 'db' && k !== 'json' && !(own[action] ?? []).includes(k))
    if (stray !== undefined) throw earshotError('EAR_ERR_USAGE', `earshot tracks ${action} takes no --${stray} (see earshot tracks --help)`)
    if (action === 'list' && arg === undefined) {
      if (lists.label.length > 1) throw earshotError('EAR_ERR_USAGE', 'tracks list takes one --label filter')
      const filter = trackFilter({ q: values.search as string | undefined, isrc: values.isrc as string | undefined, externalId: values['external-id'] as string | undefined, label: lists.label[0] })
      const db = openIndex(values, true)
      try {
        const all = [...findTracks(db, filter)]
        if (values.json) outJson({ tracks: all })
        else if (all.length === 0) out('no tracks')
        else for (const t of all) out(`#${t.id}\t${length(t.durationSeconds)}\t${t.artist ? `${t.artist} - ` : ''}${t.title}\t${t.source}`)
        return 0
      } finally { await db.close() }
    }
    if ((action === 'show' || action === 'rm' || action === 'edit') && arg !== undefined) {
      const id = parseTrackId(arg)
      // Checked before the index is opened for writing: a bad value changes nothing.
      const edit = action === 'edit' ? editFromFlags(values, lists.label) : undefined
      const db = openIndex(values, action === 'show')
      try {
        const t = db.getTrack(id)
        if (!t) throw earshotError('EAR_ERR_TRACK_NOT_FOUND', id)
        if (action === 'rm') {
          db.removeTrack(id)
          if (values.json) outJson({ removed: t })
          else out(`removed #${id} ${t.title}`)
        } else if (edit !== undefined) {
          const edited = db.updateTrack(id, (track) => applyEdit(track, edit, true))
          if (!edited) throw earshotError('EAR_ERR_TRACK_NOT_FOUND', id)
          if (values.json) outJson(edited)
          else printTrack(edited)
        } else if (values.json) {
          outJson(t)
        } else {
          printTrack(t)
        }
        return 0
      } finally { await db.close() }
    }
    throw earshotError('EAR_ERR_USAGE', `earshot tracks ${this.usage}`)
  },
}

const stats: Command = {
  summary: 'Show index statistics',
  usage: '',
  positionals: [0, 0],
  options: { ...dbOption, ...jsonOption },
  async run (values) {
    const db = openIndex(values, true)
    try {
      const s = db.stats()
      if (values.json) { outJson(s); return 0 }
      out(`tracks              ${s.tracks}`)
      out(`audio               ${(s.audioSeconds / 3600).toFixed(2)} h`)
      out(`postings            ${s.postings}`)
      out(`distinct hashes     ${s.distinctHashes}`)
      out(`segments            ${s.segments ?? 0}`)
      out(`live postings       ${s.livePostings ?? 0}`)
      out(`removed, unmerged   ${s.tombstones ?? 0}`)
      out(`on disk             ${formatBytes(s.bytesOnDisk)}`)
      out(`in use              ${formatBytes(s.bytesInUse ?? s.bytesOnDisk)}`)
      out(`per audio second    ${formatBytes(s.bytesPerAudioSecond)}`)
      return 0
    } finally { await db.close() }
  },
}

const exportCommand: Command = {
  summary: 'Write a consistent backup of the index to a file (safe while a server reads it)',
  usage: '<file>',
  positionals: [1, 1],
  options: { ...dbOption },
  async run (values, [file]) {
    if (fs.existsSync(file)) throw earshotError('EAR_ERR_USAGE', `${file} exists; earshot export does not overwrite`)
    const dir = path.dirname(path.resolve(file))
    if (!fs.existsSync(dir)) throw earshotError('EAR_ERR_FILE_NOT_FOUND', dir)
    const db = openIndex(values, true)
    try {
      await db.backup(file)
      out(`exported ${count(db.stats().tracks, 'track')} to ${file}`)
      return 0
    } finally { await db.close() }
  },
}

const importCommand: Command = {
  summary: 'Add the tracks of a backup made by earshot export, or of a file made by earshot fingerprint (tracks already present are skipped)',
  usage: '<file>',
  positionals: [1, 1],
  options: { ...dbOption },
  async run (values, [file]) {
    if (!fs.existsSync(file)) throw earshotError('EAR_ERR_FILE_NOT_FOUND', file)
    if (isFingerprintFile(file)) {
      // Read it through once before writing, so a truncated or garbled file leaves the index as it was.
      checkFingerprintFile(file, defaults.fingerprint)
      const db = openIndex(values, false)
      try {
        const bulk = db.bulkWriter()
        let added = 0
        let present = 0
        for (const { meta, hashes } of readFingerprintFile(file, defaults.fingerprint)) {
          if (bulk.add(meta, hashes).added) added++
          else present++
        }
        bulk.finish()
        out(`imported ${count(added, 'track')}, ${present} already present`)
        maintainIndex(db)
        return 0
      } finally { await db.close() }
    }
    const source = LmdbIndex.openBackup(file, defaults.fingerprint)
    try {
      const db = openIndex(values, false)
      try {
        const bulk = db.bulkWriter()
        let added = 0
        let present = 0
        for (const { track: t, list } of source.fingerprints()) {
          // Everything of the row but what the index gives a track, and the file details of another machine's disk.
          const { id: _id, indexedAt: _at, hashCount: _hashes, frameCount: _frames, fileBytes: _bytes, fileModified: _modified, ...meta } = t
          if (bulk.add(meta, list).added) added++
          else present++
        }
        bulk.finish()
        out(`imported ${count(added, 'track')}, ${present} already present`)
        maintainIndex(db)
        return 0
      } finally { await db.close() }
    } finally { await source.close() }
  },
}

const compactCommand: Command = {
  summary: 'Merge the index into one segment, then rewrite its file without free pages if no other process has it open',
  usage: '',
  positionals: [0, 0],
  options: { ...dbOption },
  async run (values) {
    const db = openIndex(values, false)
    let open = true
    try {
      maintainIndex(db, true)
      const shrunk = await db.shrinkFile()
      open = false
      if ('busy' in shrunk) {
        open = true
        out(`the file keeps its free pages: ${shrunk.busy.length === 1 ? 'process' : 'processes'} ${shrunk.busy.join(', ')} ${shrunk.busy.length === 1 ? 'has' : 'have'} the index open (run earshot compact again when they are stopped)`)
      } else {
        out(`file rewritten without free pages: ${formatBytes(shrunk.before)} -> ${formatBytes(shrunk.after)}`)
      }
      return 0
    } finally { if (open) await db.close() }
  },
}

const checkCommand: Command = {
  summary: 'Read every page of the index and say whether it is damaged (what every open does first)',
  usage: '',
  positionals: [0, 0],
  options: { ...dbOption },
  async run (values) {
    const started = performance.now()
    const db = openIndex(values, true)
    try {
      const s = db.stats()
      out(`${db.dir}: no damage found in ${formatBytes(s.bytesOnDisk)} (${count(s.tracks, 'track')}, ${count(s.segments ?? 0, 'segment')}) in ${((performance.now() - started) / 1000).toFixed(1)} s`)
      return 0
    } finally { await db.close() }
  },
}

const migrateCommand: Command = {
  summary: 'Upgrade an index of an older format in place (format 1: postings move into a segment)',
  usage: '',
  positionals: [0, 0],
  options: { ...dbOption },
  async run (values) {
    const dir = resolveDb(values.db as string | undefined)
    const result = LmdbIndex.migrate(dir, defaults.fingerprint)
    out(result.from === result.to
      ? `${dir} is already format ${result.to}; nothing to do`
      : `${dir} upgraded from format ${result.from} to ${result.to}: ${count(result.tracks, 'track')}, ${count(result.postings, 'posting')} in ${result.seconds.toFixed(1)} s`)
    return 0
  },
}

/** The settings `serve` takes as flags: each is defined, described and checked by its setting's schema (config/schema.ts). */
const SETTING_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  'max-sessions': 'stream.maxSessions',
  'max-frame-bytes': 'stream.maxFrameBytes',
  'max-session-seconds': 'stream.maxSessionSeconds',
  'idle-timeout': 'stream.idleTimeoutMs',
  'hello-timeout': 'stream.helloTimeoutMs',
  'ffmpeg-path': 'ffmpegPath',
  workers: 'workers',
  cluster: 'cluster.natsUrl',
  node: 'cluster.node',
  // No flag for tls.passphrase: a command line is visible to every user of the machine (ps).
  'tls-cert': 'tls.cert',
  'tls-key': 'tls.key',
})

const settingFlags: Command['options'] = Object.fromEntries(Object.entries(SETTING_FLAGS).map(([flag, path]) => {
  const { schema } = settingAt(path)
  return [flag, { type: 'string', description: `${String(schema.description)} (${path}; default ${schema.default === '' ? 'none' : String(schema.default)})` }]
}))

const serveCommand: Command = {
  summary: 'Run the server: WebSocket streams on /v1/stream, the HTTP API on /v1, monitors',
  usage: '',
  positionals: [0, 0],
  options: {
    ...dbOption,
    port: { type: 'string', description: 'TCP port (default 8080; 0 picks a free one)' },
    host: { type: 'string', description: 'Interface to listen on (default 127.0.0.1)' },
    transport: { type: 'string', description: 'uws (default) or ws' },
    ...settingFlags,
    config: { type: 'string', description: 'JSON settings file: tokens, webhooks, limits (default $EARSHOT_CONFIG)' },
    'log-level': { type: 'string', description: 'fatal, error, warn, info (default), debug, trace or silent (default $EARSHOT_LOG_LEVEL)' },
  },
  async run (values) {
    let logLevel
    try { logLevel = resolveLogLevel(values['log-level'] as string | undefined) } catch (err) { throw earshotError('EAR_ERR_USAGE', (err as Error).message) }
    const port = parseNumber('port', values.port, 0, 65535, true) ?? 8080
    const host = (values.host as string | undefined) ?? '127.0.0.1'
    const transport = (values.transport as string | undefined) ?? 'uws'
    if (transport !== 'uws' && transport !== 'ws') throw earshotError('EAR_ERR_USAGE', `--transport must be uws or ws, got '${transport}'`)
    const flags: Record<string, unknown> = {}
    for (const [flag, path] of Object.entries(SETTING_FLAGS)) {
      const text = values[flag]
      if (typeof text === 'string') flags[path] = settingFromText(settingAt(path), text, `--${flag}`, 'EAR_ERR_USAGE')
    }
    // One stream engine per core unless the flag, a variable or the file says otherwise.
    const settings = loadSettings({ ...defaults, workers: availableParallelism() }, values.config as string | undefined, process.env, flags)
    const db = openIndex(values, false)
    // Loaded when run: the server's modules (transports, HTTP, workers) are most of the program's start-up time, and
    // the other commands need none of them.
    const { serve } = await import('./serve.js')
    await serve(db, { port, host, transport, settings, logLevel })
    return 0
  },
}

const streamCommand: Command = {
  summary: 'Stream a file, folder, URL or - (standard input) to a server and print match events',
  usage: '<file | folder | URL | -> [more...]',
  positionals: [1, Infinity],
  options: {
    ...serverFlag,
    realtime: { type: 'boolean', description: 'Send at real-time pace (default: as fast as the server takes it)' },
    label: { type: 'string', description: 'Label of the stream (default: the source name)' },
    'stream-id': { type: 'string', description: 'Stream id to report with the session' },
    json: { type: 'boolean', description: 'Print each event as it comes, one JSON object per line (the protocol\'s messages, with the input\'s name)' },
  },
  notes: ['The stream path /v1/stream is added to the server\'s address (http:// becomes ws://, https:// wss://); an address',
    'that already ends in it is taken as it is. Exit status: 0 when every input was streamed, 1 when one could not be',
    '(it is skipped with a line on stderr) or the server cannot be reached, 2 for a usage error.'],
  async run (values, sources) {
    const server = serverAddress(values).ws
    const { streamSources } = await import('./stream.js')
    return streamSources(sources, {
      server,
      ffmpegPath: localSettings().ffmpegPath,
      realtime: values.realtime === true,
      json: values.json === true,
      label: values.label as string | undefined,
      streamId: values['stream-id'] as string | undefined,
      out,
    })
  },
}

const publishCommand: Command = {
  summary: 'Ship the index to a cluster: a consistent copy put into NATS, which every node loads, one at a time, without the cluster stopping',
  usage: '',
  positionals: [0, 0],
  options: {
    ...dbOption,
    cluster: { type: 'string', description: 'NATS URL of the cluster (default: cluster.natsUrl, from $EARSHOT_CONFIG or $EARSHOT_CLUSTER_NATS_URL)' },
    ...jsonOption,
  },
  async run (values) {
    const settings = localSettings()
    const natsUrl = (values.cluster as string | undefined) ?? settings.cluster.natsUrl
    if (natsUrl === '') throw earshotError('EAR_ERR_USAGE', 'earshot publish needs the cluster: --cluster nats://HOST:4222 (or cluster.natsUrl)')
    const db = openIndex(values, true)
    const file = path.join(db.dir, `publish-${process.pid}.mdb`)
    // Loaded when run: the NATS client is needed by this command and by cluster nodes only.
    const { ClusterLink } = await import('../cluster/link.js')
    const { publishIndex } = await import('../cluster/index-artifacts.js')
    const { silentLogger } = await import('../log.js')
    try {
      const tracks = db.stats().tracks
      await db.backup(file)
      const link = await ClusterLink.open({ ...settings.cluster, natsUrl }, silentLogger)
      try {
        const version = await publishIndex(link, file, tracks)
        if (values.json === true) outJson({ version, tracks, bytes: fs.statSync(file).size })
        else out(`published ${count(tracks, 'track')} as index version ${version}; the nodes load it one at a time`)
      } finally { await link.close() }
      return 0
    } finally {
      fs.rmSync(file, { force: true })
      await db.close()
    }
  },
}

export const commands: Record<string, Command> = {
  demo: demoCommand,
  stream: streamCommand,
  index,
  fingerprint: fingerprintCommand,
  identify,
  tracks,
  stats,
  export: exportCommand,
  import: importCommand,
  backup: backupCommand,
  publish: publishCommand,
  compact: compactCommand,
  migrate: migrateCommand,
  check: checkCommand,
  serve: serveCommand,
  monitor: monitorCommand,
  jobs: jobsCommand,
  plays: playsCommand,
}
