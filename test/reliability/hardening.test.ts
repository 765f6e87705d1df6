// A filesystem that cannot be turned against the tool (issue 13, points 3 and 6), against prepared directories.
// Guards: a day file that is a link to a file outside the archive, a directory or a FIFO is refused (exit 5, the path
// named, no hang) and the link's target is unchanged; links planted on the `.torn`, `.rejected`, state, summary and
// metrics names are never followed (targets unchanged); a backfill under umask 077 keeps 0644/0640 day files as they
// were; a merge temp file left by a SIGKILLed run is removed by the next run; a 320 MiB unterminated (sparse) last line is
// moved to `.torn` a block at a time, with the process's memory bounded by the block, not by the line.
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, cliEnv, collect, emulator, readArchive, runCli, runMain, bare } from '../helpers.js'
import type { Emulator } from '../../src/emulator/index.js'

const DAY = 86_400_000
const MiB = 1024 * 1024
// The emulator's data ends an hour ago and spans two days; runs fetch the last three (the CLI's clock is real).
const END = Date.now() - 3_600_000

/** An emulator with 60 mail records over the two days before END. */
async function mailEmu(t: Test, faults = {}): Promise<Emulator> {
  return emulator(t, { counts: { mail: 60 }, days: 2, end: END, seed: 7, faults })
}

const dateOf = (r: object): string => String((r as { date: string }).date)

/** Mail's truth as archive lines (compact: as the API sent them) of one UTC day, ascending. */
function truthLines(emu: Emulator, day: string): string[] {
  return emu.truth('mail').filter((r) => dateOf(r).startsWith(day)).map((r) => JSON.stringify(r))
}

/** The UTC days of the truth: the oldest and the newest. */
function days(emu: Emulator): { OLDEST: string; NEWEST: string; ALL: string[] } {
  const all = [...new Set(emu.truth('mail').map((r) => dateOf(r).slice(0, 10)))].sort()
  return { OLDEST: all[0], NEWEST: all[all.length - 1], ALL: all }
}

function run(emu: Emulator, dir: string, args: string[], extra: Record<string, string> = {}): ReturnType<typeof runCli> {
  return runCli(['--lookback', '3d', ...args], { env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), ...extra }), cwd: dir })
}

t.test('a day file that is a link to a file outside the archive: exit 5 naming it, the target unchanged', async (t) => {
  const emu = await mailEmu(t)
  const { NEWEST: TODAY } = days(emu)
  const dir = t.testdir({ mail: {}, outside: { 'secret.txt': 'root-only line without a newline' } })
  chmodSync(join(dir, 'outside', 'secret.txt'), 0o600)
  const link = join(dir, 'mail', `mail_audit_${TODAY}.json`)
  symlinkSync(join(dir, 'outside', 'secret.txt'), link)
  const r = await run(emu, dir, [])
  t.equal(r.code, 5, r.stderr)
  t.match(r.stderr, link, 'the message names the link')
  t.equal(readFileSync(join(dir, 'outside', 'secret.txt'), 'utf8'), 'root-only line without a newline', 'the target is unchanged')
  t.equal(statSync(join(dir, 'outside', 'secret.txt')).mode & 0o777, 0o600)
  t.same(readdirSync(join(dir, 'mail')).filter((n) => !n.startsWith('.')), [`mail_audit_${TODAY}.json`], 'no .torn, no other file')
  t.ok(lstatSync(link).isSymbolicLink(), 'the link itself is left for the operator')
})

t.test('a directory or a FIFO named like a day file: exit 5 naming it, no hang', async (t) => {
  const emu = await mailEmu(t)
  const { NEWEST: TODAY } = days(emu)
  const dir = t.testdir({ mail: {} })
  const name = join(dir, 'mail', `mail_audit_${TODAY}.json`)
  mkdirSync(name)
  const d = await run(emu, dir, [])
  t.equal(d.code, 5, `a directory: exit 5 (a write problem, not an internal error)\n${d.stderr}`)
  t.match(d.stderr, name)
  spawnSync('rmdir', [name])
  t.equal(spawnSync('mkfifo', [name]).status, 0, 'mkfifo')
  const f = await run(emu, dir, []) // would hang forever if the FIFO were opened for reading
  t.equal(f.code, 5, f.stderr)
  t.match(f.stderr, name)
  t.ok(lstatSync(name).isFIFO(), 'the FIFO is left as it was')
})

