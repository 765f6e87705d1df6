// Crash safety with real files and the real CLI. Guards: a torn tail (no '\n', or an unparseable last line) is moved to
// <file>.torn, the file truncated to its last complete line, a warning logged, and the next run completes the archive
// exactly; a corrupt line in the middle is reported with its file and byte offset and skipped, never fatal.
// The crash is simulated on the files; the runs after it need no process of their own (runMain: main() in this process).
import t from 'tap'
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkArchive, cliEnv, emulator, readArchive, runMain, lastNoonUtc } from '../helpers.js'
import { exits, summaryOf } from './util.js'

// One fixed "now" (the last noon) for the emulator and the runs: records injected now land in the newest day file
// whatever the time of day the suite runs at (just after midnight UTC they opened a new day).
const NOON = lastNoonUtc() // the runs see it a second later: what the emulator stamps "now" is inside their range

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The archive's newest day file. */
function newestFile(dir: string): string {
  return join(dir, readdirSync(dir).filter((n) => /^mail_audit_\d{4}-\d{2}-\d{2}\.json$/.test(n)).sort().at(-1) as string)
}

t.test('a torn last line without a newline is moved aside and fetched again', async (t) => {
  const emu = await emulator(t, { counts: { mail: 400 }, days: 2, seed: 11, end: NOON, clock: () => NOON })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  const first = await runMain(['--lookback', '3d'], { env, cwd: dir, now: () => NOON + 1000 })
  t.equal(first.code, 0, exits(first, 0, 'first run'))

  // What a crash mid-write leaves: the last record cut in half.
  const file = newestFile(mail)
  const whole = readFileSync(file, 'utf8')
  const lines = whole.split('\n').slice(0, -1)
  writeFileSync(file, lines.slice(0, -1).join('\n') + '\n' + (lines.at(-1) as string).slice(0, 57))
  emu.inject('mail', 7)

  const second = await runMain([], { env, cwd: dir, now: () => NOON + 1000 })
  t.equal(second.code, 0, exits(second, 0, 'the run after the crash exits 0'))
  t.match(second.stderr, new RegExp(`torn last line of ${esc(file)} \\(57 bytes\\) moved to ${esc(file)}\\.torn`))
  t.equal(readFileSync(`${file}.torn`, 'utf8'), (lines.at(-1) as string).slice(0, 57) + '\n', 'the sidecar holds exactly the torn bytes')
  t.same(checkArchive('mail', readArchive(mail, 'mail_audit'), emu.truth('mail')), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 407 })
  t.match(summaryOf(second, 'mail'), { ok: true, written: 8, repaired: 1 }, 'the torn record and the 7 new ones were written')
  const v = await runMain(['verify'], { env, cwd: dir, now: () => NOON + 1000 })
  t.equal(v.code, 0, exits(v, 0, 'verify passes'))
})

t.test('an unparseable last line (with its newline) is torn too; a corrupt middle line is reported, skipped, kept', async (t) => {
  const emu = await emulator(t, { counts: { mail: 300 }, days: 2, seed: 12, end: NOON, clock: () => NOON })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  t.equal((await runMain(['--lookback', '3d'], { env, cwd: dir, now: () => NOON + 1000 })).code, 0)

  const file = newestFile(mail)
  appendFileSync(file, '{"eventType":"message_seen","date":"2025-\n')
  const r1 = await runMain([], { env, cwd: dir, now: () => NOON + 1000 })
  t.equal(r1.code, 0, exits(r1, 0, 'unparseable tail repaired'))
  t.match(r1.stderr, `torn last line of ${file} (42 bytes) moved to ${file}.torn`)
  t.equal(readFileSync(`${file}.torn`, 'utf8'), '{"eventType":"message_seen","date":"2025-\n')
  t.same(checkArchive('mail', readArchive(mail, 'mail_audit'), emu.truth('mail')), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 300 })
  emu.inject('mail', 10) // ten records of one instant: the last lines sit inside the overlap
  t.equal((await runMain([], { env, cwd: dir, now: () => NOON + 1000 })).code, 0)

  // Damage the third line from the end (inside the overlap the tail reader reads): disk rot, not a crash.
  const lines = readFileSync(file, 'utf8').split('\n').slice(0, -1)
  const victim = lines.at(-3) as string
  const garbage = 'x'.repeat(victim.length)
  lines[lines.length - 3] = garbage
  writeFileSync(file, lines.join('\n') + '\n')
  const offset = Buffer.byteLength(lines.slice(0, -3).join('\n') + '\n')
  emu.inject('mail', 3)
  const r2 = await runMain([], { env, cwd: dir, now: () => NOON + 1000 })
  t.equal(r2.code, 0, exits(r2, 0, 'a corrupt middle line is not fatal'))
  t.match(r2.stderr, `unreadable line at byte ${offset} of ${file}; skipped`)
  const after = readFileSync(file, 'utf8').split('\n').slice(0, -1)
  t.equal(after[lines.length - 3], garbage, 'the corrupt line is left in place (evidence is not rewritten)')
  t.same(after.slice(0, lines.length), lines, 'nothing before the new records changed')
  t.equal(readFileSync(`${file}.torn`, 'utf8'), '{"eventType":"message_seen","date":"2025-\n', 'a middle line is never cut')
  // The damaged record was in the overlap, so it came again; with the 3 new ones: 4 appended, nothing twice.
  const appended = after.slice(lines.length).map((l) => JSON.parse(l) as object)
  t.equal(appended.length, 4)
  t.ok(appended.some((r) => JSON.stringify(r) === victim), 'the record of the damaged line was fetched again')

  const v = await runMain(['verify'], { env, cwd: dir, now: () => NOON + 1000 })
  t.equal(v.code, 7, 'verify reports the damaged line (exit 7)')
  t.match(v.stderr + v.stdout, 'unparseable')
})
