// Disk faults with real mechanisms. Guards: ENOSPC (a 256 KiB tmpfs), EROFS (that tmpfs remounted read-only), EACCES
// (the CLI running as an unprivileged user loses write access to its directory mid-run) and a directory removed mid-run
// each give a clear error naming the path and a non-zero exit; what is on disk stays a valid prefix with no half line;
// the next run completes the archive exactly. Needs root for mount/chown (CI runs as root); skipped otherwise.
// Only the EACCES case needs a process of its own (the CLI runs as another user); the others run main() in this
// process (runMain): the fault is in the file system, not in the process.
import t, { type Test } from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { CLI, bare, checkArchive, cliEnv, emulator, readArchive, type CliResult, runMain } from '../helpers.js'
import { exits, prefixProblems, startCli } from './util.js'
import { finished } from 'node:stream/promises'
import { SourceStats, textRecord, type SinkChunk } from '../../src/messages.js'
import { RotatingFileSink } from '../../src/sinks/file.js'

const ROOT = process.getuid?.() === 0
const NOBODY = 65534
/**
 * Whether `nobody` can load the CLI from where this clone lives (a checkout under a 0700 directory, a private home,
 * cannot be reached): asked of node itself, run as nobody, importing the CLI's modules and dependencies.
 */
const NOBODY_REACHES_CLI = ROOT && spawnSync(...bare(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(new URL(`file://${CLI.replace(/cli\.js$/, 'main.js')}`).href)})`]), { uid: NOBODY, gid: NOBODY, env: { PATH: process.env.PATH ?? '' }, cwd: '/', stdio: 'ignore' }).status === 0

/**
 * A tmpfs of `size` mounted for the test, unmounted (and its mount point removed) at its teardown. The mount point is
 * a directory of its own, outside the test's fixture directory: tap removes that one before or after the teardowns,
 * depending on which of t.testdir() and t.teardown() the test called first, and a mount point in it is busy.
 */
function tmpfs(t: Test, size: string): string {
  const mnt = mkdtempSync(join(tmpdir(), 'y360-tmpfs-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', mnt])
  t.teardown(() => {
    execFileSync('umount', ['-l', mnt])
    rmdirSync(mnt)
  })
  return mnt
}

/** An emulator of `records` mail records over 2 days, and the CLI's environment for a mail archive on a tmpfs of `size`. */
async function mailOnTmpfs(t: Test, records: number, seed: number, size: string) {
  const emu = await emulator(t, { counts: { mail: records }, days: 2, seed })
  const dir = t.testdir()
  const mnt = tmpfs(t, size)
  const mail = join(mnt, 'mail')
  return { emu, dir, mnt, mail, env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail }) }
}

/** Every line of the archive is complete (no half line) — readArchive throws otherwise. */
function noHalfLine(dir: string): boolean {
  return readdirSync(dir).filter((n) => n.endsWith('.json')).every((n) => readFileSync(join(dir, n), 'utf8').endsWith('\n'))
}

t.test('ENOSPC mid-run: exit 5 naming the file, no half line, the next run (disk grown) completes', { skip: !ROOT && 'needs root to mount a tmpfs' }, async (t) => {
  const { emu, dir, mnt, mail, env } = await mailOnTmpfs(t, 2000, 41, '256k')
  const r = await runMain(['--lookback', '3d'], { env, cwd: dir })
  t.equal(r.code, 5, exits(r, 5, 'exit 5 (SINK_WRITE)'))
  t.match(r.stderr, new RegExp(`cannot write ${mail.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/mail_audit_\\d{4}-\\d{2}-\\d{2}\\.json: the disk is full \\(ENOSPC\\); the partial write was cut back; what is on disk is a valid prefix`))
  t.ok(noHalfLine(mail), 'no file ends in a half line')
  const partial = readArchive(mail, 'mail_audit')
  t.ok(partial.lines.length > 100 && partial.lines.length < 2000, `a prefix was written (${partial.lines.length} records)`)
  t.same(prefixProblems('mail', partial, emu.truth('mail')), [])

  execFileSync('mount', ['-o', 'remount,size=64m', mnt])
  const next = await runMain([], { env, cwd: dir })
  t.equal(next.code, 0, exits(next, 0, 'the next run exits 0'))
  t.same(checkArchive('mail', readArchive(mail, 'mail_audit'), emu.truth('mail')), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 2000 })
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0, 'verify passes')
})

t.test('ENOSPC at the first write into a new day: that day file, created for it, is removed; the day before keeps its lines', { skip: !ROOT && 'needs root to mount a tmpfs' }, async (t) => {
  // One 4 KiB page of room: day A's two lines fill it, so the first write into day B (a new file) meets ENOSPC after
  // the file was created. Closing, the sink removes the file it created and never wrote: no empty day file is left,
  // and the archive agrees with the summary (which names only files written).
  const mnt = tmpfs(t, '4k')
  await firstWriteOfADay(t, mnt, false)
  // Again, with day B's file there before (empty, as another run or a user left it): the sink did not create it, so
  // it is kept as it was.
  for (const f of readdirSync(mnt)) rmSync(join(mnt, f))
  writeFileSync(join(mnt, 'mail_audit_2026-12-01.json'), '')
  await firstWriteOfADay(t, mnt, true)
})

async function firstWriteOfADay(t: Test, mnt: string, bWasThere: boolean): Promise<void> {
  const A = Date.parse('2026-11-30T00:00:00Z') * 1000
  const line = (us: number, n: number): string => JSON.stringify({ eventType: 'message_receive', date: new Date(us / 1000).toISOString(), n })
  const a = [A + 1_000_000, A + 2_000_000]
  const b = A + 86_400_000_000 + 5_000_000
  const chunk: SinkChunk = {
    lo: A, hi: b + 1, rejected: [],
    segments: [
      { day: '2026-11-30', records: a.map((us, i) => textRecord(us, line(us, i))), first: a[0], last: a[1] },
      { day: '2026-12-01', records: [textRecord(b, line(b, 2))], first: b, last: b },
    ],
  }
  const sink = new RotatingFileSink({ dir: mnt, base: 'mail_audit', ext: 'json' }, 'mail', new SourceStats())
  sink.write(chunk)
  const err = await finished(sink).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'SINK_WRITE', message: /cannot write .*mail_audit_2026-12-01\.json: the disk is full \(ENOSPC\); the partial write was cut back/ }, 'the write into day B failed, named')
  t.equal(readFileSync(join(mnt, 'mail_audit_2026-11-30.json'), 'utf8'), `${line(a[0], 0)}\n${line(a[1], 1)}\n`, 'day A: both lines')
  if (bWasThere) t.equal(readFileSync(join(mnt, 'mail_audit_2026-12-01.json'), 'utf8'), '', 'day B, there before: kept, unchanged')
  else t.same(readdirSync(mnt), ['mail_audit_2026-11-30.json'], 'day B: no empty file left behind')
}

t.test('EROFS: a read-only archive fails with the path and nothing changes; writable again, the next run completes', { skip: !ROOT && 'needs root to mount a tmpfs' }, async (t) => {
  const { emu, dir, mnt, mail, env } = await mailOnTmpfs(t, 300, 42, '16m')
  t.equal((await runMain(['--lookback', '3d'], { env, cwd: dir })).code, 0)
  const before = readArchive(mail, 'mail_audit').lines
  // Linux refuses a read-only remount while a file is open for writing, so the file system turns read-only between
  // runs; a mid-run EROFS (ext4 errors=remount-ro) takes the sink's write-error path exercised by the ENOSPC test.
  execFileSync('mount', ['-o', 'remount,ro', mnt])
  emu.inject('mail', 10)
  const r = await runMain([], { env, cwd: dir })
  t.not(r.code, 0, 'non-zero exit')
  t.match(r.stderr, mail)
  t.match(r.stderr, /read-only file system|EROFS/)
  t.same(readArchive(mail, 'mail_audit').lines, before, 'nothing changed')
  // Regression: an unwritable debug log file crashed the run later (exit 70, lock left behind) from an async error.
  const requests = emu.stats().requests
  const logRun = await runMain(['--log-file', join(mnt, 'debug.log')], { env: { ...env, MAIL_LOG_CATALOG_LOCATION: join(dir, 'other') }, cwd: dir })
  t.equal(logRun.code, 1, exits(logRun, 1, 'an unwritable --log-file is a configuration error (exit 1)'))
  // Issue 15: the configuration judges the log file's directory (with the other output files) before anything else.
  t.match(logRun.stderr, `the debug log directory ${mnt} is not writable: EROFS: read-only file system`)
  t.equal(emu.stats().requests, requests, 'nothing was fetched')
  t.notOk(existsSync(join(dir, 'other', '.y360-audit.lock')), 'no lock left behind')
  execFileSync('mount', ['-o', 'remount,rw', mnt])
  const next = await runMain([], { env, cwd: dir })
  t.equal(next.code, 0, exits(next, 0, 'writable again: exit 0'))
  t.same(checkArchive('mail', readArchive(mail, 'mail_audit'), emu.truth('mail')), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 310 })
})

/** The start of the range a run fetched (from its first log line). */
function fromOf(stderr: string): number {
  return Date.parse((/"from":"([^"]+)"/.exec(stderr) as RegExpExecArray)[1])
}

/**
 * Runs the CLI (append mode) over data denser than its range's start; calls `strike` (from the emulator's request hook)
 * once its first day file exists. As another user (`spawnAs.uid`) it is a child process; otherwise main() in this process.
 */
async function strikeMidRun(t: Test, mail: string, strike: () => void, spawnAs: { uid?: number; gid?: number }): Promise<{ r: CliResult; emu: Awaited<ReturnType<typeof emulator>>; env: Record<string, string> }> {
  let running = false
  let struck = false
  const emu = await emulator(t, {
    counts: { mail: 3000 }, days: 3, seed: 43, faults: { latencyMs: 5 },
    onRequest: () => {
      if (!struck && running && existsSync(mail) && readdirSync(mail).some((n) => n.endsWith('.json'))) {
        struck = true
        strike()
      }
    },
  })
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  const args = ['--lookback', '2d', '--concurrency', '1', '--max-pages', '3', '--no-log-file']
  running = true
  const r = spawnAs.uid === undefined ? await runMain(args, { env, cwd: dirname(mail) }) : await startCli(args, { env, cwd: dirname(mail), ...spawnAs }).done
  t.ok(struck, 'the fault struck mid-run')
  return { r, emu, env }
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

t.test('EACCES mid-run: the directory stops being writable for the (unprivileged) run: exit 5 naming the path', { skip: !ROOT ? 'needs root to run the CLI as another user' : !NOBODY_REACHES_CLI && `user nobody cannot load ${CLI} and its node_modules from where this clone lives (a parent directory is not searchable by others); clone under a world-searchable directory to run it` }, async (t) => {
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  mkdirSync(mail)
  chownSync(mail, NOBODY, NOBODY)
  chmodSync(dir, 0o755)
  const { r, emu, env } = await strikeMidRun(t, mail, () => chownSync(mail, 0, 0), { uid: NOBODY, gid: NOBODY })
  t.equal(r.code, 5, exits(r, 5, 'exit 5 (SINK_WRITE)'))
  t.match(r.stderr, new RegExp(`cannot write ${esc(mail)}/mail_audit_\\d{4}-\\d{2}-\\d{2}\\.json: permission denied \\(EACCES\\)`))
  t.match(r.stderr, 'could not remove the lock', 'the lock it cannot remove is reported, not thrown')
  // Regression: prefetched windows went on retrying against the closed client for minutes after the sink failed.
  t.notMatch(r.stderr, /UND_ERR_(CLOSED|DESTROYED)|retrying/, 'nothing is fetched or retried after the sink failed')
  const truth = emu.truth('mail', { from: fromOf(r.stderr) })
  const partial = readArchive(mail, 'mail_audit')
  t.ok(partial.lines.length > 0 && partial.lines.length < truth.length, `a prefix was written (${partial.lines.length} records)`)
  t.same(prefixProblems('mail', partial, truth), [])
  const next = await runMain(['--no-log-file'], { env, cwd: dir }) // as root again: takes the stale lock over and resumes
  t.equal(next.code, 0, exits(next, 0, 'the next run exits 0'))
  t.match(next.stderr, 'taking over the stale lock')
  t.same(checkArchive('mail', readArchive(mail, 'mail_audit'), truth), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: truth.length })
})

t.test('the archive directory removed mid-run: exit 5 naming the path; the next run rebuilds it exactly', async (t) => {
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const { r, emu, env } = await strikeMidRun(t, mail, () => rmSync(mail, { recursive: true, force: true, maxRetries: 20, retryDelay: 1 }), {}) // the run creates files in it meanwhile (ENOTEMPTY): rm again
  t.equal(r.code, 5, exits(r, 5, 'exit 5 (SINK_WRITE)'))
  t.match(r.stderr, new RegExp(`cannot write ${esc(mail)}/mail_audit_\\d{4}-\\d{2}-\\d{2}\\.json: the directory was removed \\(ENOENT\\)`))
  t.match(r.stderr, /mail: FAILED \(SINK_WRITE\)/)
  t.notMatch(r.stderr, /UND_ERR_(CLOSED|DESTROYED)|retrying/, 'nothing is fetched or retried after the sink failed')
  t.notOk(existsSync(mail), 'nothing recreated the directory behind the operator\'s back')
  const next = await runMain(['--lookback', '2d', '--no-log-file'], { env, cwd: dir })
  t.equal(next.code, 0, exits(next, 0, 'the next run exits 0'))
  const truth = emu.truth('mail', { from: fromOf(next.stderr) })
  t.same(checkArchive('mail', readArchive(mail, 'mail_audit'), truth), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: truth.length })
})