t.test('links planted on .torn, .rejected, state, summary and metrics names are never followed', async (t) => {
  const dir = t.testdir({ mail: {}, state: {}, out: {}, targets: { torn: 'T', rejected: 'R', state: 'S', summary: 'U', metrics: 'M' } })
  const target = (n: string): string => join(dir, 'targets', n)
  const unchanged = (what: string): void => void t.same(['torn', 'rejected', 'state', 'summary', 'metrics'].map((n) => readFileSync(target(n), 'utf8')), ['T', 'R', 'S', 'U', 'M'], `${what}: every target unchanged`)

  // .torn: a torn tail in the newest day file must be moved to <file>.torn, which is a link.
  const emu = await mailEmu(t)
  const { OLDEST } = days(emu)
  const day = join(dir, 'mail', `mail_audit_${OLDEST}.json`)
  writeFileSync(day, `${truthLines(emu, OLDEST).slice(0, 3).join('\n')}\n{"torn`)
  symlinkSync(target('torn'), `${day}.torn`)
  const a = await run(emu, dir, [])
  t.equal(a.code, 5, `the .torn name is a link: exit 5\n${a.stderr}`)
  t.match(a.stderr, `${day}.torn`)
  t.equal(readFileSync(day, 'utf8').endsWith('{"torn'), true, 'the tail is not cut when it could not be kept')
  unchanged('.torn')

  // .rejected: records without a timestamp are set aside in mail_audit.rejected, which is a link.
  const emu2 = await mailEmu(t, { missingTimestamp: 0.2 })
  const dir2 = join(dir, 'two')
  mkdirSync(join(dir2, 'mail'), { recursive: true })
  symlinkSync(target('rejected'), join(dir2, 'mail', 'mail_audit.rejected'))
  const b = await run(emu2, dir2, [])
  t.equal(b.code, 5, `the .rejected name is a link: exit 5\n${b.stderr}`)
  t.match(b.stderr, join(dir2, 'mail', 'mail_audit.rejected'))
  unchanged('.rejected')

  // State, summary and metrics are replaced by rename: the link is replaced, its target never written.
  symlinkSync(target('state'), join(dir, 'state', 'cursor.json'))
  symlinkSync(target('summary'), join(dir, 'out', 'summary.json'))
  symlinkSync(target('metrics'), join(dir, 'out', 'y360.prom'))
  const c = await runCli(['--stdout', '--sources', 'mail', '--lookback', '3d', '--summary-json', join(dir, 'out', 'summary.json'), '--metrics-file', join(dir, 'out', 'y360.prom'), '--state-file', join(dir, 'state', 'cursor.json')], { env: cliEnv(emu, {}), cwd: dir })
  // The state file link holds 'S', which is not a cursor: refused before anything is written.
  t.equal(c.code, 1, c.stderr)
  t.match(c.stderr, `the state file ${join(dir, 'state', 'cursor.json')} is not a y360-audit cursor`)
  unchanged('a state file link read as a cursor')
  spawnSync('rm', [join(dir, 'state', 'cursor.json')])
  symlinkSync(join(dir, 'targets', 'missing'), join(dir, 'state', 'cursor.json')) // a dangling link: read as no cursor
  const d = await runCli(['--stdout', '--sources', 'mail', '--lookback', '3d', '--summary-json', join(dir, 'out', 'summary.json'), '--metrics-file', join(dir, 'out', 'y360.prom'), '--state-file', join(dir, 'state', 'cursor.json')], { env: cliEnv(emu, {}), cwd: dir })
  t.equal(d.code, 0, d.stderr)
  t.equal(d.stdout.split('\n').filter(Boolean).length, 60)
  for (const p of ['state/cursor.json', 'out/summary.json', 'out/y360.prom']) t.ok(lstatSync(join(dir, p)).isFile(), `${p} is now a regular file of its own`)
  t.notOk(readdirSync(join(dir, 'targets')).includes('missing'), 'the dangling link was not followed to create its target')
  unchanged('state, summary, metrics')
})

