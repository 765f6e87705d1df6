// --config in-process (src/main.ts): three organisations from one file, each against its own emulator, compared with
// each emulator's ground truth; one failing organisation (a refused token, a lock held) fails alone with the most
// severe code; --watch and verify take the file too.
import t, { type Test } from 'tap'
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Emulator } from '../../src/emulator/index.js'
import type { SourceName } from '../../src/sources/descriptor.js'
import type { OrgsSummaryDocument } from '../../src/summary.js'
import { checkArchive, emulator, exact, readArchive, runMain, TOKEN, type MainResult } from '../helpers.js'

const ORGS = [101, 102, 103]
const COUNTS = { mail: 300, events: 120 }

interface Setup {
  dir: string
  emus: Emulator[]
  run(argv?: string[], opts?: { signal?: AbortSignal; onStderr?: (s: string) => void }): Promise<MainResult & { doc: OrgsSummaryDocument }>
  exactFor(i: number, want?: Partial<Record<SourceName, number>>): void
}

/** Three emulators (organisations 101, 102, 103), their token files and one config file naming them. */
async function setup(t: Test): Promise<Setup> {
  const dir = t.testdir()
  const emus = await Promise.all(ORGS.map((org, i) => emulator(t, { org, counts: COUNTS, days: 3, seed: 40 + i })))
  for (const org of ORGS) writeFileSync(join(dir, `token-${org}`), `${TOKEN}\n`, { mode: 0o600 })
  const entry = (emu: Emulator, org: number): object => ({ org, 'token-file': `token-${org}`, 'api-url': emu.url, 'cloud-api-url': emu.url, 'mail-dir': `${org}/mail`, 'events-dir': `${org}/events` })
  const file = { 'retry-delay': '5ms', 'no-log-file': true, lookback: '8d', 'metrics-file': 'y360.prom', orgs: emus.map((e, i) => entry(e, ORGS[i])) }
  writeFileSync(join(dir, 'orgs.json'), JSON.stringify(file, null, 2))
  return {
    dir,
    emus,
    run: async (argv = [], opts = {}) => {
      const r = await runMain(['--config', 'orgs.json', ...argv], { env: { PATH: process.env.PATH ?? '', TZ: 'UTC' }, cwd: dir, summary: true, ...opts })
      return { ...r, doc: r.summary as unknown as OrgsSummaryDocument }
    },
    exactFor: (i, want = COUNTS) => {
      for (const [source, n] of Object.entries(want) as [SourceName, number][]) {
        const base = source === 'mail' ? 'mail_audit' : 'y360_audit'
        t.same(checkArchive(source, readArchive(join(dir, String(ORGS[i]), source), base), emus[i].truth(source)), exact(n), `${ORGS[i]} ${source}: exact`)
      }
    },
  }
}

const written = (doc: OrgsSummaryDocument): Record<string, Record<string, number>> => Object.fromEntries(doc.orgs.map((o) => [o.name, Object.fromEntries(o.sources.map((s) => [s.source, s.written]))]))

