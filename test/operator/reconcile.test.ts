// reconcile: late arrivals inserted into the emulator's past (beyond any overlap) are found day by day, merged in, and
// the archive then equals the ground truth and passes verify; --dry-run changes nothing on disk; records the API no
// longer returns are reported (beyond its retention: said so, not an error); a SIGKILL in the middle of the repair
// leaves a valid archive that a rerun completes exactly. In-process (runMain), but for the SIGKILL (a real process).
import t, { type Test } from 'tap'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkArchive, cliEnv, emulator, exact, fakeClock, lastNoonUtc, readArchive, runMain, startCli } from '../helpers.js'
import { pythonDumps } from '../../src/pipeline/format.js'
import { ENDPOINTS } from '../../src/sources/index.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const OVERLAP_US = 120_000_000

/** Every file of a directory (names, bytes), as one hash: what "nothing changed on disk" compares. */
function dirHash(dir: string): string {
  const h = createHash('sha256')
  for (const name of readdirSync(dir).sort()) h.update(`${name}\0`).update(readFileSync(join(dir, name))).update('\0')
  return h.digest('hex')
}

const iso = (ms: number): string => new Date(ms).toISOString()

/** A mail archive fetched whole (lookback one day more than the data) from an emulator on a fixed clock at the last noon. */
async function fetchedMail(t: Test, o: { mail: number; days: number; seed: number }) {
  const now = lastNoonUtc()
  const clock = fakeClock(now)
  const emu = await emulator(t, { clock: clock.now, counts: { mail: o.mail }, days: o.days, end: now, seed: o.seed })
  const dir = t.testdir()
  const mailDir = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mailDir })
  t.equal((await runMain(['--lookback', `${o.days + 1}d`], { env, cwd: dir, now: clock.now })).code, 0, 'the archive fetched')
  return { now, clock, emu, dir, mailDir, env }
}

t.test('late arrivals in the past: found per day, --dry-run changes nothing, the repair makes the archive exact', async (t) => {
  const now = lastNoonUtc()
  const clock = fakeClock(now)
  const emu = await emulator(t, { clock: clock.now, counts: { mail: 600, disk: 300 }, days: 4, end: now, seed: 5 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), DISK_LOG_CATALOG_LOCATION: join(dir, 'disk') })
  t.equal((await runMain(['--lookback', '5d'], { env, cwd: dir, now: clock.now })).code, 0, 'full run')
  // Records whose own time is one to three days ago, visible only now: far beyond the overlap of the next runs.
  const mailLate = emu.late('mail', 7, { from: now - 3 * DAY, to: now - 2 * DAY })
  emu.late('mail', 4, { from: now - 30 * HOUR, to: now - 26 * HOUR })
  emu.late('disk', 5, { from: now - 50 * HOUR, to: now - 40 * HOUR })
  t.equal((await runMain([], { env, cwd: dir, now: clock.now })).code, 0, 'an incremental run does not see them')
  t.equal(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail'), OVERLAP_US).missing, 11)

  const range = ['--since', iso(now - 4 * DAY), '--until', iso(now)]
  const before = [dirHash(join(dir, 'mail')), dirHash(join(dir, 'disk'))]
  const dry = await runMain(['reconcile', ...range, '--dry-run', '--json'], { env, cwd: dir, now: clock.now })
  t.equal(dry.code, 10, 'records missing: exit 10')
  t.same([dirHash(join(dir, 'mail')), dirHash(join(dir, 'disk'))], before, '--dry-run changed nothing on disk')
  const doc = JSON.parse(dry.stdout)
  t.match(doc, { version: 1, ok: false, exitCode: 10, dryRun: true })
  const mail = doc.sources.find((s: { source: string }) => s.source === 'mail')
  t.match(mail, { ok: true, missing: 11, repaired: 0, unconfirmed: 0, beyondRetention: 0, changed: [] })
  const lateDay = mailLate[0] as { date: string }
  t.ok(mail.days.some((d: { day: string; missing: number }) => d.day === lateDay.date.slice(0, 10) && d.missing >= 1), 'named by day')
  t.equal(mail.days.reduce((n: number, d: { archived: number }) => n + d.archived, 0), 600, 'every archived record compared')
  t.match(doc.sources.find((s: { source: string }) => s.source === 'disk'), { missing: 5 })

  const fix = await runMain(['reconcile', ...range], { env, cwd: dir, now: clock.now })
  t.equal(fix.code, 10, 'records were missing (now repaired): exit 10')
  t.match(fix.stdout, /^mail: .*: \d+ day\(s\) compared, 11 missing, 11 merged in; 0 unconfirmed, 0 beyond the API's retention$/m)
  t.match(fix.stdout, /^disk: .* 5 missing, 5 merged in/m)
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail'), OVERLAP_US), exact(611), 'mail equals the truth')
  t.same(checkArchive('disk', readArchive(join(dir, 'disk'), 'disk_audit'), emu.truth('disk'), OVERLAP_US), exact(305), 'disk equals the truth')
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0, 'verify passes')
  const again = await runMain(['reconcile', ...range], { env, cwd: dir, now: clock.now })
  t.equal(again.code, 0, 'nothing missing any more: exit 0')
  t.match(again.stdout, /^mail: .* nothing missing; 0 unconfirmed/m)
})

