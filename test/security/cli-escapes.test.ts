/**
 * Terminal escape sequences in tags: a title, artist, album, monitor label or streamId can hold escape sequences
 * that a terminal acts on (retitle the window, clear the screen, rewrite lines, plant links). Every CLI printer
 * strips them: `earshot index` progress, `tracks list|show`, `identify`, `stream`, `plays`, `plays --daily`,
 * `monitor list`; --json keeps every character, escaped.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { defaultFingerprint } from '../../server/src/config/fingerprint.js'
import { LmdbIndex } from '../../server/src/index/lmdb-index.js'
import type { Play } from '../../server/src/playlog/play-log.js'
import type { Track } from '../../server/src/index/types.js'
import { jsonText, terminalText } from '../../server/src/cli/terminal-text.js'
import { childEnv, runEarshot, type Run } from '../helpers/child-env.js'
import { earshotInProcess } from '../helpers/cli-in-process.js'
import { clip, song, writeWav } from '../helpers/signals.js'
import { allowLoopback, freePort, startServer, testSettings } from '../helpers/stream-helpers.js'

/** OSC window title, clear screen, colour, 8-bit CSI, a bell and a bare CR that would hide the start of the line. */
const HOSTILE = 'x\x1b]0;owned\x07\x1b[2J\x1b[1;31mred\x9b2J\x07\x1b[0m\rend'
/** The same with an OSC 8 hyperlink (its URL has slashes, so it cannot be a file name). */
const HOSTILE_LINK = `${HOSTILE}\x1b]8;;http://attacker.example/\x1b\\link\x1b]8;;\x1b\\`
/** Anything a terminal acts on: C0 controls but tab and LF, DEL, C1; a CR only as part of CRLF. */
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)/

function assertClean (t: Test, r: Run, what: string): void {
  t.equal(r.code, 0, `${what}: exit 0 (${r.stderr.trim()})`)
  t.notOk(CONTROL.test(r.stdout), `${what}: no control character on stdout ${JSON.stringify(r.stdout.slice(0, 300))}`)
  t.notOk(CONTROL.test(r.stderr), `${what}: no control character on stderr ${JSON.stringify(r.stderr.slice(0, 300))}`)
}

t.test('terminalText strips sequences and controls, keeps text, tabs and line ends; jsonText keeps every character', async (t) => {
  t.equal(terminalText(HOSTILE), 'xredend')
  t.equal(terminalText(HOSTILE_LINK), 'xredendlink')
  t.equal(terminalText('a\tb\r\nc\nd'), 'a\tb\r\nc\nd', 'tabs, CRLF and LF stay')
  t.equal(terminalText('Motörhead — Ace of Spades ♠'), 'Motörhead — Ace of Spades ♠', 'text beyond ASCII stays')
  t.equal(terminalText('open\x1b]0;never closed'), 'open', 'an unterminated string hides the rest')
  const json = jsonText({ title: HOSTILE })
  t.notOk(CONTROL.test(json), 'JSON text holds no control character')
  t.same(JSON.parse(json), { title: HOSTILE }, 'and reads back exactly')
})

t.test('every CLI printer strips escape sequences from tags, labels and stream ids', async (t) => {
  const dir = t.testdir()
  // Commands run in this process (runCli, printing through the same terminal text as the program); `earshot index`
  // runs as the program itself in a child process, as a user sees it.
  const run = (args: string[]): Promise<Run> => earshotInProcess(dir, args)
  const child = (args: string[]): Promise<Run> => runEarshot(dir, args, childEnv({}, ['EARSHOT_DB', 'EARSHOT_DEBUG', 'EARSHOT_TOKEN', 'EARSHOT_SERVER']))
  // The file name stands in for missing tags: the track's title is HOSTILE.
  fs.mkdirSync(path.join(dir, 'music'))
  const rate = 22050
  writeWav(path.join(dir, 'music', `${HOSTILE}.wav`), song(3, 20, rate), rate)
  writeWav(path.join(dir, 'clip.wav'), clip(song(3, 20, rate), rate, 4, 8), rate)

  const indexed = await child(['index', 'music', '--db', 'db'])
  assertClean(t, indexed, 'earshot index')
  t.match(indexed.stdout, /^indexed 1,/)
  const list = await run(['tracks', 'list', '--db', 'db'])
  assertClean(t, list, 'tracks list')
  t.match(list.stdout, /xredend/, 'the visible text of the title stays')
  assertClean(t, await run(['tracks', 'show', '1', '--db', 'db']), 'tracks show')
  const shown = await run(['tracks', 'show', '1', '--db', 'db', '--json'])
  assertClean(t, shown, 'tracks show --json')
  t.equal((JSON.parse(shown.stdout) as Track).title, HOSTILE, '--json gives the title back exactly')
  const identified = await run(['identify', 'clip.wav', '--db', 'db'])
  assertClean(t, identified, 'identify')
  t.match(identified.stdout, /#1 xredend at/)

  // A server on the same index: a client stream and a monitor with hostile names.
  const index = LmdbIndex.open(path.join(dir, 'db'), defaultFingerprint)
  t.teardown(() => index.close())
  const { server, url, http } = await startServer(t, 'ws', index, allowLoopback(testSettings()))
  const streamed = await run(['stream', 'clip.wav', '--server', url])
  assertClean(t, streamed, 'stream')
  t.match(streamed.stdout, /confirmed #1 xredend/)

  const log = server.services.plays
  const startedAt = new Date(Date.now() - 60_000).toISOString()
  const p = log.open({ stream: HOSTILE_LINK, kind: 'client', trackId: 1, title: HOSTILE_LINK, artist: HOSTILE_LINK, album: HOSTILE_LINK, startedAt, startStreamSeconds: 0, startOffsetSeconds: 0, peakConfidence: 0.9 })
  log.close(p.id, { endedAt: new Date().toISOString(), endStreamSeconds: 60, endOffsetSeconds: 60 })
  await log.flushed()
  const plays = await run(['plays', '--server', http])
  assertClean(t, plays, 'plays')
  t.match(plays.stdout, /xredendlink {2}xredendlink — xredendlink/, 'stream, title and artist keep their visible text')
  assertClean(t, await run(['plays', '--csv', '--server', http]), 'plays --csv')
  assertClean(t, await run(['plays', '--daily', '--server', http]), 'plays --daily')
  assertClean(t, await run(['plays', '--daily', '--csv', '--server', http]), 'plays --daily --csv')
  const json = await run(['plays', '--json', '--server', http])
  assertClean(t, json, 'plays --json')
  t.equal((JSON.parse(json.stdout) as { plays: Play[] }).plays[0].title, HOSTILE_LINK, '--json gives the title back exactly')

  // A monitor of a closed port: its label is hostile, and its state line shows the error.
  const refused = `http://127.0.0.1:${await freePort()}/live.mp3`
  const added = await fetch(`${http}/v1/monitors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: refused, label: HOSTILE_LINK }) })
  t.equal(added.status, 201)
  const monitors = await run(['monitor', 'list', '--server', http])
  assertClean(t, monitors, 'monitor list')
  t.match(monitors.stdout, /xredendlink/)
})
