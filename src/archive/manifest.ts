/**
 * The seal manifest of one source's archive, `<dir>/<base>.manifest.jsonl` (named by layout.ts): append-only, one JSON
 * line per entry, each naming a day file with its lines, bytes, SHA-256, first and last instant, the tool, the time
 * it was sealed and the hash of the previous entry's line (a hash chain over the whole archive of the source), and,
 * with a key, an Ed25519 signature. The only module that knows the format (README "Sealed days"). Entries are written
 * whole and synced; a torn last fragment (a crash mid-append) is never an entry: readers ignore it and say so, the
 * next seal moves it to `<manifest>.torn`. The tool never extends a chain it finds damaged.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { readFile, stat, type FileHandle } from 'node:fs/promises'
import { basename } from 'node:path'
import { openAppend, openRead, syncDir } from '../atomic.js'
import { Y360Error } from '../errors.js'
import { settleLimited } from '../limited.js'
import type { InstantOf } from '../messages.js'
import { show } from '../time.js'
import { dayFile, isDayName, manifestFile, type ArchiveFile, type ArchiveId } from './layout.js'
import { lineInstant, linesBackward, MAX_LINE, type PositionalRead } from './lines.js'
import { repairTail, writeAll, type TornTail } from './tail.js'

/** Format version of an entry (`v`). */
export const MANIFEST_VERSION = 1
/** What a signature covers is prefixed with this, so a seal signature can never be replayed as another message. */
const SIGN_CONTEXT = 'y360-audit seal v1\n'
/** A manifest holds one entry per day and change: megabytes would be centuries; a larger file is not ours. */
const MAX_MANIFEST = 64 * 1024 * 1024

/**
 * seal: a closed day's first entry; reopen: the tool is about to change a sealed day file (a merge, a late arrival):
 * until its next entry the file is open, checked as unsealed days are; reseal: its content after the tool changed it
 * (or after a reopen, also when unchanged). A run that dies between a reopen and its reseal leaves the day open; the
 * next run reseals it.
 */
export type EntryKind = 'seal' | 'reopen' | 'reseal'

/** One manifest line, in the order its fields are written. */
export interface SealEntry {
  v: 1
  /** 0-based position in the chain. */
  seq: number
  kind: EntryKind
  /** The day file's name (no directory: the archive can move). */
  file: string
  day: string
  lines: number
  bytes: number
  sha256: string
  /** Instants of the first and last line (absent when the file holds no record there). */
  first?: string
  last?: string
  tool: string
  sealedAt: string
  /** SHA-256 (hex) of the previous entry's line; null for the first entry. */
  prev: string | null
  /** Id of the signing key (first 16 hex digits of the SHA-256 of its public key, SPKI DER). */
  key?: string
  /** Ed25519 signature (base64) of SIGN_CONTEXT + the line without its `"sig"` member. */
  sig?: string
}

/** An entry as read: its line number (1-based) and the hash of its line, the next entry's `prev`. */
export interface ReadEntry extends SealEntry {
  lineNo: number
  hash: string
}

/** Ways the chain or a sealed file can fail verification (README "Sealed days"). */
export type SealProblemKind =
  | 'chain-entry' // a manifest line that is not an entry
  | 'chain-broken' // an entry that does not follow the one before it: the chain was cut, or entries removed, inserted or edited
  | 'chain-signature' // a signature that does not verify with the public key (forged entry, or another key)
  | 'chain-unsigned' // an unsigned entry after a signed one, or no signed entry at all, while a public key is given
  | 'chain-head' // a chain head kept outside the archive is no longer an entry of the manifest (cut or rewritten)
  | 'seal-missing' // a sealed day file is gone (removed or renamed)
  | 'seal-renamed' // a day file holding exactly the bytes sealed under another name
  | 'seal-changed' // a sealed file's bytes differ from its newest entry, same line count (a changed byte, a replaced file)
  | 'seal-lines' // a sealed file's line count differs from its newest entry (a line removed or added)
  | 'seal-appended' // a sealed file grew after its seal (its sealed bytes intact) without a newer entry
  | 'seal-unsealed' // a day file without an entry, older than a sealed day (added, or its entries cut)