t.test('records the API no longer returns: unconfirmed within its retention, "beyond retention" past it (exit 0)', async (t) => {
  const now = lastNoonUtc()
  const clock = fakeClock(now)
  const emu = await emulator(t, { clock: clock.now, counts: { events: 200 }, days: 2, end: now, seed: 6 })
  const dir = t.testdir()
  const eventsDir = join(dir, 'all')
  const env = cliEnv(emu, { NEW_LOG_CATALOG_LOCATION: eventsDir })
  t.equal((await runMain(['--lookback', '3d', '--line-format', 'seed'], { env, cwd: dir, now: clock.now })).code, 0)
  // A day file the Python script wrote 200 days ago (the events API keeps 180), and one record of yesterday that the
  // API never had, written the Python way into the day file where it belongs, in order.
  const old = { event: { occurred_at: iso(now - 200 * DAY), type: 'id_login', idempotency_id: 'old-1' }, user_login: 'a@example.org' }
  writeFileSync(join(eventsDir, `y360_audit_${iso(now - 200 * DAY).slice(0, 10)}.json`), pythonDumps(old) + '\n')
  const name = readdirSync(eventsDir).filter((n) => n.startsWith('y360_audit_')).sort().at(-2) as string
  const lines = readFileSync(join(eventsDir, name), 'utf8').split('\n').slice(0, -1)
  const ts = (l: string): number => ENDPOINTS.events.timestamp(JSON.parse(l)) as number
  const stray = { event: { occurred_at: new Date(Math.floor(ts(lines[0]) / 1000)).toISOString(), type: 'id_login', idempotency_id: 'stray-1' } }
  writeFileSync(join(eventsDir, name), [pythonDumps(stray), ...lines].map((l) => l + '\n').join(''))

  const r = await runMain(['reconcile', '--since', iso(now - 201 * DAY), '--json'], { env, cwd: dir, now: clock.now })
  t.equal(r.code, 0, 'nothing missing: exit 0')
  const src = JSON.parse(r.stdout).sources[0]
  t.match(src, { source: 'events', missing: 0, unconfirmed: 1, beyondRetention: 1 })
  t.match(src.days.find((d: { beyondRetention: number }) => d.beyondRetention === 1), { archived: 1, api: 0, day: iso(now - 200 * DAY).slice(0, 10) })
  const text = await runMain(['reconcile', '--since', iso(now - 201 * DAY)], { env, cwd: dir, now: clock.now })
  t.match(text.stdout, /1 older than the API's retention \(the API no longer has them; not an error\)/)
  t.match(text.stdout, new RegExp(`${name}: \\d+ archived, \\d+ from the API, 0 missing, 1 archived but not returned by the API`))
})

t.test('another zone: an archive in Europe/Moscow days is reconciled in its zone', async (t) => {
  const now = lastNoonUtc()
  const clock = fakeClock(now)
  const emu = await emulator(t, { clock: clock.now, counts: { events: 300 }, days: 3, end: now, seed: 7 })
  const dir = t.testdir()
  const env = cliEnv(emu, { NEW_LOG_CATALOG_LOCATION: join(dir, 'all'), Y360_TIMEZONE: 'Europe/Moscow' })
  t.equal((await runMain(['--lookback', '4d'], { env, cwd: dir, now: clock.now })).code, 0)
  // Around Moscow midnight (21:00 UTC) two days ago: the UTC and local days differ there.
  emu.late('events', 6, { from: now - 39 * HOUR - 30 * 60_000, to: now - 39 * HOUR + 30 * 60_000 })
  const r = await runMain(['reconcile', '--since', iso(now - 4 * DAY), '--json'], { env, cwd: dir, now: clock.now })
  t.equal(r.code, 10)
  t.match(JSON.parse(r.stdout).sources[0], { missing: 6, repaired: 6 })
  const got = checkArchive('events', readArchive(join(dir, 'all'), 'y360_audit'), emu.truth('events'), OVERLAP_US)
  t.same([got.missing, got.extra, got.duplicates, got.total], [0, 0, 0, 306], 'exact (days named in Moscow time)')
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0, 'verify passes in the zone (wrong-day checked there)')
})

