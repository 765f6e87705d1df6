// src/archive/early.ts: a day file read back while the run fetches gives the seal its digest only while the file is
// still exactly what was read (appended to, replaced by another file of the same size, or gone: hashed again at the
// seal); sealDays writes an early digest it is given and hashes the days it is not; and a real first run through the
// CLI, whose day files are read back early, leaves seals that verify checks against the files; the rotating sink tells
// of each day file it finished, once closed, and not of the last one.
import t from 'tap'
import { appendFileSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { EarlyDigests } from '../../src/archive/early.js'
import { manifestFile, type ArchiveId } from '../../src/archive/layout.js'
import { digestFile, sealDays, type FileDigest, type SealEntry } from '../../src/archive/manifest.js'
import { SourceStats, textRecord, type SinkChunk } from '../../src/messages.js'
import { RotatingFileSink } from '../../src/sinks/file.js'
import { ENDPOINTS } from '../../src/sources/index.js'
import { cliEnv, emulator, lastNoonUtc, runMain } from '../helpers.js'

const instantOf = ENDPOINTS.mail.timestamp
const rec = (iso: string, n: number): string => JSON.stringify({ date: iso, eventType: 'message_seen', userUid: String(n) }) + '\n'
const DAY = rec('2026-11-17T01:00:00.000Z', 1) + rec('2026-11-17T05:00:00.000Z', 2)

/** A file read back early (the read ended); then `change` (if any) is done to it; then what the seal would be given. */
async function earlyAfter(dir: string, change?: (path: string) => void): Promise<{ early: FileDigest | undefined; now: FileDigest }> {
  const path = join(dir, 'mail_audit_2026-11-17.json')
  writeFileSync(path, DAY)
  const digests = new EarlyDigests()
  await digests.start(path, instantOf)
  change?.(path)
  return { early: await digests.digest(path), now: await digestFile(path, instantOf) }
}

t.test('an unchanged file: the early digest is the one the seal would compute', async (t) => {
  const { early, now } = await earlyAfter(t.testdir())
  t.same(early, now)
  t.same(now, { lines: 2, bytes: Buffer.byteLength(DAY), sha256: now.sha256, first: '2026-11-17T01:00:00.000Z', last: '2026-11-17T05:00:00.000Z' })
})

t.test('a file written after its read is hashed again at the seal', async (t) => {
  const appended = await earlyAfter(t.testdir(), (p) => appendFileSync(p, rec('2026-11-17T06:00:00.000Z', 3)))
  t.equal(appended.early, undefined, 'appended to: not taken')
  t.equal(appended.now.lines, 3)
  // The same size and the same first and last lines, another inode: a file put in its place (the re-check's merge).
  const replaced = await earlyAfter(t.testdir(), (p) => {
    writeFileSync(`${p}.new`, DAY.replace('"userUid":"2"', '"userUid":"9"'))
    renameSync(`${p}.new`, p)
  })
  t.equal(replaced.early, undefined, 'replaced: not taken')
  t.not(replaced.now.sha256, (await earlyAfter(t.testdir())).now.sha256, 'the replacement differs in content only')
  const dir = t.testdir()
  const path = join(dir, 'mail_audit_2026-11-17.json')
  writeFileSync(path, DAY)
  const digests = new EarlyDigests()
  await digests.start(path, instantOf)
  rmSync(path)
  t.equal(await digests.digest(path), undefined, 'removed: not taken (the seal then fails on it, as before)')
})

t.test('a read that fails, or a file never read early: the seal hashes it itself', async (t) => {
  const digests = new EarlyDigests()
  const dir = t.testdir()
  await digests.start(join(dir, 'missing.json'), instantOf)
  t.equal(await digests.digest(join(dir, 'missing.json')), undefined)
  t.equal(await digests.digest(join(dir, 'never.json')), undefined)
})

t.test('the rotating sink tells of a day file once it has closed it to write a later day, not of the last one', async (t) => {
  const dir = t.testdir()
  const us = (iso: string): number => Date.parse(iso) * 1000
  const seg = (day: string, iso: string): SinkChunk['segments'][number] => {
    const at = us(iso)
    return { day, records: [textRecord(at, rec(iso, at).trimEnd())], first: at, last: at }
  }
  const told: { file: string; text: string }[] = []
  const sink = new RotatingFileSink({ dir, base: 'mail_audit', ext: 'json' }, 'mail', new SourceStats(), undefined, undefined, undefined, async (path) => {
    told.push({ file: path.slice(dir.length + 1), text: readFileSync(path, 'utf8') })
  })
  const chunk = (...segments: SinkChunk['segments']): SinkChunk => ({ lo: segments[0].first, hi: segments[segments.length - 1].last + 1, rejected: [], segments })
  sink.write(chunk(seg('2026-11-17', '2026-11-17T01:00:00.000Z'), seg('2026-11-18', '2026-11-18T02:00:00.000Z')))
  sink.write(chunk(seg('2026-11-18', '2026-11-18T03:00:00.000Z'), seg('2026-11-19', '2026-11-19T04:00:00.000Z')))
  sink.end()
  await finished(sink)
  const day = (name: string): string => readFileSync(join(dir, name), 'utf8')
  t.same(told, [
    { file: 'mail_audit_2026-11-17.json', text: day('mail_audit_2026-11-17.json') },
    { file: 'mail_audit_2026-11-18.json', text: day('mail_audit_2026-11-18.json') },
  ], 'each finished day once, whole when told; the last one (still the run\'s open day) not')
  t.equal(day('mail_audit_2026-11-18.json').split('\n').length, 3, 'the day written by both chunks was told of after both')
})

t.test('sealDays writes the early digest it is given, and hashes the days it is not given one for', async (t) => {
  const dir = t.testdir({ 'mail_audit_2026-11-17.json': DAY, 'mail_audit_2026-11-18.json': rec('2026-11-18T02:00:00.000Z', 4) })
  const archive: ArchiveId = { dir, base: 'mail_audit', ext: 'json' }
  // A digest no file has: only an early digest can have put it into the manifest.
  const marked: FileDigest = { lines: 2, bytes: Buffer.byteLength(DAY), sha256: 'a'.repeat(64), first: '2026-11-17T01:00:00.000Z', last: '2026-11-17T05:00:00.000Z' }
  const asked: string[] = []
  const early = async (path: string): Promise<FileDigest | undefined> => {
    asked.push(path)
    return path.endsWith('2026-11-17.json') ? marked : undefined
  }
  await sealDays({ archive, days: ['2026-11-17', '2026-11-18'], instantOf, tool: 't', now: () => 0, early })
  const entries = readFileSync(manifestFile(archive), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SealEntry)
  t.same(asked.map((p) => p.slice(dir.length + 1)).sort(), ['mail_audit_2026-11-17.json', 'mail_audit_2026-11-18.json'])
  t.same(entries.map((e) => [e.file, e.sha256]), [
    ['mail_audit_2026-11-17.json', 'a'.repeat(64)],
    ['mail_audit_2026-11-18.json', (await digestFile(join(dir, 'mail_audit_2026-11-18.json'), instantOf)).sha256],
  ])
})

t.test('a first run over several days (each day file read back when the next one opens): verify finds every seal true', async (t) => {
  const emu = await emulator(t, { counts: { mail: 600 }, days: 5, seed: 31, end: lastNoonUtc() })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  const run = await runMain(['--lookback', '6d', '--summary-json', join(dir, 's.json')], { env, cwd: dir })
  t.equal(run.code, 0, run.stderr)
  const summary = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8')) as { sources: { seal?: { sealed: string[] } }[] }
  t.ok((summary.sources[0].seal?.sealed.length ?? 0) >= 4, `closed days sealed: ${summary.sources[0].seal?.sealed.join(', ')}`)
  const v = await runMain(['verify'], { env, cwd: dir })
  t.equal(v.code, 0, v.stdout)
  t.match(v.stdout, /sealed/)
  for (const e of readFileSync(manifestFile({ dir: mail, base: 'mail_audit', ext: 'json' }), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SealEntry)) {
    t.equal(e.sha256, (await digestFile(join(mail, e.file), instantOf)).sha256, `${e.file}: the seal is the file's digest`)
  }
})
