// The chaos test. Guards the whole promise: with a hostile API (5xx, HTML 502, resets, truncated bodies, stalls, 429
// bursts in both Retry-After forms, empty pages with a token, a page-depth cap), live arrivals between runs, and the
// real CLI killed with SIGKILL at random moments (>= 10 kills, some leaving a torn last line), then run to completion,
// each source's archive equals the emulator's ground truth exactly and `verify` passes.
// Replay a failure with CHAOS_SEED=<seed printed in the output>.
// The killed runs are real processes (SIGKILL is the point); the catch-up, the final run and verify run main() in this
// process (runIn). Every fault is drawn per request from the seed, except the 429s: a rate limit in requests per real
// second fires or not depending on the machine's speed, so each 429 is forced (see force429).
import t from 'tap'
import { appendFileSync, existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { SourceName } from '../../src/sources/descriptor.js'
import type { Faults } from '../../src/emulator/index.js'
import { checkArchive, cliEnv, emulator, readArchive } from '../helpers.js'
import { archivedLines, exits, prng, runIn, startCli, type LiveCli } from './util.js'

const SEED = Number(process.env.CHAOS_SEED ?? 20_261_129)
const KILLS = 10
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
  // force429(form, at): requests `at` and `at`+1 see the emulator's clock stand still at one instant with one request
  // per second allowed, so `at`+1 is refused (Retry-After 1 s in `form`); the request after them lifts the limit. The
  // clock is the real one otherwise (the client reads an HTTP-date against its own clock).
  let pinned: number | undefined
  let armed: { form: Faults['retryAfter']; at: number } | undefined
  const force429 = (form: Faults['retryAfter'], at: number): void => {
    if (pinned !== undefined) emu.setFaults({ rateLimitRps: 0 }) // a kill cut the last one short
    pinned = undefined
    armed = { form, at }
  }
  const emu = await emulator(t, {
    counts: { mail: 2000, disk: 700, events: 1600 }, days: 2, seed: SEED, clock: () => pinned ?? Date.now(),
    faults: { error5xx: 0.05, html502: 0.02, reset: 0.02, truncated: 0.02, stall: 0.01, emptyPageWithToken: 0.05, seed: SEED },
    switches: { pageDepthCap: 4 },
    onRequest: (n) => {
      // (Each setFaults empties the rate window, so none may come between the pinned requests.)
      if (pinned !== undefined && armed === undefined) {
        pinned = undefined
        emu.setFaults({ rateLimitRps: 0 })
      }
      if (stallOffAt !== undefined && n >= stallOffAt) {
        stallOffAt = undefined
        emu.setFaults({ stall: 0.01 })
      }
      if (armed !== undefined && n >= armed.at) {
        if (pinned === undefined) {
          pinned = Date.now()
          emu.setFaults({ rateLimitRps: 1, retryAfter: armed.form, retryAfterSeconds: 1 })
        } else armed = undefined // the second pinned request: refused; the next one lifts the limit
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
  const archived = (): number => SOURCES.reduce((n, s) => n + archivedLines(join(dir, s.name)), 0)
  let span = 80
  for (let run = 1; kills < KILLS && run <= 40; run++) {
    // Live arrivals between runs, some of them late (inside the overlap).
    const src = SOURCES[rng.int(3)].name
    emu.inject(src, 1 + rng.int(30), { lateSeconds: rng.int(60) })
    // Runs 2 and 6 meet a 429 at once, one per Retry-After form (unless the kill comes first; each costs up to 1 s).
    const start = emu.stats().requests
    if (run === 2 || run === 6) force429(run === 2 ? 'seconds' : 'http-date', start + 2)
    // Kill within the run: `span` is how many requests the last run that finished by itself needed.
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

  force429('seconds', emu.stats().requests + 1)
  const before429 = emu.stats().faultsInjected.rateLimited
  const catchUp = await runIn(args, { env, cwd: dir })
  t.equal(catchUp.code, 0, exits(catchUp, 0, 'a run to completion under the same faults'))
  t.equal(emu.stats().faultsInjected.rateLimited, before429 + 1, 'it met one 429 (Retry-After in seconds)')
  // A last, short run that meets a 429 (HTTP-date Retry-After), so 429s happen whatever the kills cut short.
  emu.inject('mail', 20, { lateSeconds: 30 })
  // Its first two requests also stall (past --timeout), so a stall happens whatever the timing; then the 429.
  emu.setFaults({ stall: 1 })
  stallOffAt = emu.stats().requests + 3
  force429('http-date', stallOffAt)
  const final = await runIn(args, { env, cwd: dir })
  t.equal(final.code, 0, exits(final, 0, 'the final run completes after a 429 too'))
  t.equal(emu.stats().faultsInjected.rateLimited, before429 + 2, 'it met one 429 (Retry-After as an HTTP-date)')

  for (const s of SOURCES) {
    const truth = emu.truth(s.name)
    t.same(checkArchive(s.name, readArchive(join(dir, s.name), s.base), truth, OVERLAP_US), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: truth.length }, `${s.name}: the archive equals the truth`)
  }
  const sidecars = SOURCES.flatMap((s) => readdirSync(join(dir, s.name)).filter((f) => f.endsWith('.torn')))
  t.ok(torn >= 3 && sidecars.length > 0, `torn tails were moved aside (${sidecars.join(', ')})`)
  const v = await runIn(['verify'], { env, cwd: dir })
  t.equal(v.code, 0, exits(v, 0, 'verify passes on all three archives'))

  const st = emu.stats()
  for (const k of ['error5xx', 'html502', 'reset', 'truncated', 'stall', 'emptyPageWithToken', 'rateLimited'] as const) {
    t.ok(st.faultsInjected[k] > 0, `fault ${k} happened (${st.faultsInjected[k]} times)`)
  }
  t.ok((st.byStatus['400'] ?? 0) > 0, `the page-depth cap was hit (${st.byStatus['400'] ?? 0} times)`)
})