t.test('reconcile refuses what it cannot do', async (t) => {
  const emu = await emulator(t)
  const dir = t.testdir({ mail: {} })
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const noRange = await runMain(['reconcile'], { env, cwd: dir })
  t.equal(noRange.code, 1)
  t.match(noRange.stderr, /reconcile needs --since/)
  const stdout = await runMain(['reconcile', '--since', '-1d', '--stdout'], { env, cwd: dir })
  t.equal(stdout.code, 1)
  t.match(stdout.stderr, /--stdout is not an option of reconcile/)
  const dry = await runMain(['--dry-run'], { env, cwd: dir })
  t.equal(dry.code, 1)
  t.match(dry.stderr, /--dry-run is an option of reconcile/)
  const missingDir = await runMain(['reconcile', '--since', '-1d'], { env: { ...env, MAIL_LOG_CATALOG_LOCATION: join(dir, 'nope') }, cwd: dir })
  t.equal(missingDir.code, 1, 'the directory must exist')
})

t.test('SIGKILL during the repair leaves a valid archive; a rerun completes it exactly', async (t) => {
  const { now, clock, emu, dir, mailDir, env } = await fetchedMail(t, { mail: 400, days: 4, seed: 8 })
  emu.late('mail', 3, { from: now - 3 * DAY, to: now - 3 * DAY + HOUR })
  emu.late('mail', 3, { from: now - 2 * DAY, to: now - 2 * DAY + HOUR })
  emu.late('mail', 3, { from: now - DAY, to: now - DAY + HOUR })
  // The child's clock is the real one: its range ends at its now, after the emulator's fixed now (nothing there).
  const range = ['--since', iso(now - 4 * DAY), '--max-pages', '1'] // small windows: the late days repaired one by one
  // Paused before the second merged day file is renamed into place: the first day is merged and renamed, the second's
  // temp file is open. (Not "before the third batch of repairs": how a late day's records fall into windows depends
  // on the child's real clock against the emulator's fixed noon, and a day split into three batches failed the test.)
  const cli = startCli(['reconcile', ...range], { env: { ...env, Y360_TEST_RECONCILE_PAUSE: 'rename:2' }, cwd: dir })
  await cli.waitLine(/test pause before rename 2/)
  t.ok(readdirSync(mailDir).some((n) => n.includes('.tmp')), 'a merge temp file is open at the kill')
  cli.child.kill('SIGKILL')
  t.equal((await cli.done).signal, 'SIGKILL')
  const mid = checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US)
  t.same([mid.missing, mid.extra, mid.duplicates, mid.outOfOrder], [6, 0, 0, 0], 'the first day repaired, the others as they were')
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0, 'verify passes after the kill')
  const rerun = await runMain(['reconcile', ...range], { env, cwd: dir, now: clock.now })
  t.equal(rerun.code, 10)
  t.match(rerun.stdout, /6 missing, 6 merged in/)
  t.same(checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US), exact(409), 'exact after the rerun')
  t.same(readdirSync(mailDir).filter((n) => n.includes('.tmp')), [], 'the dead run\'s temp file was removed')
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0)
})

