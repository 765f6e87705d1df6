// End-of-run outputs: the summary log line per source, --summary-json and --metrics-file (Prometheus textfile, last
// success kept across a failed run), and the live progress line: only on a TTY, never with --quiet or on a pipe.
import t from 'tap'
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, cliEnv, emulator, runMain, bare } from '../helpers.js'
import { ENDPOINTS } from '../../src/sources/index.js'

interface Doc {
  version: number
  ok: boolean
  exitCode: number
  cycle: number
  startedAt: string
  finishedAt: string
  sources: Record<string, unknown>[]
}

/** `name{source="x"} value` lines of a textfile. */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>()
  for (const l of text.split('\n')) {
    const r = /^(\w+)\{source="(\w+)"\} (\S+)$/.exec(l)
    if (r !== null) m.set(`${r[1]}/${r[2]}`, Number(r[3]))
  }
  return m
}

const METRICS = ['y360_audit_up', 'y360_audit_last_run_timestamp_seconds', 'y360_audit_last_success_timestamp_seconds', 'y360_audit_records_written', 'y360_audit_records_fetched', 'y360_audit_duplicates_dropped', 'y360_audit_late_arrivals', 'y360_audit_records_rejected', 'y360_audit_retries', 'y360_audit_run_duration_seconds', 'y360_audit_newest_record_timestamp_seconds', 'y360_audit_lag_seconds']

t.test('--summary-json and --metrics-file hold the run per source; a failed run keeps the last success time', async (t) => {
  // Faults are drawn from one seeded sequence in the order requests and records are served, which timing decides: the
  // second request is made a 5xx for sure (set before its draw), so that the run retries at least once whatever the order.
  let emu: Awaited<ReturnType<typeof emulator>> | undefined
  const faults = { error5xx: 0.15, missingTimestamp: 0.005, seed: 5 }
  emu = await emulator(t, { counts: { mail: 600, disk: 200 }, days: 2, seed: 41, faults, onRequest: (n) => {
    if (n === 2) emu?.setFaults({ error5xx: 1 })
    if (n === 3) emu?.setFaults({ error5xx: faults.error5xx })
  } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), DISK_LOG_CATALOG_LOCATION: join(dir, 'disk') })
  const r = await runMain(['--lookback', '3d', '--summary-json', join(dir, 'summary.json'), '--metrics-file', join(dir, 'y360.prom')], { env, cwd: dir })
  t.equal(r.code, 0)
  const doc = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Doc
  t.equal(doc.version, 1)
  t.equal(doc.ok, true)
  t.equal(doc.exitCode, 0)
  t.equal(doc.cycle, 1)
  t.same(doc.sources.map((s) => s.source), ['mail', 'disk'])
  const rejectedServed = emu.stats().faultsInjected.missingTimestamp
  const mail = doc.sources[0]
  const disk = doc.sources[1]
  const totalRejected = (mail.rejected as number) + (disk.rejected as number)
  t.ok(rejectedServed > 0, `the emulator served records without a timestamp (${rejectedServed})`)
  t.equal(totalRejected, rejectedServed, 'rejected = records the emulator served without a timestamp')
  for (const [s, want] of [[mail, 'mail'], [disk, 'disk']] as const) {
    const truth = emu.truth(want)
    t.equal(s.ok, true)
    t.equal(s.mode, 'append')
    // A record served without its timestamp is rejected; served again intact (an instant re-read after a cut window,
    // or as a neighbour's) it is written too: every record is written or rejected, none written twice.
    t.ok((s.written as number) <= truth.length && (s.written as number) >= truth.length - (s.rejected as number), `${want}: written ${String(s.written)} of ${truth.length}, ${String(s.rejected)} rejected`)
    const dropped = ['duplicates', 'rejected', 'refetched', 'neighbours', 'filtered'].reduce((n, k) => n + Number(s[k] ?? 0), 0)
    t.equal(s.fetched, (s.written as number) + dropped, `${want}: fetched = written + duplicates + rejected + refetched + neighbours + filtered`)
    t.ok((s.fetched as number) >= (s.written as number), `${want}: fetched >= written`)
    t.same(s.files, readdirSync(join(dir, want)).filter((n) => /_\d{4}-\d{2}-\d{2}\.json$/.test(n)).sort().map((n) => join(dir, want, n)), `${want}: files touched`)
    // The newest record written (on disk): the API's newest may be among those served without a timestamp, rejected,
    // and which record a fault hits depends on the order the requests arrive in.
    const lines = (s.files as string[]).flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(0, -1))
    const newest = Math.max(...lines.map((l) => ENDPOINTS[want].timestamp(JSON.parse(l) as Record<string, unknown>) as number))
    t.equal(lines.length, s.written, `${want}: the files hold what was written`)
    t.equal(s.newest, new Date(newest / 1000).toISOString(), `${want}: newest record written`)
  }
  const served5xx = emu.stats().faultsInjected.error5xx
  t.ok(served5xx > 0, `the emulator answered ${served5xx} requests with a 5xx`)
  t.equal((mail.retries as number) + (disk.retries as number), served5xx, 'one retry counted per 5xx')
  t.match(r.stderr, new RegExp(`mail: ok, fetched ${mail.fetched as number} in \\d+ pages, wrote ${mail.written as number}, dropped \\d+ duplicates, \\d+ late arrivals, ${mail.rejected as number} rejected, ${mail.retries as number} retries`), 'the summary log line')

  const text = readFileSync(join(dir, 'y360.prom'), 'utf8')
  for (const m of METRICS) {
    t.match(text, new RegExp(`^# HELP ${m} .+$`, 'm'), `HELP ${m}`)
    t.match(text, new RegExp(`^# TYPE ${m} gauge$`, 'm'), `TYPE ${m}`)
  }
  const v = samples(text)
  const finished = Date.parse(doc.finishedAt) / 1000
  t.equal(v.get('y360_audit_up/mail'), 1)
  t.equal(v.get('y360_audit_last_success_timestamp_seconds/mail'), finished)
  t.equal(v.get('y360_audit_records_written/mail'), mail.written)
  t.equal(v.get('y360_audit_records_written/disk'), disk.written)
  t.equal(v.get('y360_audit_records_rejected/mail'), mail.rejected)
  t.equal(v.get('y360_audit_retries/mail'), mail.retries)
  const newestMail = Date.parse(mail.newest as string) / 1000
  t.equal(v.get('y360_audit_newest_record_timestamp_seconds/mail'), newestMail)
  // Rounded to the millisecond (issue 15: no float noise), so within half a millisecond of the exact difference.
  t.ok(Math.abs((v.get('y360_audit_lag_seconds/mail') as number) - (finished - newestMail)) <= 0.0005, 'lag = end of run − newest record')
  t.notMatch(text, /\.\d{4,}(\n|$)/m, 'no value with more than millisecond digits')
  t.equal(v.get('y360_audit_records_written_total/mail'), mail.written, 'counter after the first run')
  t.equal(v.get('y360_audit_runs_total/mail'), 1)
  t.match(text, /^# TYPE y360_audit_records_written_total counter$/m)
  t.match(text, new RegExp(`^y360_audit_build_info\\{version="[^"]+",node="${process.version}"\\} 1$`, 'm'), 'build info')
  t.same(readdirSync(dir).filter((n) => n.includes('.tmp')), [], 'atomic writes leave no temp file')

  // A failed run: mail's scope disappears. up → 0, the last success time is carried over, disk still succeeds.
  emu.setFaults({ error5xx: 0, missingTimestamp: 0 })
  emu.setSwitches({ scopeMissing: ['mail'] })
  const f = await runMain(['--summary-json', join(dir, 'summary.json'), '--metrics-file', join(dir, 'y360.prom')], { env, cwd: dir })
  t.equal(f.code, 3, 'scope missing: exit 3')
  const doc2 = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Doc
  t.equal(doc2.ok, false)
  t.equal(doc2.exitCode, 3)
  t.equal(doc2.sources[0].code, 'SCOPE_MISSING')
  t.equal(doc2.sources[1].ok, true)
  const v2 = samples(readFileSync(join(dir, 'y360.prom'), 'utf8'))
  t.equal(v2.get('y360_audit_up/mail'), 0)
  t.equal(v2.get('y360_audit_last_success_timestamp_seconds/mail'), finished, 'last success of mail carried over')
  t.equal(v2.get('y360_audit_last_success_timestamp_seconds/disk'), Date.parse(doc2.finishedAt) / 1000, 'disk succeeded now')
  t.equal(v2.get('y360_audit_last_run_timestamp_seconds/mail'), Date.parse(doc2.finishedAt) / 1000)
  // Counters carry over: runs and failures add up, records written keep the first run's.
  t.same([v2.get('y360_audit_runs_total/mail'), v2.get('y360_audit_run_failures_total/mail'), v2.get('y360_audit_run_failures_total/disk')], [2, 1, 0])
  t.equal(v2.get('y360_audit_records_written_total/disk'), (disk.written as number) + (doc2.sources[1].written as number), 'disk: written summed over both runs')
  t.notMatch(r.stderr + f.stderr, /\x1b\[/, 'no progress or colour escapes when stderr is not a TTY')
})

