// The chaos test. Guards the whole promise: with a hostile API (5xx, HTML 502, resets, truncated bodies, stalls, 429
// bursts in both Retry-After forms, empty pages with a token, a page-depth cap), live arrivals between runs, and the
// real CLI killed with SIGKILL at random moments (>= 10 kills, some leaving a torn last line), then run to completion,
// each source's archive equals the emulator's ground truth exactly and `verify` passes; then late arrivals into sealed
// days, reconcile killed three times at random requests and run to completion: exact again, verify passes.
// Replay a failure with CHAOS_SEED=<seed printed in the output>.
// The killed runs are real processes (SIGKILL is the point); the catch-up, the final run and verify run main() in this
// process (runMain). Nothing depends on the machine's speed: kills come at a request number, or at a request after the
// run has written (the first three runs, so that kills hit runs that had written whatever the disk's speed); faults
// are drawn per request from the seed, and each kind is also forced once (the catch-up run), so every kind happens
// however many requests the kills left; each 429 is forced (a rate limit in requests per real second fired or not
// with the machine's speed).
import t from 'tap'
import { appendFileSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { SourceName } from '../../src/sources/descriptor.js'
import type { Faults } from '../../src/emulator/index.js'
import { checkArchive, cliEnv, emulator, readArchive, runMain } from '../helpers.js'
import { archivedLines, exits, prng, startCli, type LiveCli } from './util.js'

const SEED = Number(process.env.CHAOS_SEED ?? 20_261_129)
const KILLS = 10
const OVERLAP_US = 120_000_000
const HOUR_MS = 3_600_000
const SOURCES: { name: SourceName; base: string; dirVar: string }[] = [
  { name: 'mail', base: 'mail_audit', dirVar: 'MAIL_LOG_CATALOG_LOCATION' },
  { name: 'disk', base: 'disk_audit', dirVar: 'DISK_LOG_CATALOG_LOCATION' },
  { name: 'events', base: 'y360_audit', dirVar: 'NEW_LOG_CATALOG_LOCATION' },
]

t.test(`chaos: ${KILLS} SIGKILLs under a hostile API, then the archive equals the truth (seed ${SEED})`, async (t) => {
  const rng = prng(SEED)
  const BASE: Partial<Faults> = { error5xx: 0.05, html502: 0.02, reset: 0.02, truncated: 0.02, stall: 0.01, emptyPageWithToken: 0.05 }
  const NONE: Partial<Faults> = { error5xx: 0, html502: 0, reset: 0, truncated: 0, stall: 0, emptyPageWithToken: 0 }
  // Actions run as request n arrives (before its faults are drawn), in the order they were planned. Each setFaults
  // empties the emulator's rate window, so none may come between the two requests of a forced 429.
  const plan = new Map<number, (() => void)[]>()
  const at = (n: number, action: () => void): void => void plan.set(n, [...(plan.get(n) ?? []), action])
  // The emulator's clock is the real one (the client reads an HTTP-date against its own clock), except while pinned.
  let pinned: number | undefined
  /** Requests `n` and `n`+1 see the clock stand still with one request per second allowed: `n`+1 is refused. */
  const force429 = (form: Faults['retryAfter'], n: number): void => {
    at(n, () => {
      pinned = Date.now()
      emu.setFaults({ rateLimitRps: 1, retryAfter: form, retryAfterSeconds: 1 })
    })
    at(n + 2, () => {
      pinned = undefined
      emu.setFaults({ rateLimitRps: 0 })
    })
  }
  let live: LiveCli | undefined
  let killAt = Infinity
  let kill: { linesBefore: number; bytesBefore: number; after: number } | undefined // kill `after` requests after the run wrote
  const emu = await emulator(t, {
    counts: { mail: 1200, disk: 400, events: 1000 }, days: 2, seed: SEED, clock: () => pinned ?? Date.now(),
    faults: { ...BASE, seed: SEED },
    switches: { pageDepthCap: 3 }, // the 210-record burst (3 pages of one instant) still pages whole; wider windows hit the cap
    onRequest: (n) => {
      for (const action of plan.get(n) ?? []) action()
      plan.delete(n)
      if (live === undefined) return
      if (kill !== undefined && bytes() > kill.bytesBefore && archived() > kill.linesBefore && kill.after-- === 0) {
        kill = undefined
        live.child.kill('SIGKILL')
      }
      if (n >= killAt) {
        killAt = Infinity
        live.child.kill('SIGKILL')
      }
    },
  })
  const dir = t.testdir()
  const env = cliEnv(emu, Object.fromEntries(SOURCES.map((s) => [s.dirVar, join(dir, s.name)])))
  const args = ['--lookback', '3d', '--timeout', '300ms', '--retries', '12', '--max-pages', '6', '--concurrency', '3', '--max-wait', '30s']
  const dayFiles = (s: (typeof SOURCES)[number]): string[] => (existsSync(join(dir, s.name)) ? readdirSync(join(dir, s.name)).filter((n) => n.startsWith(`${s.base}_`) && n.endsWith('.json')).sort() : [])
  /** Bytes in all day files now (cheap: checked on every request before counting lines). */
  const bytes = (): number => SOURCES.reduce((n, s) => dayFiles(s).reduce((m, f) => m + statSync(join(dir, s.name, f)).size, n), 0)
  /** Complete lines in all archives now. */
  const archived = (): number => SOURCES.reduce((n, s) => n + archivedLines(join(dir, s.name)), 0)
  const schedule: string[] = []
  let kills = 0
  let torn = 0
  let writing = 0 // kills that came after the run had written something
  let span = 80
  for (let run = 1; kills < KILLS && run <= 40; run++) {
    // Live arrivals between runs, some of them late (inside the overlap).
    const src = SOURCES[rng.int(3)].name
    emu.inject(src, 1 + rng.int(30), { lateSeconds: rng.int(60) })
    // Runs 2 and 6 meet a 429 at once, one per Retry-After form (unless the kill comes first; each costs up to 1 s).
    const start = emu.stats().requests
    if (run === 2 || run === 6) force429(run === 2 ? 'seconds' : 'http-date', start + 2)
    const linesBefore = archived()
    if (run <= 3) {
      // The first runs catch up on two days of history: killed a few requests after their first write.
      kill = { linesBefore, bytesBefore: bytes(), after: rng.int(4) }
      schedule.push(`run ${run}: kill ${kill.after} requests after the first write`)
    } else {
      // Kill within the run: `span` is how many requests the last run that finished by itself needed.
      killAt = start + 1 + rng.int(Math.max(2, span))
      schedule.push(`run ${run}: kill at request ${killAt}`)
    }
    live = startCli(args, { env, cwd: dir })
    const r = await live.done
    live = undefined
    kill = undefined
    if (r.signal === 'SIGKILL') {
      kills++
      if (archived() > linesBefore) writing++
      // Every third kill also tears the newest line of one archive, as a kill inside write() would.
      if (kills % 3 === 0) {
        const first = rng.int(3)
        const s = [0, 1, 2].map((i) => SOURCES[(first + i) % 3]).find((x) => dayFiles(x).length > 0) ?? SOURCES[first]
        const files = dayFiles(s)
        if (files.length > 0) {
          const file = join(dir, s.name, files.at(-1) as string)
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

  // The catch-up run meets each transient fault once (alone, on one request each), then a 429 (Retry-After seconds).
  const c = emu.stats().requests
  const kinds = ['error5xx', 'html502', 'reset', 'truncated', 'emptyPageWithToken'] as const
  kinds.forEach((k, i) => at(c + 1 + i, () => emu.setFaults({ ...NONE, [k]: 1 })))
  at(c + 1 + kinds.length, () => emu.setFaults(BASE))
  force429('seconds', c + 1 + kinds.length)
  const before = emu.stats().faultsInjected
  const catchUp = await runMain(args, { env, cwd: dir })
  t.equal(catchUp.code, 0, exits(catchUp, 0, 'a run to completion under the same faults'))
  const after = emu.stats().faultsInjected
  t.ok([...kinds, 'rateLimited' as const].every((k) => after[k] > before[k]), 'it met each transient fault and a 429')
  t.equal(after.rateLimited, before.rateLimited + 1, 'one 429 (Retry-After in seconds)')
  // A last, short run: its first two requests stall (past --timeout), then a 429 (Retry-After as an HTTP-date).
  emu.inject('mail', 20, { lateSeconds: 30 })
  const f = emu.stats().requests
  emu.setFaults({ ...NONE, stall: 1 })
  at(f + 3, () => emu.setFaults(BASE))
  force429('http-date', f + 3)
  const final = await runMain(args, { env, cwd: dir })
  t.equal(final.code, 0, exits(final, 0, 'the final run completes after stalls and a 429 too'))
  t.same([emu.stats().faultsInjected.stall - after.stall >= 2, emu.stats().faultsInjected.rateLimited], [true, after.rateLimited + 1], 'two stalls, one 429')

  // Late arrivals into closed (sealed) days, far beyond the overlap; reconcile is killed at random requests under the
  // same faults, then run to completion: the days it was merging stay as they were or merged, reopened days stay open.
  for (const s of SOURCES) emu.late(s.name, 2 + rng.int(6), { from: Date.now() - 40 * HOUR_MS, to: Date.now() - 26 * HOUR_MS })
  const reconcileArgs = ['reconcile', '--since', '-3d', ...args.slice(2)]
  const reconcileKills: string[] = []
  for (let k = 0; k < 3; k++) {
    killAt = emu.stats().requests + 1 + rng.int(120)
    reconcileKills.push(`reconcile ${k + 1}: kill at request ${killAt}`)
    live = startCli(reconcileArgs, { env, cwd: dir })
    const r = await live.done
    live = undefined
    killAt = Infinity
    t.ok(r.signal === 'SIGKILL' || r.code === 10, r.signal === 'SIGKILL' ? `reconcile ${k + 1} killed` : exits(r, 10, `reconcile ${k + 1} done with exit 10 (records were missing)`))
  }
  t.comment(reconcileKills.join('\n'))
  const reconciled = await runMain(reconcileArgs, { env, cwd: dir })
  t.ok(reconciled.code === 0 || reconciled.code === 10, exits(reconciled, reconciled.code === 0 ? 0 : 10, `reconcile runs to completion (exit ${reconciled.code}: 10 while records were missing)`))
  const again = await runMain(reconcileArgs, { env, cwd: dir })
  t.equal(again.code, 0, exits(again, 0, 'then nothing is missing'))

  for (const s of SOURCES) {
    const truth = emu.truth(s.name)
    t.same(checkArchive(s.name, readArchive(join(dir, s.name), s.base), truth, OVERLAP_US), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: truth.length }, `${s.name}: the archive equals the truth`)
  }
  const sidecars = SOURCES.flatMap((s) => readdirSync(join(dir, s.name)).filter((f) => f.endsWith('.torn')))
  t.ok(torn >= 3 && sidecars.length > 0, `torn tails were moved aside (${sidecars.join(', ')})`)
  const v = await runMain(['verify'], { env, cwd: dir })
  t.equal(v.code, 0, exits(v, 0, 'verify passes on all three archives'))

  const st = emu.stats()
  t.comment(`faults: ${JSON.stringify(st.faultsInjected)}`)
  t.ok((st.byStatus['400'] ?? 0) > 0, `the page-depth cap was hit (${st.byStatus['400'] ?? 0} times)`)
})