export interface SealProblem {
  kind: SealProblemKind
  file: string
  /** Line of `file` concerned: the manifest's line for chain problems; 0 for problems of a whole day file. */
  line: number
  detail: string
}

/** The chain as read: its entries, head, and what is wrong with it. */
export interface Chain {
  path: string
  entries: ReadEntry[]
  /** Hash of the last entry's line (undefined while the manifest is empty or absent). */
  head: string | undefined
  /** Newest entry of each day file (by file name). */
  newest: Map<string, ReadEntry>
  /** Bytes after the last newline: a torn append, not an entry. */
  tornBytes: number
  problems: SealProblem[]
}

/** A day file's measure, as sealed. */
export interface FileDigest {
  lines: number
  bytes: number
  sha256: string
  first?: string
  last?: string
  /** SHA-256 of the first `prefixAt` bytes, when asked for and the file is that long. */
  prefix?: string
}

const HEX64 = /^[0-9a-f]{64}$/
/** Bytes read at a time when a day file is hashed. */
const DIGEST_BLOCK = 256 * 1024
/**
 * Day files hashed at once when days are sealed: while one waits for a block from the file system's threads, another's
 * block is hashed. The 30 day files (55 MB) of a 100,000-record first run: 86-128 ms one at a time, 57-87 ms four at
 * once (hashing is the rest: it runs on this thread, ~1.8 GB/s).
 */
const DIGESTS_AT_ONCE = 4
const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex')

/** Id of a key pair: the first 16 hex digits of the SHA-256 of its public key (SPKI DER). */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  return sha256(pub.export({ type: 'spki', format: 'der' })).slice(0, 16)
}

/** Reads an Ed25519 private key (PEM) for --seal-key; a problem text when it is not one. */
export function loadSealKey(path: string): { key?: KeyObject; problem?: string; warning?: string } {
  try {
    const key = createPrivateKey(readFileSync(path))
    if (key.asymmetricKeyType !== 'ed25519') return { problem: `${path} holds an ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519 (make one: openssl genpkey -algorithm ed25519 -out seal.pem)` }
    return { key, warning: (statSync(path).mode & 0o004) !== 0 ? `${path} is readable by every user and holds the seal key; run: chmod o-r ${path}` : undefined }
  } catch (err) {
    return { problem: `cannot read the Ed25519 private key ${path}: ${(err as Error).message}` }
  }
}

/** Reads an Ed25519 public key (PEM; a private key gives its public half) for verify --seal-pubkey. */
export function loadSealPublicKey(path: string): { key?: KeyObject; problem?: string } {
  try {
    const key = createPublicKey(readFileSync(path))
    if (key.asymmetricKeyType !== 'ed25519') return { problem: `${path} holds an ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519` }
    return { key }
  } catch (err) {
    return { problem: `cannot read the Ed25519 public key ${path}: ${(err as Error).message}` }
  }
}

