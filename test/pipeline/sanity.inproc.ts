// Checkpoint sanity and the loud outcome (issue 12): a bogus archive can never make every later run resume in the
// future and fetch nothing; a complete line without a timestamp is not a torn write; the metrics name every anomaly
// and the lag still grows when the newest record lies in the future.
import t from 'tap'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { EXIT_CODES } from '../../src/errors.js'
import { metricsText } from '../../src/summary.js'
import type { RunSummary } from '../../src/pipeline/run.js'
import { EXACT, ROOT, checkArchive, cliEnv, emulator, readArchive } from '../helpers.js'

const NOW = Date.UTC(2026, 5, 10, 12, 0, 0)

async function runMain(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; stderr: string }> {
  const { main } = (await import(join(ROOT, 'dist/src/main.js'))) as { main: (a: string[], io: object) => Promise<number> }
  const out = new PassThrough().resume()
  const err = new PassThrough()
  let stderr = ''
  err.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const code = await main(args, { env, cwd, stdout: out, stderr: err, tty: false, now: () => NOW, signal: new AbortController().signal, interrupted: () => undefined })
  return { code, stderr }
}

t.test('impossible and future day files, a future record: reported, ignored, the archive still catches up', async (t) => {
  const emu = await emulator(t, { counts: { mail: 400 }, days: 1, seed: 4, clock: () => NOW, end: NOW - 60_000 })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  const truth = emu.truth('mail') as { date: string }[]
  // The archive holds the first half, then bogus files and one record stamped after now + skew in the newest real file.
  const half = truth.slice(0, 200)
  mkdirSync(mail, { recursive: true })
  const day = half[0].date.slice(0, 10)
  const lines = half.filter((r) => r.date.startsWith(day)).map((r) => JSON.stringify(r))
  const future = JSON.stringify({ ...half[0], date: new Date(NOW + 3_600_000).toISOString(), uniqId: 'future' })
  writeFileSync(join(mail, `mail_audit_${day}.json`), [...lines, future].join('\n') + '\n')
  writeFileSync(join(mail, 'mail_audit_2099-01-01.json'), JSON.stringify({ ...half[0], date: '2099-01-01T00:00:00.000Z' }) + '\n')
  writeFileSync(join(mail, 'mail_audit_9999-99-99.json'), '')
  const r = await runMain(['--lookback', '2d', '--summary-json', join(dir, 's.json'), '--metrics-file', join(dir, 'm.prom')], env, dir)
  t.equal(r.code, EXIT_CODES.ANOMALY, r.stderr)
  t.match(r.stderr, /mail_audit_2099-01-01\.json is named for a day after now/)
  t.match(r.stderr, /mail_audit_9999-99-99\.json is named for no real day/)
  t.match(r.stderr, /after now \+ --max-skew; ignored for the resume point \(anomaly future-resume\)/)
  const s = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8')) as { sources: { anomalies: Record<string, number> }[] }
  t.same(s.sources[0].anomalies, { 'bad-day-file': 2, 'future-resume': 1 })
  const prom = readFileSync(join(dir, 'm.prom'), 'utf8')
  t.match(prom, /^y360_audit_anomalies\{source="mail",kind="bad-day-file"\} 2$/m)
  // Everything after the real resume point was fetched: the archive (bogus files aside) holds the truth plus `future`.
  const archive = readArchive(mail, 'mail_audit')
  archive.days.delete('2099-01-01')
  for (const recs of archive.days.values()) recs.splice(0, recs.length, ...recs.filter((x) => x.uniqId !== 'future'))
  t.same(checkArchive('mail', archive, truth, 3_600_000_000).missing, 0, 'nothing missing')
  t.same({ ...checkArchive('mail', archive, truth, 3_600_000_000), outOfOrder: 0 }, { ...EXACT, total: truth.length })
})

