/**
 * Opening an LMDB environment only after its file has been checked: a path in, an open RootDatabase out, or an
 * error saying what is wrong with the file.
 *
 * LMDB maps its data file and trusts it. A file shorter than its meta page says gives SIGBUS, bytes that are not
 * LMDB give SIGSEGV, and a page that points elsewhere than it should gives SIGSEGV, SIGBUS or an assertion abort in
 * the middle of a read: signals no JavaScript can catch. So the file is first read here with plain reads, the way
 * `mdb_env_read_header` and `mdb_stat` read it:
 *  - both meta pages: page flags, magic, format version, page size, and the newest one's last page against the size
 *    of the file;
 *  - every page reachable from the newest meta page (the free-page tree, the main tree and each named database's
 *    tree): page number, page type for its depth, node table and node bounds, child and overflow page numbers within
 *    the file, no page reached twice, and the page and entry counts the database records.
 * Every page, segments' leaves included: with only their branch pages checked, noise in a leaf page made LMDB abort
 * on an assertion in a lookup (tried with 65 damaged leaves of a bulk-loaded index). The walk also warms the page
 * cache that queries need.
 * The main tree is checked before LMDB maps the file (opening reads it); the rest inside a read transaction, which
 * keeps a concurrent writer in another process from reusing the pages being read.
 *
 * Refused, never re-initialised: a data file of 0 bytes, or a folder with a lock file and no data file; LMDB would
 * silently make a new, empty environment of them.
 *
 * Layout of lmdb-js's LMDB build (mdb.c, 64-bit): a page starts with a 24-byte header, pgno u64 @0, txnid u64 @8,
 * pad u16 @16, flags u16 @18, lower u16 @20 and upper u16 @22 (or, on overflow pages, a u32 page count @20); node
 * offsets (u16) follow the header and count from its end. A meta page holds after its header: magic u32 @24, version
 * u32 @28, address @32, map size @40, the free and main databases (48 bytes each) @48 and @96, last page u64 @144 and
 * transaction id u64 @152. A database record: pad u32 @0 (the page size, in the free database's), flags u16 @4, depth
 * u16 @6, branch, leaf and overflow page counts u64 @8, @16, @24, entries u64 @32, root page u64 @40.
 */
import fs from 'node:fs'
import path from 'node:path'
import { open, type RootDatabase, type RootDatabaseOptionsWithPath } from 'lmdb'

const HEADER = 24
const MAGIC = 0xBEEFC0DE
/** MDB_DATA_VERSION of the LMDB that lmdb-js builds; LMDB refuses other versions itself. */
const DATA_VERSION = 2
const META_BYTES = 160
const P_BRANCH = 0x01
const P_LEAF = 0x02
const P_OVERFLOW = 0x04
const P_META = 0x08
/** The page-type bits; the others (dirty, loose, keep) are in-memory states. */
const P_TYPE = 0x7f
const F_BIGDATA = 0x01
const F_SUBDATA = 0x02
const F_DUPDATA = 0x04
const MDB_DUPSORT = 0x04
const DB_BYTES = 48
const P_INVALID = 0xFFFFFFFFFFFFFFFFn
const NODE_HEADER = 8

/** Told to users whose index cannot be opened: what to do, and that nothing was changed. */
const RESTORE_HINT = 'the file is left as it is; restore the index from an export into a new folder (earshot import FILE --db NEWDIR), or index the music again'

export class DamagedFileError extends Error {}

interface Meta { pageSize: number, lastPage: number, txnid: bigint, free: DbRecord, main: DbRecord }
interface DbRecord { flags: number, depth: number, branch: number, leaf: number, overflow: number, entries: number, root: bigint }

function readDb (b: Buffer, at: number): DbRecord {
  return {
    flags: b.readUInt16LE(at + 4),
    depth: b.readUInt16LE(at + 6),
    branch: Number(b.readBigUInt64LE(at + 8)),
    leaf: Number(b.readBigUInt64LE(at + 16)),
    overflow: Number(b.readBigUInt64LE(at + 24)),
    entries: Number(b.readBigUInt64LE(at + 32)),
    root: b.readBigUInt64LE(at + 40),
  }
}