/** The fields of an entry line, checked; a text saying what is wrong otherwise. */
function parseEntry(a: ArchiveId, text: string): SealEntry | string {
  let e: Record<string, unknown>
  try {
    e = JSON.parse(text) as Record<string, unknown>
  } catch {
    return 'not JSON'
  }
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return 'not a JSON object'
  if (e.v !== MANIFEST_VERSION) return `format version ${JSON.stringify(e.v)}, not ${MANIFEST_VERSION}`
  const count = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0
  const optText = (v: unknown): boolean => v === undefined || typeof v === 'string'
  if (!count(e.seq) || !count(e.lines) || !count(e.bytes)) return 'seq, lines or bytes is not a count'
  if (e.kind !== 'seal' && e.kind !== 'reopen' && e.kind !== 'reseal') return `kind ${JSON.stringify(e.kind)} is not seal, reopen or reseal`
  if (typeof e.day !== 'string' || !isDayName(e.day) || e.file !== basename(dayFile(a, e.day))) return `file ${JSON.stringify(e.file)} is not the day file of ${JSON.stringify(e.day)}`
  if (typeof e.sha256 !== 'string' || !HEX64.test(e.sha256)) return 'sha256 is not 64 hex digits'
  if (e.prev !== null && (typeof e.prev !== 'string' || !HEX64.test(e.prev))) return 'prev is neither null nor 64 hex digits'
  if (typeof e.tool !== 'string' || typeof e.sealedAt !== 'string' || !optText(e.first) || !optText(e.last) || !optText(e.key) || !optText(e.sig)) return 'tool, sealedAt, first, last, key or sig is not text'
  return e as unknown as SealEntry
}

/** The signed bytes of an entry line: the line without its trailing `"sig"` member; undefined when the line has none there. */
function signedPart(line: string, sig: string): string | undefined {
  const tail = `,"sig":${JSON.stringify(sig)}}`
  return line.endsWith(tail) ? `${SIGN_CONTEXT}${line.slice(0, -tail.length)}}` : undefined
}

/** Checks each entry's signature against `pub`: entries before the first signed one may be unsigned (the first signed entry's `prev` covers them). */
function checkSignatures(chain: Chain, lines: readonly string[], pub: KeyObject, requireSigned: boolean): void {
  const id = keyId(pub)
  let signedYet = false
  chain.entries.forEach((e, i) => {
    if (e.sig === undefined) {
      if (signedYet) chain.problems.push({ kind: 'chain-unsigned', file: chain.path, line: e.lineNo, detail: `entry ${e.seq} (${e.file}) is not signed, but an earlier one is: an entry added without the key` })
      return
    }
    signedYet = true
    const body = signedPart(lines[i], e.sig)
    const ok = body !== undefined && verify(null, Buffer.from(body), pub, Buffer.from(e.sig, 'base64'))
    if (!ok) {
      const other = e.key !== undefined && e.key !== id ? `signed with key ${e.key}, not the given public key ${id}` : 'its signature does not match its content (a forged or edited entry)'
      chain.problems.push({ kind: 'chain-signature', file: chain.path, line: e.lineNo, detail: `entry ${e.seq} (${e.file}): ${other}` })
    }
  })
  if (requireSigned && !signedYet && chain.entries.length > 0) chain.problems.push({ kind: 'chain-unsigned', file: chain.path, line: 0, detail: `no entry is signed, but a public key was given (key ${id}): the chain was written without --seal-key, or replaced` })
}

/** Links each entry to the one before it (seq and prev); a broken link is reported once, and the next ones link to what is there. */
function linkEntries(chain: Chain): void {
  let prev: ReadEntry | undefined
  for (const e of chain.entries) {
    const wantSeq = prev === undefined ? 0 : prev.seq + 1
    const wantPrev = prev === undefined ? null : prev.hash
    if (e.seq !== wantSeq || e.prev !== wantPrev) {
      const why = prev === undefined
        ? `the first entry is entry ${e.seq}${e.prev === null ? '' : ' and names a previous one'}: the chain's start was cut`
        : e.prev !== wantPrev ? `entry ${e.seq} does not name the hash of entry ${prev.seq} before it: an entry was edited, removed or inserted` : `entry ${e.seq} follows entry ${prev.seq}: entries were removed or inserted`
      chain.problems.push({ kind: 'chain-broken', file: chain.path, line: e.lineNo, detail: why })
    }
    prev = e
  }
}

export interface ReadOptions {
  /** Check signatures with this key. */
  publicKey?: KeyObject
  /** With `publicKey`: a chain without any signed entry is a problem (verify), not a chain about to be signed (sealing). */
  requireSigned?: boolean
}