t.test('SIGKILL between a sealed day\'s reopen and its rename: the day is open (verify passes), the rerun repairs and reseals it', async (t) => {
  const { now, clock, emu, dir, mailDir, env } = await fetchedMail(t, { mail: 200, days: 3, seed: 9 })
  // Every day before today is closed at noon (its end plus the 1 h settle time has passed): one seal entry each.
  const today = iso(now).slice(0, 10)
  const closed = readdirSync(mailDir).filter((n) => /^mail_audit_\d{4}-\d{2}-\d{2}\.json$/.test(n) && n.slice(11, 21) < today).sort()
  const sealed = readFileSync(join(mailDir, 'mail_audit.manifest.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; file: string }).filter((e) => e.kind === 'seal').map((e) => e.file).sort()
  t.ok(closed.length > 0, `closed days (${closed.length})`)
  t.same(sealed, closed, 'the closed days are sealed, each once')
  emu.late('mail', 4, { from: now - 2 * DAY, to: now - 2 * DAY + HOUR })
  const range = ['--since', iso(now - 3 * DAY)]
  const cli = startCli(['reconcile', ...range], { env: { ...env, Y360_TEST_RECONCILE_PAUSE: 'rename:1' }, cwd: dir })
  await cli.waitLine(/test pause before rename 1/)
  cli.child.kill('SIGKILL')
  t.equal((await cli.done).signal, 'SIGKILL')
  const day = iso(now - 2 * DAY).slice(0, 10)
  const manifest = (): string => readFileSync(join(mailDir, 'mail_audit.manifest.jsonl'), 'utf8')
  t.match(manifest().trim().split('\n').at(-1), `"kind":"reopen","file":"mail_audit_${day}.json"`, 'the day was reopened before the kill')
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0, 'a reopened day is checked as an open day: verify passes')
  const rerun = await runMain(['reconcile', ...range], { env, cwd: dir, now: clock.now })
  t.equal(rerun.code, 10)
  t.match(rerun.stdout, /4 missing, 4 merged in/)
  t.same(checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US), exact(204))
  t.match(manifest().trim().split('\n').at(-1), `"kind":"reseal","file":"mail_audit_${day}.json"`, 'resealed')
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0, 'verify passes')
})

t.test('reconcile changes only the sealed days that lack records; one changed outside the tool is named (sealed-day-changed)', async (t) => {
  const { now, clock, emu, dir, mailDir, env } = await fetchedMail(t, { mail: 200, days: 3, seed: 10 })
  const manifest = join(mailDir, 'mail_audit.manifest.jsonl')
  const sealed = readFileSync(manifest, 'utf8')
  const nothing = await runMain(['reconcile', '--since', iso(now - 3 * DAY)], { env, cwd: dir, now: clock.now })
  t.equal(nothing.code, 0)
  t.equal(readFileSync(manifest, 'utf8'), sealed, 'nothing missing: no manifest entry')
  const day = iso(now - 2 * DAY).slice(0, 10)
  const file = join(mailDir, `mail_audit_${day}.json`)
  const lines = readFileSync(file, 'utf8').split('\n')
  writeFileSync(file, [...lines.slice(0, 3), ...lines.slice(4)].join('\n')) // one sealed line removed
  emu.late('mail', 2, { from: now - DAY, to: now - DAY + HOUR }) // into another day
  const r = await runMain(['reconcile', '--since', iso(now - 3 * DAY)], { env, cwd: dir, now: clock.now })
  t.equal(r.code, 10, 'records were missing')
  t.match(r.stdout, /^mail: .* 3 missing, 3 merged in/m, 'the removed line and the two late arrivals')
  t.match(r.stderr, new RegExp(`mail_audit_${day}.json no longer matches its seal`), 'the edited day is named before it is written into')
  const entries = readFileSync(manifest, 'utf8').trim().split('\n').slice(sealed.trim().split('\n').length).map((l) => JSON.parse(l) as { kind: string; day: string })
  t.same(entries.map((e) => `${e.kind} ${e.day}`).sort(), [`reopen ${day}`, `reopen ${iso(now - DAY).slice(0, 10)}`, `reseal ${day}`, `reseal ${iso(now - DAY).slice(0, 10)}`].sort(), 'only the two changed days got entries')
  t.same(checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US), exact(202))
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0)
})