t.test('a backfill under umask 077 keeps each day file\'s mode (0644 and 0640)', async (t) => {
  const emu = await mailEmu(t)
  const dir = t.testdir({ mail: {} })
  const { OLDEST, NEWEST } = days(emu)
  // Not sealed: dropping lines of sealed days would be named as such (exit 8), not the point here.
  const first = await run(emu, dir, ['--no-seal'])
  t.equal(first.code, 0, first.stderr)
  const older = join(dir, 'mail', `mail_audit_${OLDEST}.json`)
  const newer = join(dir, 'mail', `mail_audit_${NEWEST}.json`)
  // Drop some lines from both files so that the backfill has to merge (rewrite) them.
  for (const f of [older, newer]) writeFileSync(f, readFileSync(f, 'utf8').split('\n').filter((_, i) => i % 3 !== 0 || i === 0).join('\n'))
  for (const f of [older, newer]) if (!readFileSync(f, 'utf8').endsWith('\n')) writeFileSync(f, `${readFileSync(f, 'utf8')}\n`)
  chmodSync(older, 0o644)
  chmodSync(newer, 0o640)
  const r = await collect(spawn(...bare('sh', ['-c', 'umask 077; exec "$0" "$@"', process.execPath, CLI, '--since', new Date(END - 3 * DAY).toISOString()]), { cwd: dir, env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }) }))
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, 'backfill')
  const all = readArchive(join(dir, 'mail'), 'mail_audit')
  t.equal(all.lines.length, 60, 'the merged files hold every record again')
  t.equal(statSync(older).mode & 0o777, 0o644, 'a 0644 file stays 0644 (a SIEM reader keeps access)')
  t.equal(statSync(newer).mode & 0o777, 0o640, 'a 0640 file stays 0640 (not 0600 from the umask)')
})

t.test('a merge temp file left by a SIGKILLed backfill is removed by the next run', async (t) => {
  const emu = await mailEmu(t)
  const dir = t.testdir({ mail: {} })
  const { NEWEST, ALL } = days(emu)
  const first = await run(emu, dir, [])
  t.equal(first.code, 0, first.stderr)
  const stale = join(dir, 'mail', `.mail_audit_${NEWEST}.json.merge-0123456789ab.tmp`)
  const other = join(dir, 'mail', '.notes.tmp') // not a temp name of ours: kept
  writeFileSync(stale, '{"half":')
  writeFileSync(other, 'x')
  const r = await run(emu, dir, [])
  t.equal(r.code, 0, r.stderr)
  t.same(readdirSync(join(dir, 'mail')).sort(), ['.notes.tmp', 'mail_audit.manifest.jsonl', ...ALL.map((d) => `mail_audit_${d}.json`)].sort(), 'the dead run\'s temp file is gone, nothing else (the seals stay)')
})

t.test('a 320 MiB sparse unterminated last line: moved to .torn a block at a time, memory bounded by the block', async (t) => {
  const emu = await mailEmu(t)
  const dir = t.testdir({ mail: {} })
  const { OLDEST } = days(emu)
  const day = join(dir, 'mail', `mail_audit_${OLDEST}.json`)
  const good = `${truthLines(emu, OLDEST).slice(0, 5).join('\n')}\n`
  writeFileSync(day, `${good}{"date":"torn by a power loss`)
  const size = 320 * MiB
  truncateSync(day, size) // the rest: a hole, read as NUL bytes, no newline anywhere
  const before = process.resourceUsage().maxRSS * 1024
  const r = await runMain(['--lookback', '3d'], { env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }), cwd: dir })
  const grown = process.resourceUsage().maxRSS * 1024 - before
  t.equal(r.code, 0, r.stderr)
  t.equal(statSync(`${day}.torn`).size, size - Buffer.byteLength(good) + 1, 'the whole torn tail (and a newline) is in .torn')
  t.ok(readFileSync(day, 'utf8').startsWith(good), 'the valid lines stay')
  t.equal(readArchive(join(dir, 'mail'), 'mail_audit').lines.length, 60, 'and the run completed the archive after them')
  // The line is 320 MiB: buffering it would grow the heap by at least that (more than the bound below). The reader's bound is MAX_LINE (1 MiB) and the copy's block 1 MiB.
  t.ok(grown < 200 * MiB, `peak RSS grew by ${Math.round(grown / MiB)} MiB for a ${size / MiB} MiB line`)
  spawnSync('rm', ['-f', `${day}.torn`, day]) // 320 MiB of real blocks: not left in the fixtures
})