/** Reads and checks one source's chain (an absent manifest is an empty chain). */
export async function readChain(a: ArchiveId, opts: ReadOptions = {}): Promise<Chain> {
  const path = manifestFile(a)
  const chain: Chain = { path, entries: [], head: undefined, newest: new Map(), tornBytes: 0, problems: [] }
  let text: string
  try {
    if ((await stat(path)).size > MAX_MANIFEST) throw new Error(`larger than ${MAX_MANIFEST} bytes: not a manifest of this tool`)
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return chain
    throw new Y360Error('ARCHIVE_DAMAGED', `cannot read the seal manifest ${path}: ${(err as Error).message}`, { path }, { cause: err })
  }
  const lines = text.split('\n')
  chain.tornBytes = Buffer.byteLength(lines.pop() as string)
  const kept: string[] = []
  lines.forEach((line, i) => {
    const e = parseEntry(a, line)
    if (typeof e === 'string') {
      chain.problems.push({ kind: 'chain-entry', file: path, line: i + 1, detail: `not a seal entry (${e}): ${line.slice(0, 80)}` })
      return
    }
    const entry: ReadEntry = { ...e, lineNo: i + 1, hash: sha256(line) }
    chain.entries.push(entry)
    chain.newest.set(entry.file, entry)
    kept.push(line)
  })
  chain.head = chain.entries.at(-1)?.hash
  linkEntries(chain)
  if (opts.publicKey !== undefined) checkSignatures(chain, kept, opts.publicKey, opts.requireSigned ?? false)
  return chain
}

/** Instant (shown) of a line's text, when the line is a record. */
function shownInstant(instantOf: InstantOf, text: string | undefined): string | undefined {
  const r = lineInstant(instantOf, text)
  return r === undefined ? undefined : show(r.us)
}

/** Instant (shown) of the last non-empty line of a file, when it is a record. */
async function lastInstant(fh: PositionalRead, size: number, instantOf: InstantOf): Promise<string | undefined> {
  for await (const line of linesBackward(fh, size)) {
    if (line.text !== undefined && line.text.trim() === '') continue
    return shownInstant(instantOf, line.text)
  }
  return undefined
}

/**
 * `fh` read through the bytes [at, at + len) already in `block` (the file's last block): the last line is most often
 * there, and is then found without reading the file again.
 */
function servedFrom(fh: FileHandle, block: Buffer, at: number, len: number): PositionalRead {
  return {
    read: async (buf, offset, length, position) => {
      if (position < at || position + length > at + len) return fh.read(buf, offset, length, position)
      return { bytesRead: block.copy(buf, offset, position - at, position - at + length) }
    },
  }
}

/**
 * Blocks for `digestFile`, kept for the next call: a fresh 256 KiB buffer per file cost its page faults on every
 * digest (60 day files of a first run: ~15 ms of this thread). Only free blocks are here; each call takes its own.
 */
const freeBlocks: Buffer[] = []

/**
 * Measures a day file as a seal records it: newlines counted, bytes hashed, instants of its first and last lines.
 * Streams the file (GBs are fine); `prefixAt` also hashes the first that many bytes (has it only grown since?).
 */