/** Reverses the key order at every level: "another key order" than the API's. */
function reorder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reorder)
  if (v === null || typeof v !== 'object') return v
  return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reorder(x)]))
}

t.test('an archive the Python script wrote (json.dumps spacing, another key order, no seals): only the late ones are missing', async (t) => {
  const now = lastNoonUtc()
  const clock = fakeClock(now)
  const emu = await emulator(t, { clock: clock.now, counts: { disk: 300 }, days: 3, end: now, seed: 13 })
  const dir = t.testdir()
  const diskDir = join(dir, 'disk')
  mkdirSync(diskDir)
  const byDay = new Map<string, string>()
  for (const r of emu.truth('disk') as { date: string }[]) byDay.set(r.date.slice(0, 10), (byDay.get(r.date.slice(0, 10)) ?? '') + pythonDumps(reorder(r)) + '\n')
  for (const [day, text] of byDay) writeFileSync(join(diskDir, `disk_audit_${day}.json`), text)
  const python = new Map([...byDay].map(([day, text]) => [day, text.split('\n').slice(0, -1)]))
  emu.late('disk', 4, { from: now - 2 * DAY, to: now - DAY })
  const env = cliEnv(emu, { DISK_LOG_CATALOG_LOCATION: diskDir })
  const r = await runMain(['reconcile', '--since', iso(now - 3 * DAY), '--json'], { env, cwd: dir, now: clock.now })
  t.equal(r.code, 10)
  t.match(JSON.parse(r.stdout).sources[0], { missing: 4, repaired: 4, unconfirmed: 0 }, 'the Python lines are the API\'s records')
  t.same(checkArchive('disk', readArchive(diskDir, 'disk_audit'), emu.truth('disk'), OVERLAP_US), exact(304))
  for (const [day, lines] of python) {
    const kept = new Set(lines)
    t.same(readFileSync(join(diskDir, `disk_audit_${day}.json`), 'utf8').split('\n').filter((l) => kept.has(l)), lines, `${day}: the Python lines kept byte for byte, in order`)
  }
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0)
})

t.test('a signed chain: reconcile --seal-key reopens and reseals with the key; verify --seal-pubkey passes', async (t) => {
  const now = lastNoonUtc()
  const clock = fakeClock(now)
  const emu = await emulator(t, { clock: clock.now, counts: { mail: 200 }, days: 3, end: now, seed: 14 })
  const dir = t.testdir()
  const mailDir = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mailDir })
  const pair = generateKeyPairSync('ed25519')
  writeFileSync(join(dir, 'seal.pem'), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
  writeFileSync(join(dir, 'seal.pub.pem'), pair.publicKey.export({ type: 'spki', format: 'pem' }))
  const key = ['--seal-key', join(dir, 'seal.pem')]
  t.equal((await runMain(['--lookback', '4d', ...key], { env, cwd: dir, now: clock.now })).code, 0)
  emu.late('mail', 3, { from: now - 2 * DAY, to: now - 2 * DAY + HOUR })
  const r = await runMain(['reconcile', '--since', iso(now - 3 * DAY), ...key], { env, cwd: dir, now: clock.now })
  t.equal(r.code, 10, r.stderr)
  const entries = readFileSync(join(mailDir, 'mail_audit.manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; sig?: string })
  t.same(entries.slice(-2).map((e) => e.kind), ['reopen', 'reseal'])
  t.ok(entries.every((e) => typeof e.sig === 'string'), 'every entry signed')
  const v = await runMain(['verify', '--seal-pubkey', join(dir, 'seal.pub.pem')], { env, cwd: dir })
  t.equal(v.code, 0, v.stdout)
  t.same(checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US), exact(203))
})