function fail (file: string, what: string): never {
  throw new DamagedFileError(`${path.basename(file)} is damaged: ${what}`)
}

/** Read `length` bytes at `position`, failing on a short read (the file ends early). */
function readAt (fd: number, file: string, buf: Buffer, length: number, position: number, what: string): Buffer {
  const n = fs.readSync(fd, buf, 0, length, position)
  if (n !== length) fail(file, `${what} lies past the end of the file`)
  return buf
}

/** Both meta pages, checked; the newer one is returned. */
function readMeta (fd: number, file: string, size: number): Meta {
  if (size === 0) throw new DamagedFileError(`${path.basename(file)} is empty (0 bytes): the data that was there is lost, and an empty one is not made in its place`)
  const metas: Meta[] = []
  let pageSize = 0
  for (let i = 0; i < 2; i++) {
    const b = readAt(fd, file, Buffer.alloc(META_BYTES), META_BYTES, i * pageSize, `meta page ${i}`)
    if ((b.readUInt16LE(18) & P_META) === 0 || b.readUInt32LE(24) !== MAGIC) fail(file, `meta page ${i} is not an LMDB meta page (no magic number)`)
    if (b.readUInt32LE(28) !== DATA_VERSION) fail(file, `meta page ${i} has LMDB format version ${b.readUInt32LE(28)}, not ${DATA_VERSION}`)
    const ps = b.readUInt32LE(48)
    if (ps < 512 || ps > 65536 || (ps & (ps - 1)) !== 0) fail(file, `meta page ${i} gives a page size of ${ps}`)
    if (i === 1 && ps !== pageSize) fail(file, `the meta pages give page sizes ${pageSize} and ${ps}`)
    pageSize = ps
    metas.push({ pageSize: ps, lastPage: Number(b.readBigUInt64LE(144)), txnid: b.readBigUInt64LE(152), free: readDb(b, 48), main: readDb(b, 96) })
  }
  const meta = metas[1].txnid > metas[0].txnid ? metas[1] : metas[0]
  const needed = (meta.lastPage + 1) * pageSize
  if (meta.lastPage < 1 || needed > size) fail(file, `it is ${size} bytes but its last page ends at byte ${needed} (truncated)`)
  return meta
}

/** Walks the B-trees of one snapshot, page by page, with one page buffer. */
class TreeWalk {
  readonly #fd: number
  readonly #file: string
  readonly #meta: Meta
  readonly #page: Buffer
  readonly #head = Buffer.alloc(HEADER)
  readonly #seen: Uint8Array
  /** Named databases found in the main tree, to walk after it. */
  readonly named: Array<{ name: string, db: DbRecord }> = []

  constructor (fd: number, file: string, meta: Meta) {
    this.#fd = fd
    this.#file = file
    this.#meta = meta
    this.#page = Buffer.alloc(meta.pageSize)
    this.#seen = new Uint8Array(meta.lastPage + 1)
  }