export async function digestFile(path: string, instantOf: InstantOf, prefixAt?: number): Promise<FileDigest> {
  const fh = await openRead(path)
  // One block, read into again and again: a fresh buffer per read left a day file's size of dead buffers outside
  // V8's heap until the next collection (sealing 30 days of a 1M-record backfill allocated ~500 MiB of them).
  const block = freeBlocks.pop() ?? Buffer.allocUnsafeSlow(DIGEST_BLOCK)
  try {
    const hash = createHash('sha256')
    let prefix: string | undefined
    let bytes = 0
    let lines = 0
    let last = 0 // bytes of the last block read, still in `block` after the loop
    let first: string | undefined
    let head: Buffer | undefined // the first line's bytes so far, until its newline (at most MAX_LINE)
    for (;;) {
      const { bytesRead } = await fh.read(block, 0, block.length, bytes)
      if (bytesRead === 0) break
      const chunk = block.subarray(0, bytesRead)
      if (prefixAt !== undefined && prefix === undefined && bytes + chunk.length >= prefixAt) {
        prefix = hash.copy().update(chunk.subarray(0, prefixAt - bytes)).digest('hex')
      }
      hash.update(chunk)
      const nl = chunk.indexOf(0x0a)
      if (head !== undefined || bytes === 0) {
        const part = chunk.subarray(0, nl === -1 ? Math.min(chunk.length, MAX_LINE) : nl)
        head = head === undefined ? Buffer.from(part) : Buffer.concat([head, part]).subarray(0, MAX_LINE)
        if (nl !== -1 || head.length >= MAX_LINE) {
          first = shownInstant(instantOf, head.toString('utf8'))
          head = undefined
        }
      }
      for (let i = nl; i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines++
      last = bytesRead
      bytes += chunk.length
    }
    if (head !== undefined) first = shownInstant(instantOf, head.toString('utf8')) // one line, no newline
    if (prefixAt === 0) prefix = sha256('')
    const d: FileDigest = { lines, bytes, sha256: hash.digest('hex') }
    const lastShown = bytes === 0 ? undefined : await lastInstant(servedFrom(fh, block, bytes - last, last), bytes, instantOf)
    if (first !== undefined) d.first = first
    if (lastShown !== undefined) d.last = lastShown
    if (prefix !== undefined) d.prefix = prefix
    return d
  } finally {
    freeBlocks.push(block)
    await fh.close()
  }
}

/** What `sealDays` needs: the archive, how to read a record's instant, the tool's name, the clock, the key. */
export interface SealRequest {
  archive: ArchiveId
  /** Day names (`YYYY-MM-DD`) whose files were created or changed; days whose newest entry still matches are skipped. */
  days: readonly string[]
  instantOf: InstantOf
  /** Written into each entry (`y360-audit 1.2.3`). */
  tool: string
  now: () => number
  /** Signs the new entries (Ed25519). */
  key?: KeyObject
  /** Writes the new entry lines at the manifest's end, in one call (default: the whole buffer). A seam for crash tests: stop mid-append. */
  append?: (fh: FileHandle, line: Buffer) => Promise<void>
  /** A day file's digest read back earlier in the run, if it is still valid (archive/early.ts); else it is hashed now. */
  early?: (path: string) => Promise<FileDigest | undefined>
}

export interface SealResult {
  /** The entries appended, in order. */
  appended: SealEntry[]
  /** The chain's head after the seal, and its length. */
  head: string | undefined
  entries: number
  /** A torn fragment of an earlier, interrupted append, moved aside first. */
  torn?: TornTail
}

/** The entry line of `fields` (its `prev` the hash of the entry before), signed with `key` when given. */
export function entryLine(fields: Omit<SealEntry, 'v' | 'key' | 'sig'>, key?: KeyObject): string {
  const { seq, kind, file, day, lines, bytes, sha256: sum, first, last, tool, sealedAt, prev } = fields
  const entry: SealEntry = { v: MANIFEST_VERSION, seq, kind, file, day, lines, bytes, sha256: sum, first, last, tool, sealedAt, prev }
  if (key === undefined) return JSON.stringify(entry)
  entry.key = keyId(key)
  const body = JSON.stringify(entry)
  const sig = sign(null, Buffer.from(`${SIGN_CONTEXT}${body}`), key).toString('base64')
  return `${body.slice(0, -1)},"sig":${JSON.stringify(sig)}}`
}

/** The chain to extend: the torn fragment moved aside, then read and checked (with the key's public half). A damaged chain is never extended. */
async function chainToExtend(req: SealRequest): Promise<{ chain: Chain; torn?: TornTail }> {
  const path = manifestFile(req.archive)
  let torn: TornTail | undefined
  try {
    // Only a last line without its newline is cut (`valid` accepts every complete line): the one thing a crash leaves.
    torn = await repairTail(path, () => true)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Y360Error('SINK_WRITE', `cannot repair the seal manifest ${path}: ${(err as Error).message}`, { path }, { cause: err })
  }
  const chain = await readChain(req.archive, { publicKey: req.key })
  if (chain.problems.length > 0) {
    const p = chain.problems[0]
    throw new Y360Error('ARCHIVE_DAMAGED', `the seal manifest ${path} is damaged (line ${p.line}: ${p.kind}: ${p.detail}${chain.problems.length > 1 ? `; ${chain.problems.length - 1} more` : ''}); no day was sealed: run y360-audit verify, and keep the manifest as evidence (moving it away starts a new chain)`, { path })
  }
  const signer = chain.entries.findLast((e) => e.sig !== undefined)
  if (req.key === undefined && signer !== undefined) {
    // Unsigned entries after signed ones fail verify --seal-pubkey: a signed chain is only extended with its key.
    throw new Y360Error('CONFIG_INVALID', `the seal manifest ${path} is signed (key ${signer.key ?? '?'}); no day was sealed: pass --seal-key with that key`, { path })
  }
  return { chain, torn }
}

/**
 * (Re)seals day files of one archive after they were created or changed: one `seal` entry per day without an entry,
 * one `reseal` entry per day whose file no longer matches its newest entry or that was reopened, appended and synced. Call with the
 * archive's lock held (sealing at commit, the re-check before sealing, reconcile after a merge). Throws SINK_WRITE
 * when a day file is missing or cannot be read, ARCHIVE_DAMAGED when the chain is already damaged.
 */
export async function sealDays(req: SealRequest): Promise<SealResult> {
  const { chain, torn } = await chainToExtend(req)
  const planned: Omit<SealEntry, 'v' | 'key' | 'sig' | 'seq' | 'prev'>[] = []
  const days = [...new Set(req.days)].sort()
  const paths = days.map((day) => dayFile(req.archive, day))
  const digests = await settleLimited(paths, DIGESTS_AT_ONCE, async (path) => (await req.early?.(path)) ?? digestFile(path, req.instantOf))
  for (const [i, day] of days.entries()) {
    const path = paths[i]
    const r = digests[i]
    if (r.status === 'rejected') throw new Y360Error('SINK_WRITE', `cannot seal ${path}: ${(r.reason as Error).message}`, { path }, { cause: r.reason })
    const d = r.value
    const file = basename(path)
    const newest = chain.newest.get(file)
    if (newest !== undefined && newest.kind !== 'reopen' && newest.sha256 === d.sha256 && newest.bytes === d.bytes) continue
    planned.push({ kind: newest === undefined ? 'seal' : 'reseal', file, day, ...d, tool: req.tool, sealedAt: new Date(req.now()).toISOString() })
  }
  const result: SealResult = { appended: [], head: chain.head, entries: chain.entries.length, torn }
  if (planned.length === 0) return result
  await appendEntries(req, chain, planned, result)
  return result
}

async function appendEntries(req: SealRequest, chain: Chain, planned: Omit<SealEntry, 'v' | 'key' | 'sig' | 'seq' | 'prev'>[], result: SealResult): Promise<void> {
  const path = manifestFile(req.archive)
  const append = req.append ?? writeAll
  const created = chain.entries.length === 0 && chain.tornBytes === 0
  let fh: FileHandle
  try {
    fh = await openAppend(path)
  } catch (err) {
    throw new Y360Error('SINK_WRITE', `cannot open the seal manifest ${path}: ${(err as Error).message}`, { path }, { cause: err })
  }
  // The entries are chained first and written in one append (one round trip to the file system's threads instead of one
  // an entry): a crash part-way leaves whole entries and a torn fragment either way, which readers ignore and the next
  // seal moves aside.
  const lines: string[] = []
  let head = result.head
  for (const p of planned) {
    const line = entryLine({ ...p, seq: result.entries + lines.length, prev: head ?? null }, req.key)
    lines.push(`${line}\n`)
    head = sha256(line)
  }
  try {
    await append(fh, Buffer.from(lines.join('')))
    await fh.sync()
  } catch (err) {
    throw new Y360Error('SINK_WRITE', `cannot append to the seal manifest ${path}: ${(err as Error).message}`, { path }, { cause: err })
  } finally {
    await fh.close()
  }
  for (const line of lines) result.appended.push(JSON.parse(line) as SealEntry)
  result.head = head
  result.entries += lines.length
  if (created) await syncDir(req.archive.dir)
}

/** What verify learns about a source's seals. */
export interface SealReport {
  manifest: string
  entries: number
  head: string | undefined
  /** Day files whose newest entry matches them. */
  sealed: number
  /** Day files without an entry (open days, checked as every file is). */
  open: number
  /** Day files whose newest entry is a reopen (a run changing them was interrupted: checked as open days; the next run reseals them). */
  reopened: number
  signed: boolean
  /** Bytes of a torn last fragment, ignored (the next seal moves it to `.torn`). */
  tornBytes: number
  problems: SealProblem[]
}

/** Compares one sealed file with its newest entry; a problem, or undefined when it matches. */
async function checkSealed(f: ArchiveFile, e: ReadEntry, instantOf: InstantOf): Promise<SealProblem | undefined> {
  return compareSealed(f.path, e, await digestFile(f.path, instantOf, e.bytes))
}

/** A file's digest (with its prefix at the entry's size) against its entry: the problem, or undefined when equal. */
function compareSealed(path: string, e: ReadEntry, d: FileDigest): SealProblem | undefined {
  if (d.bytes === e.bytes && d.sha256 === e.sha256) return undefined
  const at = { file: path, line: 0 }
  const sealed = `sealed by entry ${e.seq} (manifest line ${e.lineNo}) with ${e.lines} lines, ${e.bytes} bytes`
  if (d.bytes > e.bytes && d.prefix === e.sha256) {
    return { kind: 'seal-appended', ...at, detail: `${sealed}; ${d.lines - e.lines} lines (${d.bytes - e.bytes} bytes) appended after the seal without a newer entry` }
  }
  if (d.lines !== e.lines) return { kind: 'seal-lines', ...at, detail: `${sealed}; holds ${d.lines} lines now: lines were ${d.lines < e.lines ? 'removed' : 'added'}` }
  return { kind: 'seal-changed', ...at, detail: `${sealed}; its bytes differ (${d.bytes} bytes, sha256 ${d.sha256.slice(0, 16)}…, sealed ${e.sha256.slice(0, 16)}…): changed bytes, or the file was replaced` }
}

/**
 * verify's check of the seals: the chain (and signatures, with `publicKey`), then every day file against its newest
 * entry; `keptHead` (a head kept outside the archive) must be the hash of one of its entries. A sealed file gone is `seal-missing` (or `seal-renamed`, when another day file holds its bytes); a day file
 * without an entry is open (checked as every file is) unless a later day is sealed (`seal-unsealed`).
 */
export async function checkSeals(a: ArchiveId, files: readonly ArchiveFile[], instantOf: InstantOf, publicKey?: KeyObject, keptHead?: string): Promise<SealReport> {
  const chain = await readChain(a, { publicKey, requireSigned: true })
  if (keptHead !== undefined && !chain.entries.some((e) => e.hash === keptHead)) {
    chain.problems.push({ kind: 'chain-head', file: chain.path, line: 0, detail: `the chain head kept outside, ${keptHead}, is no entry of this manifest (${chain.entries.length} entries): the chain was cut or rewritten since` })
  }
  const report: SealReport = { manifest: chain.path, entries: chain.entries.length, head: chain.head, sealed: 0, open: 0, reopened: 0, signed: chain.entries.some((e) => e.sig !== undefined), tornBytes: chain.tornBytes, problems: [...chain.problems] }
  const present = new Set(files.map((f) => basename(f.path)))
  const newestDay = [...chain.newest.values()].filter((e) => present.has(e.file)).reduce((m, e) => (e.day > m ? e.day : m), '')
  const gone = [...chain.newest.values()].filter((e) => !present.has(e.file))
  for (const f of files) {
    const e = chain.newest.get(basename(f.path))
    if (e?.kind === 'reopen') {
      report.reopened++
      continue
    }
    if (e !== undefined) {
      const p = await checkSealed(f, e, instantOf)
      if (p === undefined) report.sealed++
      else report.problems.push(p)
      continue
    }
    if (f.day > newestDay) {
      report.open++
      continue
    }
    const d = gone.length > 0 ? await digestFile(f.path, instantOf) : undefined
    const was = gone.findIndex((g) => d !== undefined && g.sha256 === d.sha256 && g.bytes === d.bytes)
    if (was >= 0) {
      const [g] = gone.splice(was, 1)
      report.problems.push({ kind: 'seal-renamed', file: f.path, line: 0, detail: `holds exactly the bytes sealed as ${g.file} (entry ${g.seq}, manifest line ${g.lineNo}): the sealed file was renamed` })
    } else {
      report.problems.push({ kind: 'seal-unsealed', file: f.path, line: 0, detail: `has no seal, but the later day ${newestDay} is sealed: the file was added (or renamed) after sealing, or its entries were cut` })
    }
  }
  for (const g of gone) report.problems.push({ kind: 'seal-missing', file: dayFile(a, g.day), line: 0, detail: `sealed by entry ${g.seq} (manifest line ${g.lineNo}; ${g.lines} lines, ${g.bytes} bytes) but gone: the day file was removed or renamed` })
  return report
}

export interface ReopenResult extends SealResult {
  /** Sealed files that no longer matched their seal when reopened: changed outside the tool (report them). */
  changed: SealProblem[]
}

/**
 * Reopens sealed day files the tool is about to change (a merge, an append): one `reopen` entry each (holding the
 * file's measure at that moment), appended and synced before the first write; `sealDays` closes each with a reseal.
 * Days without an entry, already reopened, or without a file are skipped. Call with the archive's lock held.
 */
export async function reopenDays(req: SealRequest): Promise<ReopenResult> {
  const { chain, torn } = await chainToExtend(req)
  const planned: Omit<SealEntry, 'v' | 'key' | 'sig' | 'seq' | 'prev'>[] = []
  const changed: SealProblem[] = []
  for (const day of [...new Set(req.days)].sort()) {
    const path = dayFile(req.archive, day)
    const file = basename(path)
    const newest = chain.newest.get(file)
    if (newest === undefined || newest.kind === 'reopen') continue
    let d: FileDigest
    try {
      d = await digestFile(path, req.instantOf, newest.bytes)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue // nothing to reopen: verify reports the missing file
      throw new Y360Error('SINK_WRITE', `cannot reopen ${path}: ${(err as Error).message}`, { path }, { cause: err })
    }
    const p = compareSealed(path, newest, d)
    if (p !== undefined) changed.push(p)
    planned.push({ kind: 'reopen', file, day, lines: d.lines, bytes: d.bytes, sha256: d.sha256, first: d.first, last: d.last, tool: req.tool, sealedAt: new Date(req.now()).toISOString() })
  }
  const result: ReopenResult = { appended: [], head: chain.head, entries: chain.entries.length, torn, changed }
  if (planned.length > 0) await appendEntries(req, chain, planned, result)
  return result
}
