// The chaos test. Guards the whole promise: with a hostile API (5xx, HTML 502, resets, truncated bodies, stalls, 429
// bursts in both Retry-After forms, empty pages with a token, a page-depth cap), live arrivals between runs, and the
// real CLI killed with SIGKILL at random moments (>= 10 kills, some leaving a torn last line), then run to completion,
// each source's archive equals the emulator's ground truth exactly and `verify` passes.
// Replay a failure with CHAOS_SEED=<seed printed in the output>.
import t from 'tap'
import { appendFileSync, existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { SourceName } from '../../src/sources/descriptor.js'
import { checkArchive, cliEnv, emulator, readArchive, runCli } from '../helpers.js'
import { exits, prng, startCli, type LiveCli } from './util.js'

const SEED = Number(process.env.CHAOS_SEED ?? 20_261_129)
const KILLS = 12
const OVERLAP_US = 120_000_000
const SOURCES: { name: SourceName; base: string; dirVar: string }[] = [
  { name: 'mail', base: 'mail_audit', dirVar: 'MAIL_LOG_CATALOG_LOCATION' },
  { name: 'disk', base: 'disk_audit', dirVar: 'DISK_LOG_CATALOG_LOCATION' },
  { name: 'events', base: 'y360_audit', dirVar: 'NEW_LOG_CATALOG_LOCATION' },
]

t.test(`chaos: ${KILLS} SIGKILLs under a hostile API, then the archive equals the truth (seed ${SEED})`, async (t) => {
  const rng = prng(SEED)
  let live: LiveCli | undefined
  let killAt = Infinity
  let stallOffAt: number | undefined
  const emu = await emulator(t, {
    counts: { mail: 3000, disk: 1000, events: 2500 }, days: 2, seed: SEED,
    faults: { error5xx: 0.05, html502: 0.02, reset: 0.02, truncated: 0.02, stall: 0.01, emptyPageWithToken: 0.05, seed: SEED },
    switches: { pageDepthCap: 4 },
    onRequest: (n) => {
      if (stallOffAt !== undefined && n >= stallOffAt) {
        stallOffAt = undefined
        emu.setFaults({ stall: 0.01 })
      }
      if (n >= killAt && live !== undefined) {
        killAt = Infinity
        live.child.kill('SIGKILL')
      }
    },
  })
  const dir = t.testdir()
  const env = cliEnv(emu, Object.fromEntries(SOURCES.map((s) => [s.dirVar, join(dir, s.name)])))
  const args = ['--lookback', '3d', '--timeout', '300ms', '--retries', '12', '--max-pages', '6', '--concurrency', '3', '--max-wait', '30s']
  const schedule: string[] = []
  let kills = 0
  let torn = 0
  let writing = 0 // kills that came after the run had written something
  /** Complete lines in all archives now. */
  const archived = (): number => SOURCES.reduce((n, s) => (existsSync(join(dir, s.name)) ? n + readdirSync(join(dir, s.name)).filter((f) => f.endsWith('.json')).reduce((m, f) => m + readFileSync(join(dir, s.name, f), 'utf8').split('\n').length - 1, 0) : n), 0)
  let span = 80
  for (let run = 1; kills < KILLS && run <= 40; run++) {
    // Live arrivals between runs, some of them late (inside the overlap).
    const src = SOURCES[rng.int(3)].name
    emu.inject(src, 1 + rng.int(30), { lateSeconds: rng.int(60) })
    // Every third run meets a 429 burst, alternating the Retry-After forms.
    emu.setFaults(run % 3 === 0 ? { rateLimitRps: 20, retryAfter: run % 2 === 0 ? 'seconds' : 'http-date', retryAfterSeconds: 1 } : { rateLimitRps: 0 })
    // Kill within the run: `span` is how many requests the last run that finished by itself needed.
    const start = emu.stats().requests
    killAt = start + 1 + rng.int(Math.max(2, span))
    schedule.push(`run ${run}: kill at request ${killAt}`)
    const linesBefore = archived()
    live = startCli(args, { env, cwd: dir })
    const r = await live.done
    live = undefined
    if (r.signal === 'SIGKILL') {
      kills++
      if (archived() > linesBefore) writing++
      // Every third kill also tears the newest line of one archive, as a kill inside write() would.
      if (kills % 3 === 0) {
        const first = rng.int(3)
        const s = [0, 1, 2].map((i) => SOURCES[(first + i) % 3]).find((x) => existsSync(join(dir, x.name)) && readdirSync(join(dir, x.name)).some((n) => n.startsWith(`${x.base}_`) && n.endsWith('.json'))) ?? SOURCES[first]
        const sdir = join(dir, s.name)
        const files = existsSync(sdir) ? readdirSync(sdir).filter((n) => n.startsWith(`${s.base}_`) && n.endsWith('.json')).sort() : []
        if (files.length > 0) {
          const file = join(sdir, files.at(-1) as string)
          const last = readFileSync(file, 'utf8').split('\n').at(-2) ?? '{"date":"'
          appendFileSync(file, last.slice(0, 1 + rng.int(last.length - 1)))
          torn++
          schedule.push(`  tore ${file}`)
        }
      }
    } else {
      killAt = Infinity
      span = emu.stats().requests - start
      t.equal(r.code, 0, exits(r, 0, `run ${run} ended by itself with exit 0`))
    }
  }
  t.comment(schedule.join('\n'))
  t.ok(kills >= 10, `${kills} SIGKILLs (${torn} torn tails)`)
  t.ok(writing >= 3, `${writing} of the kills hit runs that had written records (${archived()} archived before the last runs)`)

  emu.setFaults({ rateLimitRps: 0 })
  const catchUp = await runCli(args, { env, cwd: dir })
  t.equal(catchUp.code, 0, exits(catchUp, 0, 'a run to completion under the same faults'))
  // A last, short run under a tight rate limit (HTTP-date Retry-After), so 429s happen whatever the kills cut short.
  emu.inject('mail', 20, { lateSeconds: 30 })
  // Its first request also stalls (past --timeout), so a stall happens whatever the timing.
  emu.setFaults({ rateLimitRps: 2, retryAfter: 'http-date', retryAfterSeconds: 1, stall: 1 })
  stallOffAt = emu.stats().requests + 2
  const final = await runCli(args, { env, cwd: dir })
  t.equal(final.code, 0, exits(final, 0, 'the final run completes under a 2 rps limit too'))

  for (const s of SOURCES) {
    const truth = emu.truth(s.name)
    t.same(checkArchive(s.name, readArchive(join(dir, s.name), s.base), truth, OVERLAP_US), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: truth.length }, `${s.name}: the archive equals the truth`)
  }
  const sidecars = SOURCES.flatMap((s) => readdirSync(join(dir, s.name)).filter((f) => f.endsWith('.torn')))
  t.ok(torn >= 3 && sidecars.length > 0, `torn tails were moved aside (${sidecars.join(', ')})`)
  const v = await runCli(['verify'], { env, cwd: dir })
  t.equal(v.code, 0, exits(v, 0, 'verify passes on all three archives'))

  const st = emu.stats()
  for (const k of ['error5xx', 'html502', 'reset', 'truncated', 'stall', 'emptyPageWithToken', 'rateLimited'] as const) {
    t.ok(st.faultsInjected[k] > 0, `fault ${k} happened (${st.faultsInjected[k]} times)`)
  }
  t.ok((st.byStatus['400'] ?? 0) > 0, `the page-depth cap was hit (${st.byStatus['400'] ?? 0} times)`)
})