  #mark (pgno: number, what: string): void {
    if (!Number.isSafeInteger(pgno) || pgno < 2 || pgno > this.#meta.lastPage) fail(this.#file, `${what} points to page ${pgno}, outside pages 2..${this.#meta.lastPage}`)
    if (this.#seen[pgno] !== 0) fail(this.#file, `page ${pgno} is reached twice (${what})`)
    this.#seen[pgno] = 1
  }

  /** Check the tree of `db`; `main` collects the named databases its leaves hold. */
  tree (name: string, db: DbRecord, main: boolean): void {
    if (db.root === P_INVALID) {
      if (db.entries !== 0 || db.depth !== 0) fail(this.#file, `database ${name} has no root but counts ${db.entries} entries`)
      return
    }
    if (db.depth < 1 || db.depth > 32) fail(this.#file, `database ${name} has depth ${db.depth}`)
    const counts = { branch: 0, leaf: 0, overflow: 0, entries: 0 }
    const stack: Array<[number, number]> = [[Number(db.root), db.depth]]
    this.#mark(Number(db.root), `the root of database ${name}`)
    const ps = this.#meta.pageSize
    const p = this.#page
    while (stack.length > 0) {
      const [pgno, level] = stack.pop()!
      readAt(this.#fd, this.#file, p, ps, pgno * ps, `page ${pgno}`)
      const where = `page ${pgno} (database ${name})`
      if (Number(p.readBigUInt64LE(0)) !== pgno) fail(this.#file, `${where} says it is page ${p.readBigUInt64LE(0)}`)
      const type = p.readUInt16LE(18) & P_TYPE
      const want = level > 1 ? P_BRANCH : P_LEAF
      if (type !== want) fail(this.#file, `${where} has type ${type}, not the ${level > 1 ? 'branch' : 'leaf'} page its depth needs`)
      const lower = p.readUInt16LE(20)
      const upper = p.readUInt16LE(22)
      const n = lower >>> 1
      if ((lower & 1) !== 0 || lower > upper || HEADER + upper > ps || (level > 1 && n < 1)) fail(this.#file, `${where} has a bad node table (${lower}..${upper})`)
      if (level > 1) counts.branch++
      else { counts.leaf++; counts.entries += n }
      for (let i = 0; i < n; i++) {
        const at = p.readUInt16LE(HEADER + 2 * i) + HEADER
        if (at < HEADER + upper || at + NODE_HEADER > ps) fail(this.#file, `${where}: node ${i} lies outside the page's nodes`)
        const lo = p.readUInt16LE(at)
        const hi = p.readUInt16LE(at + 2)
        const flags = p.readUInt16LE(at + 4)
        const keySize = p.readUInt16LE(at + 6)
        const data = at + NODE_HEADER + keySize
        if (data > ps) fail(this.#file, `${where}: node ${i}'s key runs past the page`)
        if (level > 1) {
          // A branch node's page number is 48 bits: lo, hi and the flags field on top.
          const child = lo + hi * 0x10000 + flags * 0x100000000
          this.#mark(child, `${where}, node ${i}`)
          stack.push([child, level - 1])
          continue
        }
        const size = lo + hi * 0x10000
        if ((flags & F_BIGDATA) !== 0) {
          if (data + 8 > ps) fail(this.#file, `${where}: node ${i}'s overflow page number runs past the page`)
          counts.overflow += this.#overflow(Number(p.readBigUInt64LE(data)), size, `${where}, node ${i}`)
          continue
        }
        if (data + size > ps) fail(this.#file, `${where}: node ${i}'s value runs past the page`)
        if ((flags & F_SUBDATA) !== 0) {
          if (size !== DB_BYTES) fail(this.#file, `${where}: node ${i} is a database record of ${size} bytes`)
          const sub = readDb(p, data)
          const key = p.toString('latin1', at + NODE_HEADER, data).replace(/\0+$/, '') // lmdb-js ends names with a NUL
          if ((flags & F_DUPDATA) !== 0) this.#deferDup(key, sub)
          else if (main) this.named.push({ name: key, db: sub })
          else fail(this.#file, `${where}: node ${i} is a database record outside the main database`)
        }
      }
    }
    const dupsort = (db.flags & MDB_DUPSORT) !== 0
    if (counts.branch !== db.branch || counts.leaf !== db.leaf || counts.overflow !== db.overflow || (!dupsort && counts.entries !== db.entries)) {
      fail(this.#file, `database ${name} counts ${db.branch}/${db.leaf}/${db.overflow} pages and ${db.entries} entries, its tree holds ${counts.branch}/${counts.leaf}/${counts.overflow} and ${counts.entries}`)
    }
  }

  readonly #dups: Array<{ name: string, db: DbRecord }> = []
  #deferDup (key: string, db: DbRecord): void { this.#dups.push({ name: `duplicates of ${JSON.stringify(key)}`, db }) }

  /** Sub-trees of duplicate values found so far (only in dupsort databases). */
  takeDups (): Array<{ name: string, db: DbRecord }> { return this.#dups.splice(0) }

  /** Check an overflow run's first page; returns its length in pages. */
  #overflow (pgno: number, size: number, what: string): number {
    const ps = this.#meta.pageSize
    this.#mark(pgno, what)
    const p = readAt(this.#fd, this.#file, this.#head, HEADER, pgno * ps, `overflow page ${pgno}`)
    const pages = p.readUInt32LE(20)
    if (Number(p.readBigUInt64LE(0)) !== pgno || (p.readUInt16LE(18) & P_TYPE) !== P_OVERFLOW) fail(this.#file, `${what}: page ${pgno} is not an overflow page`)
    if (pages < 1 || pgno + pages - 1 > this.#meta.lastPage || size > pages * ps - HEADER) fail(this.#file, `${what}: overflow page ${pgno} claims ${pages} pages for ${size} bytes`)
    for (let q = pgno + 1; q < pgno + pages; q++) this.#mark(q, `${what}, overflow`)
    return pages
  }
}

/** Check `file` (a data.mdb or a single-file environment): meta pages, and the main tree or every tree. */
export function checkDataFile (file: string, scope: 'main' | 'all'): void {
  const fd = fs.openSync(file, 'r')
  try {
    const meta = readMeta(fd, file, fs.fstatSync(fd).size)
    const walk = new TreeWalk(fd, file, meta)
    walk.tree('main', meta.main, true)
    if (scope === 'main') return
    walk.tree('free pages', meta.free, false)
    for (const { name, db } of walk.named) {
      walk.tree(name, db, false)
      for (let dups = walk.takeDups(); dups.length > 0; dups = walk.takeDups()) for (const d of dups) walk.tree(d.name, d.db, false)
    }
  } finally {
    fs.closeSync(fd)
  }
}

/** The newest committed transaction id, from the meta pages (-1 if they cannot be read). */
function newestTxnid (file: string): bigint {
  try {
    const fd = fs.openSync(file, 'r')
    try { return readMeta(fd, file, fs.fstatSync(fd).size).txnid } finally { fs.closeSync(fd) }
  } catch { return -1n }
}

/** Check the main tree; a writer in another process may rewrite it meanwhile: when the snapshot moved, look again. */
function checkBeforeMapping (file: string): void {
  for (let attempt = 0; ; attempt++) {
    const txnid = newestTxnid(file)
    try {
      checkDataFile(file, 'main')
      return
    } catch (err) {
      if (!(err instanceof DamagedFileError) || attempt >= 4 || newestTxnid(file) === txnid) throw err
    }
  }
}

export interface OpenCheckedOptions {
  /** The data file: `<path>/data.mdb`, or `path` itself when `noSubdir`. */
  noSubdir?: boolean
  /** Create the environment when there is none (never over a damaged or emptied one). */
  create: boolean
  /** What a user should do about a damaged file; added to the error's message. */
  hint?: string
  /** This process checked the file already (another process opens it again on its behalf): map it at once. */
  checked?: boolean
}

/**
 * Open the LMDB environment at `options.path` after checking its file (see the file header).
 * @throws Error (DamagedFileError for a damaged file); callers wrap it in their catalogued code
 */
export function openChecked (lmdbOptions: RootDatabaseOptionsWithPath & { path: string }, options: OpenCheckedOptions): RootDatabase {
  try {
    return openCheckedFile(lmdbOptions, options)
  } catch (err) {
    if (err instanceof DamagedFileError) err.message += `; ${options.hint ?? RESTORE_HINT}`
    throw err
  }
}

function openCheckedFile (lmdbOptions: RootDatabaseOptionsWithPath & { path: string }, options: OpenCheckedOptions): RootDatabase {
  const dir = lmdbOptions.path
  const file = options.noSubdir === true ? dir : path.join(dir, 'data.mdb')
  const exists = fs.existsSync(file)
  if (!exists) {
    if (options.noSubdir !== true && fs.existsSync(path.join(dir, 'lock.mdb'))) {
      throw new DamagedFileError(`lock.mdb is there but data.mdb is not: the data was moved or deleted, and an empty one is not made in its place`)
    }
    if (!options.create) throw new Error('no index there yet; run earshot index first')
    if (options.noSubdir !== true) fs.mkdirSync(dir, { recursive: true })
    return open(lmdbOptions)
  }
  if (options.checked === true) return open(lmdbOptions)
  checkBeforeMapping(file)
  const root = open(lmdbOptions)
  try {
    // Pages of the snapshot this read transaction holds, and of any newer one, are not reused while it lasts.
    const txn = root.useReadTransaction()
    try { checkDataFile(file, 'all') } finally { txn.done() }
  } catch (err) {
    void root.close()
    throw err
  }
  return root
}