t.test('a complete JSON line without a timestamp at the end of a file is not torn', async (t) => {
  const emu = await emulator(t, { counts: { mail: 50 }, days: 1, seed: 4, clock: () => NOW, end: NOW - 60_000 })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  t.equal((await runMain(['--lookback', '2d'], env, dir)).code, 0)
  const file = join(mail, `mail_audit_${new Date(NOW).toISOString().slice(0, 10)}.json`)
  writeFileSync(file, readFileSync(file, 'utf8') + '{"eventType":"message_seen","note":"no date"}\n')
  const r = await runMain(['--lookback', '2d'], env, dir)
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stderr, /torn last line/)
  t.match(readFileSync(file, 'utf8'), /"note":"no date"\}\n/, 'kept in place')
})

t.test('metrics: the lag grows with the time since the last success, even when the newest record is in the future', async (t) => {
  const base = { ok: false, mode: 'append', pages: 0, fetched: 0, written: 0, duplicates: 0, late: 0, rejected: 0, retries: 0, files: [], repaired: 0, durationMs: 0 } as const
  const s = { ok: false, exitCode: 4, sources: [{ ...base, source: 'mail', newest: '2999-01-01T00:00:00.000Z' }] } as unknown as RunSummary
  const previous = 'y360_audit_last_success_timestamp_seconds{source="mail"} 1000\n'
  t.match(metricsText(s, 4_000_000, previous), /^y360_audit_lag_seconds\{source="mail"\} 3000$/m)
  t.notMatch(metricsText(s, 4_000_000, previous), /y360_audit_anomalies/, 'no anomaly lines when there were none')
})

t.test('records without a timestamp are in .rejected once, however many runs see them again', async (t) => {
  // Every record is served without its date: nothing is archived, so every run asks the same range and sees them all.
  const emu = await emulator(t, { counts: { mail: 30 }, days: 1, seed: 4, clock: () => NOW, end: NOW - 60_000, faults: { missingTimestamp: 1 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const rejected = (): string[] => readFileSync(join(dir, 'mail', 'mail_audit.rejected'), 'utf8').split('\n').slice(0, -1)
  t.equal((await runMain(['--lookback', '2d'], env, dir)).code, 0)
  const first = rejected()
  t.equal(first.length, 30, 'each record set aside with its reason')
  t.same(new Set(first.map((l) => (JSON.parse(l) as { reason: string }).reason)), new Set(['no valid timestamp']))
  for (let i = 0; i < 2; i++) t.equal((await runMain(['--lookback', '2d'], env, dir)).code, 0)
  t.same(rejected(), first, 'two more runs over the same records appended nothing')
})

t.test('a backfill with --until in the future is clamped to now: later runs still fetch what arrives after it', async (t) => {
  let now = NOW
  const emu = await emulator(t, { counts: { mail: 200 }, days: 1, seed: 4, clock: () => now, end: NOW - 60_000 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const main = async (args: string[]): Promise<{ code: number; stderr: string; to: string }> => {
    const { main } = (await import(join(ROOT, 'dist/src/main.js'))) as { main: (a: string[], io: object) => Promise<number> }
    const err = new PassThrough()
    let stderr = ''
    err.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const code = await main([...args, '--summary-json', join(dir, 's.json')], { env, cwd: dir, stdout: new PassThrough().resume(), stderr: err, tty: false, now: () => now, signal: new AbortController().signal, interrupted: () => undefined })
    return { code, stderr, to: (JSON.parse(readFileSync(join(dir, 's.json'), 'utf8')) as { sources: { to: string }[] }).sources[0].to }
  }
  const b = await main(['--since', new Date(NOW - 2 * 86_400_000).toISOString(), '--until', '2999-01-01T00:00:00Z'])
  t.equal(b.code, 0, b.stderr)
  t.match(b.stderr, /--until 2999-01-01T00:00:00\.000Z is in the future; fetching up to now \(2026-06-10T12:00:00\.000Z\)/)
  t.equal(b.to, '2026-06-10T12:00:00.000Z', 'the range ends now')
  now += 600_000
  emu.inject('mail', 5, { at: NOW + 300_000 })
  const r = await main(['--lookback', '2d'])
  t.equal(r.code, 0, r.stderr)
  const truth = emu.truth('mail')
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), truth), { ...EXACT, total: truth.length }, 'the arrivals after the backfill are archived')
})
