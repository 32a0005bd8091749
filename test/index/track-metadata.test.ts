/**
 * The rules of a track's catalog metadata (index/track-metadata.ts): ISRCs normalised or refused, every limit just
 * past its bound, edits merged key by key, hand edits kept by every later edit and by a changed file's new track.
 */
import t, { type Test } from 'tap'
import { EarshotError } from '../../server/src/errors.js'
import {
  applyEdit, carryOver, catalogFields, checkEdit, isrcFromTag, MAX_EXTERNAL_ID, MAX_LABEL_KEY, MAX_LABEL_VALUE, MAX_LABELS,
  metadataDiffers, normaliseIsrc, splitLabel,
} from '../../server/src/index/track-metadata.js'
import { trackFilter, matchesFilter } from '../../server/src/index/track-filter.js'
import type { NewTrack, Track } from '../../server/src/index/types.js'

function refused (t: Test, fn: () => unknown, pattern: RegExp, what: string): void {
  try {
    fn()
    t.fail(`${what}: refused`)
  } catch (err) {
    t.ok(err instanceof EarshotError && err instanceof TypeError, `${what}: an EarshotError and a TypeError`)
    t.equal((err as EarshotError).code, 'EAR_ERR_BAD_METADATA', `${what}: EAR_ERR_BAD_METADATA`)
    t.match((err as Error).message, pattern, `${what}: ${(err as Error).message}`)
  }
}

const track: Track = {
  id: 7, title: 'Harbour Lights', artist: 'Example Artist', album: 'Low Tide', durationSeconds: 231.4, source: '/music/a.flac',
  digest: 'd', indexedAt: '2026-01-01T00:00:00.000Z', hashCount: 10, frameCount: 100,
}

t.test('ISRCs: dashes, spaces and case do not matter; any other shape is refused with the value and the shape', async (t) => {
  t.equal(normaliseIsrc('US-RC1-76-07839'), 'USRC17607839')
  t.equal(normaliseIsrc('us rc1 76 07839'), 'USRC17607839')
  t.equal(normaliseIsrc('GBAYE0601498'), 'GBAYE0601498')
  for (const bad of ['', 'USRC1760783', 'USRC176078390', '1SRC17607839', 'USRC1760783X', 'US_RC1_76_07839', 'ÜSRC17607839']) {
    refused(t, () => normaliseIsrc(bad), /is not an ISRC \(12 characters: CC-XXX-YY-NNNNN/, JSON.stringify(bad))
  }
  refused(t, () => normaliseIsrc('nope', 'tracks.csv line 4, isrc'), /^Bad track metadata: tracks\.csv line 4, isrc: "nope" is not an ISRC/, 'where it was is named first')
  t.same(isrcFromTag(' us-rc1-76-07839 '), { isrc: 'USRC17607839' }, 'a tag is read the same way')
  t.match(isrcFromTag('unknown'), { problem: /the ISRC tag: "unknown" is not an ISRC/ }, 'a bad tag gives a reason, not an error')
})

t.test('edits: checked and normalised, every limit refused just past it', async (t) => {
  t.same(checkEdit({ isrc: 'us-rc1-76-07839', externalId: ' cat-87 ', labels: { Genre: ' jazz ', mood: null } }),
    { isrc: 'USRC17607839', externalId: 'cat-87', labels: { genre: 'jazz', mood: null } }, 'keys lower-cased, values trimmed, nulls kept')
  t.same(checkEdit({ isrc: null, externalId: null, labels: null }), { isrc: null, externalId: null, labels: null })
  t.same(checkEdit({}), {})
  const many = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))
  t.equal(Object.keys(checkEdit({ labels: many(MAX_LABELS) }).labels ?? {}).length, MAX_LABELS, `${MAX_LABELS} labels`)
  refused(t, () => checkEdit({ labels: many(MAX_LABELS + 1) }), /more than 32 labels/, `${MAX_LABELS + 1} labels`)
  t.ok(checkEdit({ labels: { ['k'.repeat(MAX_LABEL_KEY)]: 'v' } }), `a key of ${MAX_LABEL_KEY}`)
  refused(t, () => checkEdit({ labels: { ['k'.repeat(MAX_LABEL_KEY + 1)]: 'v' } }), /label key/, `a key of ${MAX_LABEL_KEY + 1}`)
  for (const key of ['', ' ', '-x', 'a b', 'a:b', 'a=b', 'é']) refused(t, () => checkEdit({ labels: { [key]: 'v' } }), /label key/, `the key ${JSON.stringify(key)}`)
  refused(t, () => checkEdit({ labels: { Genre: 'a', genre: 'b' } }), /given twice/, 'one key in two cases')
  t.ok(checkEdit({ labels: { k: 'v'.repeat(MAX_LABEL_VALUE) } }), `a value of ${MAX_LABEL_VALUE}`)
  refused(t, () => checkEdit({ labels: { k: 'v'.repeat(MAX_LABEL_VALUE + 1) } }), /label k: the value is longer than 256/, `a value of ${MAX_LABEL_VALUE + 1}`)
  refused(t, () => checkEdit({ labels: { k: '  ' } }), /must not be empty/, 'a blank value')
  refused(t, () => checkEdit({ labels: { k: 'a\nb' } }), /control character/, 'a line break in a value')
  t.ok(checkEdit({ externalId: 'x'.repeat(MAX_EXTERNAL_ID) }), `an external id of ${MAX_EXTERNAL_ID}`)
  refused(t, () => checkEdit({ externalId: 'x'.repeat(MAX_EXTERNAL_ID + 1) }), /externalId: the external id is longer than 200/, `an external id of ${MAX_EXTERNAL_ID + 1}`)
  refused(t, () => checkEdit({ externalId: '' }), /must not be empty/, 'an empty external id (null removes it)')
  refused(t, () => checkEdit({ title: 't'.repeat(501) }), /title: longer than 500/, 'a title of 501')
})