t.test('three organisations from one file: each archive exact; one summary and one metrics file with an org label; --watch runs them all; verify --config', async (t) => {
  const s = await setup(t)
  const first = await s.run()
  t.equal(first.code, 0, first.stderr)
  for (const i of [0, 1, 2]) s.exactFor(i)
  t.same(first.doc.orgs.map((o) => [o.org, o.name, o.ok, o.exitCode]), [[101, '101', true, 0], [102, '102', true, 0], [103, '103', true, 0]])
  t.same(written(first.doc), { 101: COUNTS, 102: COUNTS, 103: COUNTS })
  t.notOk('sources' in first.doc, 'the sources are inside each organisation')
  const prom = readFileSync(join(s.dir, 'y360.prom'), 'utf8')
  for (const org of ORGS) t.match(prom, new RegExp(`^y360_audit_records_written_total\\{org="${org}",source="mail"\\} 300$`, 'm'))
  t.match(first.stderr, /"msg":"102: mail: ok, fetched/, 'log lines start with the organisation')

  // Incremental, under --watch: new records of one organisation only; the loop is stopped after its first cycle.
  s.emus[1].inject('mail', 7)
  const stop = new AbortController()
  const watch = await s.run(['--watch', '--interval', '1h'], { signal: stop.signal, onStderr: (e) => (/cycle 1 done/.test(e) ? stop.abort() : undefined) })
  t.equal(watch.code, 130, 'stopped by the signal after cycle 1')
  t.equal(watch.doc.cycle, 1)
  t.same(written(watch.doc), { 101: { mail: 0, events: 0 }, 102: { mail: 7, events: 0 }, 103: { mail: 0, events: 0 } })
  s.exactFor(1, { mail: 307, events: 120 })
  t.match(readFileSync(join(s.dir, 'y360.prom'), 'utf8'), /^y360_audit_records_written_total\{org="102",source="mail"\} 307$/m, 'counters carried per organisation')

  const ok = await runMain(['verify', '--config', 'orgs.json'], { env: { PATH: '' }, cwd: s.dir })
  t.equal(ok.code, 0, ok.stderr)
  // A line per source, each followed by its seal line (the closed days were sealed by the runs).
  t.same(ok.stdout.split('\n').filter(Boolean).map((l) => l.split(':')[0]), ['101/mail', '  seals', '101/events', '  seals', '102/mail', '  seals', '102/events', '  seals', '103/mail', '  seals', '103/events', '  seals'])
  const day = readdirSync(join(s.dir, '102/mail')).filter((n) => n.endsWith('.json')).sort()[0]
  appendFileSync(join(s.dir, '102/mail', day), 'not json\n')
  const bad = await runMain(['verify', '--config', 'orgs.json', '--json'], { env: { PATH: '' }, cwd: s.dir })
  t.equal(bad.code, 7, 'damage in one organisation: exit 7')
  const rep = JSON.parse(bad.stdout) as { problemCount: number; orgs: { name: string; problemCount: number; sources: { source: string; problemCount: number }[] }[] }
  // The oldest day is sealed: the bad line is found, and so is the change to the sealed file.
  t.equal(rep.problemCount, 2)
  t.same(rep.orgs.map((o) => [o.name, o.problemCount]), [['101', 0], ['102', 2], ['103', 0]])
})

t.test('a refused token fails its organisation alone (exit 3); a held lock alone is exit 6; both: the most severe, 3', async (t) => {
  const s = await setup(t)
  writeFileSync(join(s.dir, 'token-102'), 'y0_wrong-token\n', { mode: 0o600 })
  const r = await s.run()
  t.equal(r.code, 3, 'the refused organisation sets the exit code')
  s.exactFor(0)
  s.exactFor(2)
  const bad = r.doc.orgs[1]
  t.same([bad.name, bad.ok, bad.exitCode, bad.sources.map((x) => x.code)], ['102', false, 3, ['AUTH_FAILED', 'AUTH_FAILED']])
  t.same([r.doc.ok, r.doc.exitCode], [false, 3])
  t.match(r.stderr, /102: mail: the API rejected the token/)
  t.match(r.stderr, /1 of 3 organisation\(s\) failed: 102 \(exit 3\); exit 3/)
  const prom = readFileSync(join(s.dir, 'y360.prom'), 'utf8')
  t.match(prom, /^y360_audit_up\{org="102",source="mail"\} 0$/m)
  t.match(prom, /^y360_audit_up\{org="101",source="mail"\} 1$/m)

  // Another live process (our parent) holds 103's mail directory: 103 fails at once, 102 (token fixed) catches up exactly.
  writeFileSync(join(s.dir, 'token-102'), `${TOKEN}\n`, { mode: 0o600 })
  writeFileSync(join(s.dir, '103/mail/.y360-audit.lock'), JSON.stringify({ pid: process.ppid, host: hostname(), started: new Date().toISOString(), id: 'other' }))
  const locked = await s.run()
  t.equal(locked.code, 6, locked.stderr)
  s.exactFor(1)
  t.same(locked.doc.orgs.map((o) => o.exitCode), [0, 0, 6])
  t.same(locked.doc.orgs[2].sources.map((x) => [x.source, x.code]), [['mail', 'LOCKED'], ['events', 'LOCKED']], 'a failure to start is every source of that organisation')

  writeFileSync(join(s.dir, 'token-102'), 'y0_wrong-token\n', { mode: 0o600 })
  const both = await s.run()
  t.same([both.code, both.doc.orgs.map((o) => o.exitCode)], [3, [0, 3, 6]], 'exit 3 ranks before 6')
})

t.test('flags apply to every organisation and win over the file; per-organisation flags are refused; the environment is not read', async (t) => {
  const s = await setup(t)
  const now = Date.now()
  const r = await runMain(['--config', 'orgs.json', '--lookback', '1d', '--sources', 'mail'], { env: { PATH: '', TZ: 'UTC', ORGANIZATION_ID_ARG: '999', Y360_LOOKBACK: '2d' }, cwd: s.dir, summary: true, now: () => now })
  t.equal(r.code, 0, r.stderr)
  const doc = r.summary as unknown as OrgsSummaryDocument
  const from = new Date(now - 86_400_000).toISOString()
  t.same(doc.orgs.map((o) => o.sources.map((x) => [x.source, x.from])), ORGS.map(() => [['mail', from]]), '--lookback 1d (not the file\'s 8d, not Y360_LOOKBACK) for all; --sources mail for all')
  t.match(r.stderr, /with --config the environment is not read for options: ignoring ORGANIZATION_ID_ARG, Y360_LOOKBACK/)

  const refused = await runMain(['--config', 'orgs.json', '--org', '5', '--mail-dir', 'x'], { env: { PATH: '' }, cwd: s.dir })
  t.equal(refused.code, 1)
  t.match(refused.stderr, /--org cannot be given with --config \(it would apply to every organisation\): set "org" in the file, per organisation/)
  t.match(refused.stderr, /--mail-dir cannot be given with --config/)
})

t.test('--syslog per organisation (no archive): every record of each organisation once, its SD naming its org; a state file each', async (t) => {
  const dir = t.testdir()
  const emus = await Promise.all([301, 302].map((org, i) => emulator(t, { org, counts: { mail: 150 }, days: 2, seed: 70 + i })))
  // An octet-counting receiver (RFC 6587) on 127.0.0.1: `LEN SP MSG` frames; the client's clean close acknowledges.
  const messages: string[] = []
  const server = createServer((sock) => {
    let buf = Buffer.alloc(0)
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      for (let sp = buf.indexOf(0x20); sp > 0; sp = buf.indexOf(0x20)) {
        const len = Number(buf.subarray(0, sp).toString())
        if (buf.length < sp + 1 + len) break
        messages.push(buf.subarray(sp + 1, sp + 1 + len).toString())
        buf = buf.subarray(sp + 1 + len)
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const url = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`
  const file = { token: TOKEN, syslog: url, sources: 'mail', lookback: '3d', 'no-log-file': true, orgs: emus.map((e) => ({ org: e.org, 'api-url': e.url, 'cloud-api-url': e.url, 'state-file': `${e.org}/cursor.json` })) }
  writeFileSync(join(dir, 'orgs.json'), JSON.stringify(file))
  const r = await runMain(['--config', 'orgs.json'], { env: { PATH: '' }, cwd: dir, summary: true })
  t.equal(r.code, 0, r.stderr)
  for (const e of emus) {
    const mine = messages.filter((m) => m.includes(`[y360@32473 org="${e.org}" `))
    const ids = mine.map((m) => (/ id="([^"]+)"\]/.exec(m) as RegExpExecArray)[1]).sort()
    t.same(ids, e.truth('mail').map((x) => String((x as { uniqId: string }).uniqId)).sort(), `${e.org}: every record once`)
    t.ok(readFileSync(join(dir, `${e.org}/cursor.json`), 'utf8').length > 0, `${e.org}: its own cursor`)
  }
  t.equal(messages.length, 300)
})
