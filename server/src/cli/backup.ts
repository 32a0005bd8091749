/**
 * `earshot backup <folder>`: a consistent copy of everything a server keeps, while it serves. The folder comes out as
 * an index folder: `<folder>/data.mdb` (the index) and `<folder>/server/data.mdb` (the server state: monitors, play
 * log, webhook queue), so restoring is serving it (`earshot serve --db <folder>`) or copying it back.
 *
 * Each file is one LMDB read transaction, consistent in itself; the two are taken one after the other, so a play
 * filed in between may name a track added after the index's copy, which the play log allows (rows copy their
 * track's title and artist).
 */
import fs from 'node:fs'
import path from 'node:path'
import { dbOption, jsonOption, type Command } from './command.js'
import { defaults, resolveDb } from '../config/defaults.js'
import { earshotError, wrapError } from '../errors.js'
import { LmdbIndex, backupEnvironment } from '../index/lmdb-index.js'
import { openChecked } from '../index/lmdb-check.js'
import { stateDirOf } from '../state/state-store.js'
import { out, outJson } from './terminal-text.js'
import { count } from './format.js'

export const backupCommand: Command = {
  summary: 'Copy the index and the server state (monitors, play log, webhook queue) into a new folder, consistently, while a server runs',
  usage: '<folder>',
  positionals: [1, 1],
  options: {
    ...dbOption,
    ...jsonOption,
  },
  async run (values, [target]) {
    if (fs.existsSync(target) && fs.readdirSync(target).length > 0) throw earshotError('EAR_ERR_USAGE', `${target} exists and is not empty; earshot backup writes a new folder`)
    const parent = path.dirname(path.resolve(target))
    if (!fs.existsSync(parent)) throw earshotError('EAR_ERR_FILE_NOT_FOUND', parent)
    const db = resolveDb(values.db as string | undefined)
    const index = LmdbIndex.open(db, defaults.fingerprint, { readOnly: true })
    const started = performance.now()
    fs.mkdirSync(target, { recursive: true })
    let tracks: number
    try {
      tracks = index.stats().tracks
      await index.backup(path.join(target, 'data.mdb'))
    } finally { await index.close() }
    let state = false
    const stateDir = stateDirOf(db)
    if (fs.existsSync(path.join(stateDir, 'data.mdb'))) {
      let root
      try {
        root = openChecked({ path: stateDir, maxDbs: 16, readOnly: true }, { create: false })
      } catch (err) {
        throw wrapError('EAR_ERR_INDEX_OPEN', err, stateDir)
      }
      try {
        fs.mkdirSync(stateDirOf(target))
        await backupEnvironment(root, path.join(stateDirOf(target), 'data.mdb'))
        state = true
      } finally { await root.close() }
    }
    const bytes = fs.statSync(path.join(target, 'data.mdb')).size + (state ? fs.statSync(path.join(stateDirOf(target), 'data.mdb')).size : 0)
    const seconds = (performance.now() - started) / 1000
    if (values.json === true) outJson({ folder: target, tracks, state, bytes, seconds: Math.round(seconds * 100) / 100 })
    else out(`backed up ${count(tracks, 'track')}${state ? ' and the server state' : ' (no server state yet)'} to ${target} (${(bytes / 1024 / 1024).toFixed(1)} MB in ${seconds.toFixed(1)} s); serve it with earshot serve --db ${target}`)
    return 0
  },
}
