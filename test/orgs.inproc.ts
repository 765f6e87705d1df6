// src/orgs.ts in-process: organisations whose API is one host share that host's limiter (one HostLimiter, so --max-rps
// and the adaptive rate hold for all of them together). One local host routes each organisation to its own emulator;
// the limiter runs on an injected clock (its waits advance it), so the pacing is asserted without wall-clock time.
import t from 'tap'
import { request } from 'node:http'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { readPlan } from '../src/config.js'
import { createLogger } from '../src/log.js'
import { Y360Error, worstExit } from '../src/errors.js'
import { failedRun, orgsExit, runOrgs } from '../src/orgs.js'
import { Limiters } from '../src/sources/limiter.js'
import { checkArchive, emulator, exact, localServer, readArchive, TOKEN } from './helpers.js'

t.test('two organisations on one API host: one limiter for the host, every request of both through it, --max-rps held across them', async (t) => {
  const emus = await Promise.all([201, 202].map((org, i) => emulator(t, { org, counts: { mail: 400, events: 150 }, days: 2, seed: 60 + i })))
  const byOrg = new Map(emus.map((e) => [String(e.org), e.url]))
  const seen: string[] = []
  // Requests are held until both organisations have one waiting: only runs that overlap get past this (run one after
  // the other, the first would wait for ever and the test would time out), whatever the machine's speed.
  const held: (() => void)[] = []
  let together = false
  const host = await localServer(t, (req, res) => {
    const org = /\/(?:org|organizations)\/(\d+)\//.exec(req.url ?? '')?.[1] ?? ''
    seen.push(org)
    const forward = (): void => {
      const up = request(new URL(req.url ?? '/', byOrg.get(org)), { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers)
        r.pipe(res)
      })
      req.pipe(up)
    }
    if (together) return forward()
    held.push(forward)
    if (seen.includes('201') && seen.includes('202')) {
      together = true
      for (const f of held.splice(0)) f()
    }
  })
  const dir = t.testdir()
  const file = { token: TOKEN, 'api-url': host.url, 'cloud-api-url': host.url, 'max-rps': 5, lookback: '3d', 'retry-delay': '5ms', orgs: [201, 202].map((org) => ({ org, 'mail-dir': `${org}/mail`, 'events-dir': `${org}/events` })) }
  writeFileSync(join(dir, 'orgs.json'), JSON.stringify(file))
  const { plan, problems } = readPlan({ argv: ['--config', 'orgs.json', '--no-log-file'], env: {}, cwd: dir, now: Date.now })
  t.same(problems, [])

  let clock = 0
  const sends: number[] = []
  const limiters = new Limiters({ maxRps: plan.process.maxRps, now: () => clock, sleep: async (ms) => void (clock += ms), onSend: (at) => sends.push(at) })
  const { log, close } = await createLogger({ level: 'silent', pretty: false, secrets: [TOKEN] })
  const results = await runOrgs({ plan, log, now: Date.now, signal: new AbortController().signal, limiters })
  await close()

  t.equal(orgsExit(results), 0)
  for (const [i, org] of [201, 202].entries()) {
    t.same(checkArchive('mail', readArchive(join(dir, `${org}/mail`), 'mail_audit'), emus[i].truth('mail')), exact(400), `${org} mail exact`)
    t.same(checkArchive('events', readArchive(join(dir, `${org}/events`), 'y360_audit'), emus[i].truth('events')), exact(150), `${org} events exact`)
  }
  t.same(limiters.hosts(), [new URL(host.url).host], 'one limiter: the one host of both organisations')
  t.equal(sends.length, host.requests(), 'every request the host received passed the shared limiter')
  t.equal(sends.length, emus.reduce((n, e) => n + e.stats().requests, 0))
  t.ok(together, 'the two organisations were fetched at once (each had a request waiting at the same time)')
  const gaps = sends.slice(1).map((at, k) => at - sends[k])
  t.ok(Math.min(...gaps) >= 200, `--max-rps 5 across both organisations: every request at least 200 ms after the previous one (smallest gap ${Math.min(...gaps)} ms over ${sends.length} requests)`)
})

t.test('worstExit ranks the codes', async (t) => {
  t.equal(worstExit([0, 0]), 0)
  t.equal(worstExit([75, 6, 0]), 6, 'a lock held before rate limited')
  t.equal(worstExit([6, 3, 4]), 3, 'a refusal before the transient')
  t.equal(worstExit([4, 5, 8]), 5)
  t.equal(worstExit([75, 70, 1]), 70, 'a bug first')
  t.equal(worstExit([0, 130]), 130, 'an unlisted code still fails')
})

t.test('an organisation whose run never started is reported in the mode its output has (archive, backfill, stdout, syslog)', async (t) => {
  const dir = t.testdir({ mail: {} })
  const base = ['--token', TOKEN, '--org', '7', '--no-log-file']
  const cases: [string[], string][] = [
    [['--mail-dir', 'mail'], 'append'],
    [['--mail-dir', 'mail', '--since', '-1d'], 'backfill'],
    [['--stdout', '--sources', 'mail'], 'stdout'],
    [['--syslog', 'tcp://127.0.0.1:9', '--sources', 'mail', '--state-file', 'c.json'], 'syslog'],
  ]
  for (const [args, mode] of cases) {
    const { plan, problems } = readPlan({ argv: [...base, ...args], env: {}, cwd: dir, now: Date.now })
    t.same(problems, [], args.join(' '))
    const s = failedRun(plan.orgs[0].config, new Y360Error('LOCKED', 'held'))
    t.same(s.sources.map((x) => [x.mode, x.ok, x.code]), [[mode, false, 'LOCKED']], `${args.join(' ')}: ${mode}`)
  }
})