/** Runs the CLI under a pseudo-terminal (util-linux `script`), returning everything the terminal showed. */
function underTty(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; screen: string }> {
  const cmd = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  return new Promise((resolve, reject) => {
    const child = spawn(...bare('script', ['-qfec', `stty cols 120 rows 40; ${cmd}`, '/dev/null'], env), { cwd, env: { ...env, TERM: 'xterm' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let screen = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (screen += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, screen }))
  })
}

const hasScript = (() => {
  try {
    return readdirSync('/usr/bin').includes('script')
  } catch {
    return false
  }
})()

t.test('progress: a live line per source on a TTY; none with --quiet', { skip: hasScript ? false : 'util-linux script(1) not installed' }, async (t) => {
  const emu = await emulator(t, { counts: { mail: 1000, disk: 300 }, days: 2, seed: 42 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), DISK_LOG_CATALOG_LOCATION: join(dir, 'disk') })
  const tty = await underTty(['--lookback', '3d'], env, dir)
  t.equal(tty.code, 0)
  t.match(tty.screen, /mail {3}\[[#.]{10}\] +\d+% \d\d-\d\d \d\d:\d\d\/\d\d-\d\d \d\d:\d\d \d+ rec \d+\/s 0 retries\r?\n/, 'mail progress line, whole')
  t.match(tty.screen, /mail {3}\[#{10}\] 100% .* 10\d\d rec /, 'mail reaches 100% with every record fetched')
  t.match(tty.screen, /disk {3}\[[#.]{10}\] +\d+% /, 'disk progress line')
  t.match(tty.screen, /\x1b\[\d+F\x1b\[0J/, 'the block is redrawn in place')
  t.match(tty.screen, /mail: ok, fetched \d+ in \d+ pages, wrote 1000/, 'the summary is still printed')

  const quiet = await underTty(['--quiet'], env, dir)
  t.equal(quiet.code, 0)
  t.notMatch(quiet.screen, / rec \d+\/s/, '--quiet: no progress line')
})