t.test('--config: every organisation reconciled, lines led by its name; the exit code is the most severe (a refused token: 3)', async (t) => {
  const now = lastNoonUtc()
  const clock = fakeClock(now)
  const a = await emulator(t, { clock: clock.now, counts: { mail: 300 }, days: 3, end: now, seed: 8, org: 101 })
  const b = await emulator(t, { clock: clock.now, counts: { mail: 200 }, days: 3, end: now, seed: 9, org: 102 })
  const dir = t.testdir()
  const entry = (emu: typeof a, name: string): Record<string, unknown> => ({ org: emu.org, token: emu.token, 'api-url': emu.url, 'cloud-api-url': emu.url, 'mail-dir': join(dir, name) })
  writeFileSync(join(dir, 'orgs.json'), JSON.stringify({ 'no-log-file': true, 'retry-delay': '5ms', orgs: [entry(a, 'a'), entry(b, 'b')] }))
  const env = { PATH: process.env.PATH ?? '', TZ: 'UTC' }
  t.equal((await runMain(['--config', 'orgs.json', '--lookback', '4d'], { env, cwd: dir, now: clock.now })).code, 0, 'both fetched')
  a.late('mail', 6, { from: now - 2 * DAY, to: now - DAY })
  const range = ['--since', iso(now - 3 * DAY), '--until', iso(now)]
  const text = await runMain(['reconcile', '--config', 'orgs.json', ...range], { env, cwd: dir, now: clock.now })
  t.equal(text.code, 10, 'one organisation lacked records: exit 10')
  t.match(text.stdout, /^101\/mail: .* 6 missing, 6 merged in;/m)
  t.match(text.stdout, /^102\/mail: .* nothing missing;/m)
  t.same(checkArchive('mail', readArchive(join(dir, 'a'), 'mail_audit'), a.truth('mail'), OVERLAP_US), exact(306), 'the first organisation equals its truth')
  t.same(checkArchive('mail', readArchive(join(dir, 'b'), 'mail_audit'), b.truth('mail'), OVERLAP_US), exact(200), 'the second is untouched and exact')
  t.equal((await runMain(['verify', '--config', 'orgs.json'], { env, cwd: dir })).code, 0, 'verify --config passes after the repair')

  writeFileSync(join(dir, 'orgs.json'), JSON.stringify({ 'no-log-file': true, 'retry-delay': '5ms', orgs: [entry(a, 'a'), { ...entry(b, 'b'), token: 'y0_revoked-token-000' }] }))
  b.late('mail', 2, { from: now - 2 * DAY, to: now - DAY })
  a.late('mail', 3, { from: now - 2 * DAY, to: now - DAY })
  const json = await runMain(['reconcile', '--config', 'orgs.json', ...range, '--json'], { env, cwd: dir, now: clock.now })
  t.equal(json.code, 3, 'a refused token outranks records missing elsewhere')
  const doc = JSON.parse(json.stdout) as { exitCode: number; orgs: { name: string; exitCode: number; sources: { source: string; missing: number }[] }[] }
  t.same(doc.orgs.map((o) => [o.name, o.exitCode, o.sources.map((x) => [x.source, x.missing])]), [['101', 10, [['mail', 3]]], ['102', 3, [['mail', 0]]]])
  t.same(checkArchive('mail', readArchive(join(dir, 'a'), 'mail_audit'), a.truth('mail'), OVERLAP_US), exact(309), 'the other organisation was still repaired')
})
