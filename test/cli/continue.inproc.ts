// Continuing an archive the Python script wrote (json.dumps(ensure_ascii=False): ", " separators, its own key
// order) without duplicates, also when the 2-minute overlap crosses midnight (REFERENCE.md faults 3 and 4).
import t from 'tap'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pythonDumps } from '../../src/pipeline/format.js'
import type { SourceName } from '../../src/sources/descriptor.js'
import { ENDPOINTS } from '../../src/sources/index.js'
import { utcDay } from '../../src/time.js'
import { checkArchive, cliEnv, emulator, exact, lastNoonUtc, readArchive, runMain, summaryOf } from '../helpers.js'

const DAY_US = 86_400_000_000

/** Reverses the key order at every level: "another key order" than the API's. */
function reorder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reorder)
  if (v === null || typeof v !== 'object') return v
  return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reorder(x)]))
}

/** Writes `records` as the Python script did: one file per UTC day, json.dumps lines. Returns the file texts. */
function writePythonArchive(dir: string, base: string, source: SourceName, records: object[], keyOrder: 'api' | 'reversed'): Map<string, string> {
  mkdirSync(dir, { recursive: true })
  const files = new Map<string, string>()
  for (const r of records) {
    const day = utcDay(ENDPOINTS[source].timestamp(r as Record<string, unknown>) as number)
    files.set(day, (files.get(day) ?? '') + pythonDumps(keyOrder === 'api' ? r : reorder(r)) + '\n')
  }
  for (const [day, text] of files) writeFileSync(join(dir, `${base}_${day}.json`), text)
  return files
}

/** Truth records up to a resume point just after the data's midnight, and that midnight. */
function cutAtMidnight(source: SourceName, truth: object[]): { before: object[]; midnight: number; resume: number } {
  const ts = (r: object): number => ENDPOINTS[source].timestamp(r as Record<string, unknown>) as number
  const mid = truth.map(ts)
  const midnight = Math.floor(mid[Math.floor(mid.length / 2)] / DAY_US) * DAY_US
  // the newest record of the archive is the first one at or after midnight (the generator puts one exactly on it)
  const resume = mid.find((us) => us >= midnight) as number
  return { before: truth.filter((r) => ts(r) <= resume), midnight, resume }
}

for (const [source, base, keyOrder] of [['mail', 'mail_audit', 'reversed'], ['disk', 'disk_audit', 'reversed'], ['events', 'y360_audit', 'api']] as const) {
  t.test(`${source}: a Python-written archive (${keyOrder} key order) is continued without duplicates across midnight`, async (t) => {
    // The data ends at the last noon (UTC), so its middle midnight and the records around it do not move with the time
    // of day the test runs at (ending at "now" just after midnight left a day-long gap after the chosen midnight).
    const emu = await emulator(t, { counts: { [source]: 600 }, days: 4, seed: 11, end: lastNoonUtc() })
    const dir = t.testdir()
    const archiveDir = join(dir, source)
    const truth = emu.truth(source)
    const { before, midnight, resume } = cutAtMidnight(source, truth)
    t.ok(resume - midnight < 120_000_000, 'the resume point is within one overlap after midnight')
    const prevDay = utcDay(midnight - 1)
    const inOverlapPrevDay = before.filter((r) => {
      const us = ENDPOINTS[source].timestamp(r as Record<string, unknown>) as number
      return us >= resume - 120_000_000 && us < midnight
    })
    t.ok(inOverlapPrevDay.length >= 1, `the overlap holds ${inOverlapPrevDay.length} record(s) of the previous day's file ${prevDay}`)
    const files = writePythonArchive(archiveDir, base, source, before, keyOrder)
    t.match([...files.values()][0], /^\{"[^"]+": /, 'fixture lines have Python spacing')
    const dirVar = { mail: 'MAIL_LOG_CATALOG_LOCATION', disk: 'DISK_LOG_CATALOG_LOCATION', events: 'NEW_LOG_CATALOG_LOCATION' }[source]

    const r = await runMain(['--no-log-file'], { env: cliEnv(emu, { [dirVar]: archiveDir }), cwd: dir, summary: true })
    t.equal(r.code, 0, r.stderr)
    const archive = readArchive(archiveDir, base)
    t.same(checkArchive(source, archive, truth), exact(truth.length))
    for (const [day, text] of files) t.ok(readFileSync(join(archiveDir, `${base}_${day}.json`), 'utf8').startsWith(text), `${day}: the Python lines are untouched`)
    t.equal(readFileSync(join(archiveDir, `${base}_${prevDay}.json`), 'utf8'), files.get(prevDay), 'nothing appended to the previous day')
    const s = summaryOf(r, source)
    t.equal(s.written, truth.length - before.length, 'wrote exactly the records after the resume point')
    t.ok(s.duplicates >= inOverlapPrevDay.length, `the overlap records were fetched again and dropped (${s.duplicates})`)
  })
}
