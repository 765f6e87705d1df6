// Sealed days end to end (in-process runs against the emulator, fixed clocks): a run seals every closed day (its end
// plus --seal-settle) and not the open one; the chain head is in --summary-json, the metrics file and the log; verify
// passes, then names a tampered day (text and --json) with exit 7; a backfill into a sealed day reseals it; signing
// with --seal-key verifies with its public key only; a Python-written archive is sealed as it is; the days of another
// --timezone are sealed at their own ends; --no-seal seals nothing; a damaged manifest is never extended (exit 7).
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cliEnv, emulator, lastNoonUtc, logMessages, runMain, summaryOf } from '../helpers.js'

const NOON = lastNoonUtc()
const DAY = 86_400_000
const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10)
const manifest = (dir: string, base = 'mail_audit'): Record<string, unknown>[] =>
  readFileSync(join(dir, `${base}.manifest.jsonl`), 'utf8').split('\n').slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>)

t.test('a run seals the closed days; head in summary, metrics and log; verify passes, then names tampering', async (t) => {
  const emu = await emulator(t, { counts: { mail: 300 }, days: 3, seed: 61, end: NOON, clock: () => NOON })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  const now = (): number => NOON + 1000
  const r = await runMain(['--lookback', '4d', '--metrics-file', join(dir, 'y360.prom')], { env, cwd: dir, now, summary: true })
  t.equal(r.code, 0, r.stderr)
  const closed = [3, 2, 1].map((n) => `mail_audit_${day(NOON - n * DAY)}.json`)
  t.same(manifest(mail).map((e) => [e.seq, e.kind, e.file]), closed.map((f, i) => [i, 'seal', f]), 'the three closed days, in order; today stays open')
  const seal = summaryOf(r, 'mail').seal
  t.match(seal, { entries: 3, sealed: closed, resealed: [] })
  t.match(seal?.head, /^[0-9a-f]{64}$/)
  t.match(readFileSync(join(dir, 'y360.prom'), 'utf8'), `y360_audit_seal_head_info{source="mail",head="${seal?.head as string}"} 1\n`)
  t.match(readFileSync(join(dir, 'y360.prom'), 'utf8'), 'y360_audit_days_sealed{source="mail"} 3')
  t.ok(logMessages(r.stderr).includes(`mail: sealed ${closed.join(', ')}; seal chain head ${seal?.head as string} (3 entries)`), 'the log names the days and the head')

  const again = await runMain([], { env, cwd: dir, now, summary: true })
  t.match(summaryOf(again, 'mail').seal, { head: seal?.head, entries: 3, sealed: [], resealed: [] }, 'nothing sealed twice')

  const ok = await runMain(['verify'], { env, cwd: dir })
  t.equal(ok.code, 0, ok.stdout)
  t.match(ok.stdout, `  seals: ${join(mail, 'mail_audit.manifest.jsonl')}: 3 entries, head ${seal?.head as string}, 3 files sealed, 1 open\n`)
  // The head kept outside (here: from the summary) must still be an entry of the manifest.
  t.equal((await runMain(['verify', '--seal-head', `mail:${seal?.head as string}`], { env, cwd: dir })).code, 0)
  const path = join(mail, 'mail_audit.manifest.jsonl')
  const whole = readFileSync(path, 'utf8')
  writeFileSync(path, whole.split('\n').slice(0, 2).join('\n') + '\n') // the last entry cut: the chain itself is consistent
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0, 'a cut tail leaves a consistent chain (its day looks open)...')
  const cut = await runMain(['verify', '--seal-head', `mail:${seal?.head as string}`], { env, cwd: dir })
  t.equal(cut.code, 7, '...which only the head kept outside shows')
  t.match(cut.stdout, `${path}: chain-head: the chain head kept outside, ${seal?.head as string}, is no entry of this manifest (2 entries)`)
  writeFileSync(path, whole)
  const typo = await runMain(['verify', '--seal-head', 'mail:abc'], { env, cwd: dir })
  t.equal(typo.code, 1)
  t.match(typo.stderr, '--seal-head: "mail:abc" is not <source>:<64 hex digits>')
  const onFetch = await runMain(['--seal-pubkey', path], { env, cwd: dir })
  t.equal(onFetch.code, 1)
  t.match(onFetch.stderr, '--seal-pubkey is an option of verify')

  // One changed character in a sealed day: still valid JSON, in order, in its day: only the seal sees it.
  const victim = join(mail, closed[1])
  writeFileSync(victim, readFileSync(victim, 'utf8').replace(/"userUid":"(\d)/, (_m, d: string) => `"userUid":"${(Number(d) + 1) % 10}`))
  const bad = await runMain(['verify'], { env, cwd: dir })
  t.equal(bad.code, 7)
  t.match(bad.stdout, `mail: 4 files, 300 records`)
  t.match(bad.stdout, `  ${victim}: seal-changed: sealed by entry 1 (manifest line 2)`)
  const json = await runMain(['verify', '--json'], { env, cwd: dir })
  t.equal(json.code, 7)
  const doc = JSON.parse(json.stdout) as { sources: { byKind: Record<string, number>; problems: { file: string; kind: string }[]; seal: Record<string, unknown> }[] }
  t.same(doc.sources[0].byKind, { 'seal-changed': 1 })
  t.same(doc.sources[0].problems.map((p) => [p.file, p.kind]), [[victim, 'seal-changed']])
  t.match(doc.sources[0].seal, { entries: 3, head: seal?.head, sealed: 2, open: 1, signed: false, tornBytes: 0 })
})

t.test('--seal-settle: a day is sealed once its end plus the settle time has passed; --no-seal seals nothing', async (t) => {
  const midnight = NOON + 12 * 3_600_000
  const emu = await emulator(t, { counts: { mail: 100 }, days: 1, seed: 62, end: NOON, clock: () => NOON })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  t.equal((await runMain(['--lookback', '2d', '--no-seal'], { env, cwd: dir, now: () => midnight + 30 * 60_000 })).code, 0)
  t.notOk(existsSync(join(mail, 'mail_audit.manifest.jsonl')), '--no-seal: no manifest')
  const early = await runMain([], { env, cwd: dir, now: () => midnight + 30 * 60_000, summary: true })
  t.same(summaryOf(early, 'mail').seal?.sealed, [`mail_audit_${day(NOON - DAY)}.json`], '30 minutes after midnight the day just ended is still settling (1h); the one before is sealed')
  const shorter = await runMain(['--seal-settle', '20m'], { env, cwd: dir, now: () => midnight + 30 * 60_000, summary: true })
  t.same(summaryOf(shorter, 'mail').seal?.sealed, [`mail_audit_${day(NOON)}.json`], 'with --seal-settle 20m it is sealed')
  const bad = await runMain(['--seal-settle', '5'], { env, cwd: dir })
  t.equal(bad.code, 1)
  t.match(bad.stderr, '--seal-settle 5 has no unit')
})

t.test('a backfill into a sealed day reseals it; appending outside the tool is named', async (t) => {
  const emu = await emulator(t, { counts: { mail: 300 }, days: 3, seed: 63, end: NOON, clock: () => NOON })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  const now = (): number => NOON + 1000
  t.equal((await runMain(['--lookback', '4d'], { env, cwd: dir, now })).code, 0)
  const target = day(NOON - 2 * DAY)
  // A record arriving late into a sealed day (past the overlap): only a backfill fetches it.
  emu.inject('mail', 1, { at: Date.parse(`${target}T10:00:00Z`) })
  const back = await runMain(['--since', target, '--until', day(NOON - DAY)], { env, cwd: dir, now, summary: true })
  t.equal(back.code, 0, back.stderr)
  t.match(summaryOf(back, 'mail'), { written: 1, seal: { entries: 5, sealed: [], resealed: [`mail_audit_${target}.json`] } })
  t.same(manifest(mail).map((e) => [e.kind, e.day]), [...[3, 2, 1].map((n) => ['seal', day(NOON - n * DAY)]), ['reopen', target], ['reseal', target]], 'reopened before the merge, resealed after it')
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0, 'the reseal matches the merged file')

  const sealed = join(mail, `mail_audit_${day(NOON - DAY)}.json`)
  const original = readFileSync(sealed, 'utf8')
  appendFileSync(sealed, original.split('\n').at(-2) + '\n')
  const v = await runMain(['verify'], { env, cwd: dir })
  t.equal(v.code, 7)
  t.match(v.stdout, `  ${sealed}: seal-appended: sealed by entry 2 (manifest line 3) with `)

  // A line removed from a sealed day: a backfill over it names it when it reopens it, before its merge repairs it
  // (exit 8); the merge restores exactly the sealed bytes and the reseal closes the reopen: verify passes again.
  const lines = original.split('\n')
  writeFileSync(sealed, [...lines.slice(0, 3), ...lines.slice(4)].join('\n'))
  const repair = await runMain(['--since', day(NOON - DAY), '--until', day(NOON)], { env, cwd: dir, now, summary: true })
  t.equal(repair.code, 8, repair.stderr)
  t.match(summaryOf(repair, 'mail'), { written: 1, anomalies: { 'sealed-day-changed': 1 }, seal: { entries: 7, resealed: [`mail_audit_${day(NOON - DAY)}.json`] } })
  t.match(repair.stderr, `mail: ${sealed} no longer matches its seal (seal-lines: `)
  t.equal(readFileSync(sealed, 'utf8'), original, 'the day is as it was sealed')
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0)
})

t.test('--seal-key signs; verify --seal-pubkey passes with its key, fails with another; bad keys are refused', async (t) => {
  const emu = await emulator(t, { counts: { mail: 200 }, days: 2, seed: 64, end: NOON, clock: () => NOON })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  const mine = generateKeyPairSync('ed25519')
  const other = generateKeyPairSync('ed25519')
  writeFileSync(join(dir, 'seal.pem'), mine.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
  writeFileSync(join(dir, 'seal.pub.pem'), mine.publicKey.export({ type: 'spki', format: 'pem' }))
  writeFileSync(join(dir, 'other.pub.pem'), other.publicKey.export({ type: 'spki', format: 'pem' }))
  writeFileSync(join(dir, 'rsa.pem'), generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const r = await runMain(['--lookback', '3d', '--seal-key', join(dir, 'seal.pem')], { env, cwd: dir, now: () => NOON + 1000 })
  t.equal(r.code, 0, r.stderr)
  t.ok(manifest(mail).every((e) => typeof e.sig === 'string' && typeof e.key === 'string'), 'every entry signed')
  const good = await runMain(['verify', '--seal-pubkey', join(dir, 'seal.pub.pem')], { env, cwd: dir })
  t.equal(good.code, 0, good.stdout)
  t.match(good.stdout, ', signatures checked')
  const wrong = await runMain(['verify', '--seal-pubkey', join(dir, 'other.pub.pem')], { env, cwd: dir })
  t.equal(wrong.code, 7)
  t.match(wrong.stdout, /mail_audit\.manifest\.jsonl:1: chain-signature: entry 0 \(mail_audit_\S+\): signed with key [0-9a-f]{16}, not the given public key/)

  const unkeyed = await runMain([], { env, cwd: dir, now: () => NOON + DAY + 1000 }) // a day later: a day to seal
  t.equal(unkeyed.code, 1, unkeyed.stderr)
  t.match(unkeyed.stderr, /the seal manifest \S+ is signed \(key [0-9a-f]{16}\); no day was sealed: pass --seal-key with that key/)
  const rsa = await runMain(['--seal-key', join(dir, 'rsa.pem')], { env, cwd: dir })
  t.equal(rsa.code, 1)
  t.match(rsa.stderr, 'holds an rsa key, not Ed25519')
  const missing = await runMain(['verify', '--seal-pubkey', join(dir, 'nope.pem')], { env, cwd: dir })
  t.equal(missing.code, 1)
  t.match(missing.stderr, 'cannot read the Ed25519 public key')
})

t.test('a Python-written archive is sealed as it is; Europe/Moscow days are sealed at their own end', async (t) => {
  const emu = await emulator(t, { counts: { mail: 100 }, days: 1, seed: 65, end: NOON, clock: () => NOON })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  mkdirSync(mail)
  // What the script wrote: its spacing, a day two days back.
  const py = `{"eventType": "message_seen", "date": "${day(NOON - 2 * DAY)}T08:00:00.000Z", "userUid": "1"}\n`
  writeFileSync(join(mail, `mail_audit_${day(NOON - 2 * DAY)}.json`), py)
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  const r = await runMain([], { env, cwd: dir, now: () => NOON + 1000, summary: true })
  t.equal(r.code, 0, r.stderr)
  t.same(summaryOf(r, 'mail').seal?.sealed, [`mail_audit_${day(NOON - 2 * DAY)}.json`, `mail_audit_${day(NOON - DAY)}.json`], 'the script\'s day and the one fetched now')
  t.equal(readFileSync(join(mail, `mail_audit_${day(NOON - 2 * DAY)}.json`), 'utf8'), py, 'sealed as it is, not rewritten')
  t.match(manifest(mail)[0], { lines: 1, bytes: Buffer.byteLength(py), first: `${day(NOON - 2 * DAY)}T08:00:00.000Z` })

  // Moscow is UTC+3: its day ends at 21:00 UTC; at 21:30 UTC with a 20-minute settle, the Moscow day of NOON is sealed.
  const msk = join(dir, 'msk')
  const envMsk = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: msk, Y360_TIMEZONE: 'Europe/Moscow' })
  const before = await runMain(['--lookback', '2d', '--seal-settle', '20m'], { env: envMsk, cwd: dir, now: () => NOON + 9 * 3_600_000 + 10 * 60_000, summary: true })
  t.equal(before.code, 0, before.stderr)
  t.notOk(summaryOf(before, 'mail').seal?.sealed.includes(`mail_audit_${day(NOON)}.json`), 'at 21:10 UTC the Moscow day is settling')
  const after = await runMain(['--seal-settle', '20m'], { env: envMsk, cwd: dir, now: () => NOON + 9 * 3_600_000 + 30 * 60_000, summary: true })
  t.same(summaryOf(after, 'mail').seal?.sealed, [`mail_audit_${day(NOON)}.json`], 'at 21:30 UTC it is sealed')
  t.equal((await runMain(['verify'], { env: envMsk, cwd: dir })).code, 0)
})

t.test('a damaged manifest is never extended: the run exits 7 and seals nothing', async (t) => {
  const emu = await emulator(t, { counts: { mail: 200 }, days: 3, seed: 66, end: NOON, clock: () => NOON })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  t.equal((await runMain(['--lookback', '4d', '--seal-settle', '1h'], { env, cwd: dir, now: () => NOON + 1000 })).code, 0)
  const path = join(mail, 'mail_audit.manifest.jsonl')
  const lines = readFileSync(path, 'utf8').split('\n')
  writeFileSync(path, [lines[0], lines[2], ''].join('\n')) // entry 1 removed
  const before = readFileSync(path, 'utf8')
  const r = await runMain([], { env, cwd: dir, now: () => NOON + DAY + 1000 }) // a day later: today is closed then
  t.equal(r.code, 7, r.stderr)
  t.match(r.stderr, `the seal manifest ${path} is damaged (line 2: chain-broken`)
  t.equal(readFileSync(path, 'utf8'), before, 'nothing appended')
  t.same(readdirSync(mail).filter((n) => n.endsWith('.torn')), [])
})

t.test('a late arrival appended into a sealed day reopens it first and reseals it at the end of the run', async (t) => {
  const midnight = NOON + 12 * 3_600_000
  const clock = { now: midnight + 2 * 3_600_000 }
  const emu = await emulator(t, { counts: { mail: 50 }, days: 1, seed: 67, end: midnight - 30_000, clock: () => clock.now })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  const first = await runMain(['--lookback', '2d'], { env, cwd: dir, now: () => clock.now, summary: true })
  t.equal(first.code, 0, first.stderr)
  const sealedDay = `mail_audit_${day(NOON)}.json`
  t.ok(summaryOf(first, 'mail').seal?.sealed.includes(sealedDay), 'the day before midnight is sealed')
  clock.now += 60_000
  emu.inject('mail', 1, { at: midnight - 60_000 }) // within the overlap of the newest record: the next run appends it
  const second = await runMain([], { env, cwd: dir, now: () => clock.now, summary: true })
  t.equal(second.code, 0, second.stderr)
  t.match(summaryOf(second, 'mail'), { written: 1, seal: { resealed: [sealedDay] } })
  t.ok(logMessages(second.stderr).includes(`mail: reopened sealed ${sealedDay} to write into them (resealed at the end of the run)`))
  t.same(manifest(mail).slice(-2).map((e) => [e.kind, e.file]), [['reopen', sealedDay], ['reseal', sealedDay]])
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0)
})
