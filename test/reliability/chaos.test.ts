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
// with the machine's speed). The second test draws API variants (broken assumptions) at random: see its comment.
import t, { type Test } from 'tap'
import { appendFileSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { SourceName } from '../../src/sources/descriptor.js'
import type { Faults, SwitchesPatch } from '../../src/emulator/index.js'
import { EXIT_CODES } from '../../src/errors.js'
import type { Rng } from '../../src/emulator/prng.js'
import { checkArchive, cliEnv, emulator, exact, fakeClock, readArchive, runMain, summaryOf, type MainResult } from '../helpers.js'
import { archivedLines, exits, prefixProblems, prng, startCli, type LiveCli } from './util.js'

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

// The API variants (issue 12): each draw turns on a few switches that break the tool's assumptions (order, tokens,
// bounds, endless paging, poison and stray records, ignored filters, an API reading only the first repeated types= key,
// which runs mail and events with --types) beside the learned facts that are not anomalies
// (unlisted disk types, CIDR ips, the unified end marker), over small data, with a few transient faults. Verdict, per
// run: exit 0 only with every source exact and no anomaly; exit 8 only with every source exact and an anomaly named;
// any other exit only with the sources that failed naming an anomaly (summary `anomalies`, or the error naming one),
// their archives a valid prefix, the others exact. A second run, after new arrivals, must not stall: a source that
// ends ok holds the truth with them. Runs are in this process (no process matters here) on one fixed clock.
// Replay one draw with CHAOS_SEED=<seed> CHAOS_DRAW=<n> (both printed in each draw's name; CHAOS_DRAWS sets how many).
const DRAWS = Number(process.env.CHAOS_DRAWS ?? 6)
const NOW = Date.UTC(2026, 5, 10, 12, 0, 0)
const ALL: SourceName[] = ['mail', 'disk', 'events']

interface Draw {
  switches: SwitchesPatch
  args: string[]
  /** Only learned facts were drawn: the run must exit 0. */
  factsOnly: boolean
  names: string[]
  /** The mail types filter (`--types`: then disk, which takes no types, is left out of the run). */
  types?: string[]
}

/** A non-empty random subset of the sources. */
const someSources = (rng: Rng): SourceName[] => {
  const picked = ALL.filter(() => rng.next() < 0.5)
  return picked.length > 0 ? picked : [ALL[rng.int(3)]]
}

/** One variant: a name, whether it is a learned fact (not an anomaly), and what it sets. */
const VARIANTS: { name: string; fact: boolean; set: (rng: Rng, d: Draw) => void }[] = [
  { name: 'pagesOldestFirst', fact: false, set: (rng, d) => void (d.switches.pagesOldestFirst = someSources(rng)) },
  { name: 'dropNextToken', fact: false, set: (rng, d) => void (d.switches.dropNextToken = (['null', 'absent', 'empty'] as const)[rng.int(3)]) },
  { name: 'ignoreBounds', fact: false, set: (rng, d) => void (d.switches.ignoreBounds = someSources(rng)) },
  { name: 'endlessToken', fact: false, set: (rng, d) => void (d.switches.endlessToken = someSources(rng)) },
  { name: 'poison', fact: false, set: (rng, d) => void (d.switches.poison = { source: ALL[rng.int(3)], depth: 100 + rng.int(400) }) },
  { name: 'strayRecords', fact: false, set: (rng, d) => void (d.switches.strayRecords = { source: ALL[rng.int(3)], at: [Date.UTC(2999, 0, 1), Date.UTC(1970, 0, 2), NOW + 30 * 60_000] }) },
  { name: 'ignoreFilters', fact: false, set: (rng, d) => void (d.switches.ignoreFilters = someSources(rng)) },
  { name: 'typesFirstOnly', fact: false, set: (_rng, d) => { d.switches.typesFirstOnly = true; d.types = ['message_seen', 'mailbox_send'] } },
  { name: 'unlistedDiskTypes', fact: true, set: (_rng, d) => void (d.switches.unlistedDiskTypes = true) },
  { name: 'eventsIpCidr', fact: true, set: (_rng, d) => void (d.switches.eventsIpCidr = true) },
  { name: 'eventsEndMarker', fact: true, set: (rng, d) => void (d.switches.eventsEndMarker = (['null', 'absent', 'empty'] as const)[rng.int(3)]) },
]

/**
 * The draws of a run: variants dealt from a shuffled deck, two or three to a draw (a card already in the draw goes back
 * under the deck), reshuffled when it runs out, so the default six draws meet every variant at least once in random
 * company; half the draws (every one with ignoreFilters) carry an --exclude-uids filter.
 */
function deal(rng: Rng, n: number): Draw[] {
  let deck: typeof VARIANTS = []
  const draws: Draw[] = []
  for (let i = 0; i < n; i++) {
    const d: Draw = { switches: {}, args: [], factsOnly: true, names: [] }
    for (let k = 2 + (rng.next() < 0.3 ? 1 : 0); k > 0;) {
      if (deck.length === 0) deck = shuffle(rng, [...VARIANTS])
      const v = deck.shift() as (typeof VARIANTS)[number]
      if (d.names.includes(v.name)) {
        deck.push(v)
        if (deck.every((x) => d.names.includes(x.name))) break
        continue
      }
      v.set(rng, d)
      d.factsOnly &&= v.fact
      d.names.push(v.name)
      k--
    }
    if (d.switches.ignoreFilters !== undefined || rng.next() < 0.5) d.args.push('--exclude-uids', '<uid>')
    draws.push(d)
  }
  return draws
}

/** Fisher-Yates with the seeded PRNG. */
function shuffle<T>(rng: Rng, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a
}

t.test(`chaos: API variants drawn at random, exact or loud (CHAOS_SEED=${SEED}, ${DRAWS} draws)`, async (t) => {
  const only = process.env.CHAOS_DRAW === undefined ? undefined : Number(process.env.CHAOS_DRAW)
  const draws = deal(prng(SEED + 7919), DRAWS) // all dealt, so that CHAOS_DRAW replays draw n as the full run had it
  for (const [i, d] of draws.entries()) {
    if (only !== undefined && only !== i) continue
    // The name stays short (the test directory is named after it); the switches are printed beside it.
    t.comment(`draw ${i}: ${JSON.stringify(d.switches)} ${d.args.join(' ')}`)
    await t.test(`draw ${i} (CHAOS_SEED=${SEED} CHAOS_DRAW=${i}): ${d.names.join(', ')}`, (t) => variantDraw(t, d))
  }
})

async function variantDraw(t: Test, d: Draw): Promise<void> {
  const clock = fakeClock(NOW)
  const emu = await emulator(t, { counts: { mail: 300, disk: 200, events: 300 }, days: 1, seed: SEED, clock: clock.now, end: NOW - 60_000, switches: d.switches, faults: { error5xx: 0.03, reset: 0.02, seed: SEED } })
  const dir = t.testdir()
  const sources = SOURCES.filter((s) => d.types === undefined || s.name !== 'disk')
  const env = cliEnv(emu, Object.fromEntries(sources.map((s) => [s.dirVar, join(dir, s.name)])))
  // The filter names a user of the data (the first mail record's), excluded from every source.
  const uid = String((emu.truth('mail')[0] as { userUid: string }).userUid)
  const filters = { ...(d.args.includes('--exclude-uids') ? { excludeUids: [uid] } : {}), ...(d.types === undefined ? {} : { types: d.types }) }
  const typed = d.types === undefined ? [] : ['--types', d.types.join(',')]
  const args = ['--lookback', '2d', '--max-pages', '3', '--concurrency', '2', '--retries', '12', ...typed, ...d.args.map((a) => (a === '<uid>' ? uid : a))]
  const judge = (r: MainResult, what: string): void => {
    const summaries = sources.map((s) => summaryOf(r, s.name))
    const named = (x: (typeof summaries)[number]): boolean => Object.keys(x.anomalies ?? {}).length > 0 || /anomaly [a-z]/.test(x.error ?? '')
    for (const s of sources) {
      const sum = summaryOf(r, s.name)
      const truth = emu.truth(s.name, filters)
      const archive = existsSync(join(dir, s.name)) ? readArchive(join(dir, s.name), s.base) : { days: new Map(), lines: [] }
      if (sum.ok) t.same(checkArchive(s.name, archive, truth), exact(truth.length), `${what}: ${s.name} ended ok and its archive equals the truth`)
      else {
        t.ok(named(sum), `${what}: ${s.name} failed (${sum.code}) naming an anomaly: ${sum.error ?? ''}`)
        t.same(prefixProblems(s.name, archive, truth), [], `${what}: ${s.name}'s archive is a valid prefix of the truth`)
      }
    }
    const failed = summaries.filter((x) => !x.ok)
    if (r.code === EXIT_CODES.OK) t.ok(failed.length === 0 && summaries.every((x) => x.anomalies === undefined), `${what}: exit 0 with no anomaly`)
    else if (r.code === EXIT_CODES.ANOMALY) t.ok(failed.length === 0 && summaries.some(named), `${what}: exit 8 with every source exact and an anomaly named`)
    else t.ok(failed.some((x) => EXIT_CODES[x.code as keyof typeof EXIT_CODES] === r.code), exits(r, r.code ?? -1, `${what}: exit ${r.code} is a failed source's documented code (${failed.map((x) => x.code).join(', ')})`))
    if (d.factsOnly) t.equal(r.code, EXIT_CODES.OK, exits(r, EXIT_CODES.OK, `${what}: learned facts alone are no anomaly`))
  }
  judge(await runMain(args, { env, cwd: dir, now: clock.now, summary: true }), 'first run')
  // New arrivals ten minutes on: a source must fetch them (or keep failing loudly), never stall behind a bogus point.
  clock.advance(10 * 60_000)
  for (const s of ALL) emu.inject(s, 5, { at: NOW + 9 * 60_000 }) // before now: a record at now itself is the next run's ([from, now) is half-open)
  judge(await runMain(args, { env, cwd: dir, now: clock.now, summary: true }), 'second run')
}