t.test('applyEdit: fields set or removed, labels merged key by key, hand edits listed and kept', async (t) => {
  const a = applyEdit(track, checkEdit({ isrc: 'USRC17607839', labels: { mood: 'calm', genre: 'jazz' } }), false)
  t.same(a.labels, { genre: 'jazz', mood: 'calm' }, 'labels in key order')
  t.equal(a.editedFields, undefined, 'not by hand: nothing listed')
  t.equal(track.labels, undefined, 'the track given is not changed')
  const b = applyEdit(a, checkEdit({ labels: { mood: null, era: '1970s' }, externalId: 'cat-87' }), true)
  t.same(b.labels, { era: '1970s', genre: 'jazz' }, 'a key set to null goes, the others stay')
  t.same(b.editedFields, ['externalId', 'labels'], 'the fields a hand edit names')
  const c = applyEdit(b, checkEdit({ labels: null, isrc: null }), true)
  t.equal(c.labels, undefined, 'labels: null removes them all')
  t.equal(c.isrc, undefined, 'isrc: null removes it')
  t.same(c.editedFields, ['externalId', 'isrc', 'labels'], 'a removal is a hand edit too: tags will not bring it back')
  const d = applyEdit(c, checkEdit({ isrc: 'GBAYE0601498', externalId: 'other', title: 'New title', labels: { genre: 'pop' } }), false)
  t.equal(d.isrc, undefined, 'an edit not by hand leaves a hand-edited field alone')
  t.equal(d.externalId, 'cat-87')
  t.equal(d.labels, undefined)
  t.equal(d.title, 'New title', 'and sets the others')
  const full = applyEdit(track, { labels: Object.fromEntries(Array.from({ length: MAX_LABELS }, (_, i) => [`k${i}`, 'v'])) }, false)
  refused(t, () => applyEdit(full, { labels: { more: 'v' } }, true), /at most 32 labels/, 'a merge past the limit')
  t.notOk(metadataDiffers(a, applyEdit(a, {}, false)), 'an empty edit changes nothing')
  t.ok(metadataDiffers(a, b))
})

t.test('carryOver: what a changed file says is read again, what it cannot say and hand edits stay', async (t) => {
  const old: Track = { ...track, isrc: 'USRC17607839', externalId: 'cat-87', labels: { genre: 'jazz', mood: 'calm' }, title: 'Hand Title', editedFields: ['title'] }
  const fresh: NewTrack = { title: 'Tag Title', artist: 'Tag Artist', album: '', durationSeconds: 200, source: '/music/a.flac', digest: 'e', labels: { mood: 'bright' } }
  const next = carryOver(old, fresh)
  t.equal(next.title, 'Hand Title', 'a hand-edited title stays')
  t.equal(next.artist, 'Tag Artist', 'the rest of the tags are read again')
  t.equal(next.isrc, undefined, 'an ISRC the new file does not hold is gone (it may have been the old file\'s tag)')
  t.equal(next.externalId, 'cat-87', 'the external id stays with the path')
  t.same(next.labels, { genre: 'jazz', mood: 'bright' }, 'labels stay, the new metadata file\'s over them')
  t.same(next.editedFields, ['title'])
  const handIsrc = carryOver({ ...old, isrc: undefined, editedFields: ['isrc', 'labels'] }, { ...fresh, isrc: 'GBAYE0601498' })
  t.equal(handIsrc.isrc, undefined, 'an ISRC removed by hand stays removed whatever the tags say')
  t.same(handIsrc.labels, { genre: 'jazz', mood: 'calm' }, 'labels edited by hand stay as they were')
})

t.test('catalogFields and splitLabel', async (t) => {
  t.same(catalogFields(track), {}, 'nothing when the track has none')
  t.same(catalogFields({ isrc: 'USRC17607839', labels: {} }), { isrc: 'USRC17607839' }, 'empty labels are none')
  t.same(splitLabel('genre=jazz'), ['genre', 'jazz'])
  t.same(splitLabel('genre:jazz=x'), ['genre', 'jazz=x'], 'cut at the first separator')
  t.same(splitLabel('genre'), ['genre', undefined])
})

t.test('filters: normalised; text, ISRC, external id and label each narrow', async (t) => {
  const x: Track = { ...track, isrc: 'USRC17607839', externalId: 'cat-87', labels: { genre: 'Jazz' } }
  t.same(trackFilter({ q: '  ', isrc: ' ', label: '' }), {}, 'empty parts are left out')
  t.same(trackFilter({ isrc: 'us-rc1-76-07839', label: 'Genre:jazz' }), { isrc: 'USRC17607839', label: { key: 'genre', value: 'jazz' } })
  refused(t, () => trackFilter({ isrc: 'nope' }), /not an ISRC/, 'a filter by something that cannot be an ISRC')
  refused(t, () => trackFilter({ label: 'genre:' }), /key or key:value/, 'a label filter with an empty value')
  const yes = (q: Parameters<typeof trackFilter>[0]): boolean => matchesFilter(x, trackFilter(q))
  t.ok(yes({ q: 'harbour' }) && yes({ q: 'cat-8' }) && yes({ q: 'genre:jazz' }) && yes({ q: 'us-rc1' }), 'text finds the title, the external id, a label and a dashed ISRC')
  t.notOk(yes({ q: 'tide', isrc: 'GBAYE0601498' }), 'every part must hold')
  t.ok(yes({ label: 'genre' }) && yes({ label: 'genre=JAZZ' }), 'a label by key, or key and value in any case')
  t.notOk(yes({ label: 'genre:pop' }) || yes({ label: 'mood' }) || yes({ externalId: 'CAT-87' }), 'another value, another key, an external id in another case')
})
