// src/pipeline/seal.ts: which days are closed (end in the zone + settle, DST days of 23 and 25 hours) and complete
// (a failed source: only days before its newest record; a clean one: its whole range); the re-check hook runs just
// before the first seal of those days, with the lock guard, and what it merges is in the seal; not for a source rate
// limited past --max-wait.
import t from 'tap'
import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ArchiveId } from '../../src/archive/layout.js'
import { createLogger } from '../../src/log.js'
import { SourceStats } from '../../src/messages.js'
import type { Outcome } from '../../src/pipeline/outcome.js'
import { closedDays, coveredUs, sealSource, type BeforeSealRequest } from '../../src/pipeline/seal.js'
import { dayBounds } from '../../src/archive/layout.js'

/** End of local day `day` in `zone`, ms (what closedDays compares). */
const dayEndMs = (day: string, zone: string): number => dayBounds(zone, day).to / 1000

const H = 3_600_000
const rec = (iso: string): string => JSON.stringify({ date: iso, eventType: 'message_seen' }) + '\n'

t.test('day ends: local midnight of the next day; 23 and 25 hour days in Europe/Berlin', async (t) => {
  t.equal(dayEndMs('2026-11-20', 'UTC'), Date.parse('2026-11-21T00:00:00Z'))
  t.equal(dayEndMs('2026-11-20', 'Europe/Moscow'), Date.parse('2026-11-20T21:00:00Z'))
  t.equal(dayEndMs('2026-03-29', 'Europe/Berlin') - dayEndMs('2026-03-28', 'Europe/Berlin'), 23 * H)
  t.equal(dayEndMs('2026-10-25', 'Europe/Berlin') - dayEndMs('2026-10-24', 'Europe/Berlin'), 25 * H)
})

t.test('closedDays and coveredUs: settle time, and how far a source is known complete', async (t) => {
  const policy = { zone: 'UTC', settleMs: H }
  const days = ['2026-11-18', '2026-11-19', '2026-11-20']
  const now = Date.parse('2026-11-20T00:59:59Z')
  t.same(closedDays(days, policy, now, Infinity), ['2026-11-18'], 'the 19th ends at midnight and settles until 01:00')
  t.same(closedDays(days, policy, now + 1000, Infinity), ['2026-11-18', '2026-11-19'])
  const stats = new SourceStats()
  stats.last = Date.parse('2026-11-19T10:00:00Z') * 1000
  const failed: Outcome = { source: 'mail', mode: 'append', ok: false, code: 'API_UNAVAILABLE', exit: 4, durationMs: 0, range: { from: 0, to: now * 1000 } }
  t.equal(coveredUs(stats, failed), stats.last, 'a failed source: up to its newest record')
  t.same(closedDays(days, policy, now + 1000, coveredUs(stats, failed)), ['2026-11-18'], 'so the day it died in is not sealed')
  t.equal(coveredUs(stats, { ...failed, ok: true, code: undefined, exit: 0 }), now * 1000, 'a clean source: its whole range')
  t.equal(coveredUs(new SourceStats(), { ...failed, resume: 42 }), 42, 'nothing written: the previous resume point')
})

t.test('sealSource: the re-check hook runs before the first seal, with the guard; its merge is sealed', async (t) => {
  const dir = t.testdir({ 'mail_audit_2026-11-18.json': rec('2026-11-18T10:00:00.000Z'), 'mail_audit_2026-11-19.json': rec('2026-11-19T10:00:00.000Z'), 'mail_audit_2026-11-20.json': rec('2026-11-20T10:00:00.000Z') })
  const archive: ArchiveId = { dir, base: 'mail_audit', ext: 'json' }
  const { log, close } = await createLogger({ level: 'silent', pretty: false, secrets: [] })
  t.teardown(close)
  const calls: { days: readonly string[]; guarded: boolean }[] = []
  let guards = 0
  const beforeSeal = async (req: BeforeSealRequest): Promise<void> => {
    req.guard()
    calls.push({ days: req.days, guarded: guards > 0 })
    appendFileSync(join(req.archive.dir, 'mail_audit_2026-11-19.json'), rec('2026-11-19T11:00:00.000Z')) // a late arrival merged
  }
  const policy = { zone: 'UTC', settleMs: H, tool: 't', now: () => Date.parse('2026-11-20T12:00:00Z'), beforeSeal }
  const outcome: Outcome = { source: 'mail', mode: 'append', ok: true, exit: 0, durationMs: 0, range: { from: 0, to: policy.now() * 1000 } }
  const src = { name: 'mail' as const, dir, base: 'mail_audit' }
  const s = await sealSource(src, archive, new SourceStats(), outcome, policy, log, () => guards++)
  t.same(calls, [{ days: ['2026-11-18', '2026-11-19'], guarded: true }], 'once, with the closed unsealed days')
  t.same(s.sealed, ['mail_audit_2026-11-18.json', 'mail_audit_2026-11-19.json'])
  const entries = readFileSync(join(dir, 'mail_audit.manifest.jsonl'), 'utf8').split('\n').slice(0, -1).map((l) => JSON.parse(l) as { lines: number; last: string })
  t.match(entries[1], { lines: 2, last: '2026-11-19T11:00:00.000Z' }, 'the seal holds what the hook merged')
  const again = await sealSource(src, archive, new SourceStats(), outcome, policy, log, () => guards++)
  t.same({ calls: calls.length, sealed: again.sealed }, { calls: 1, sealed: [] }, 'sealed days are not re-checked')
})

t.test('sealSource: a source the API rate limited past --max-wait is not re-checked (the request would be refused) nor sealed', async (t) => {
  const dir = t.testdir({ 'mail_audit_2026-11-18.json': rec('2026-11-18T10:00:00.000Z'), 'mail_audit_2026-11-19.json': rec('2026-11-19T10:00:00.000Z') })
  const archive: ArchiveId = { dir, base: 'mail_audit', ext: 'json' }
  const { log, close } = await createLogger({ level: 'silent', pretty: false, secrets: [] })
  t.teardown(close)
  let calls = 0
  const policy = { zone: 'UTC', settleMs: H, tool: 't', now: () => Date.parse('2026-11-20T12:00:00Z'), beforeSeal: async (): Promise<void> => void calls++ }
  const stats = new SourceStats()
  stats.last = Date.parse('2026-11-19T10:00:00Z') * 1000
  const limited: Outcome = { source: 'mail', mode: 'append', ok: false, code: 'RATE_LIMITED', exit: 75, durationMs: 0, range: { from: 0, to: policy.now() * 1000 } }
  const src = { name: 'mail' as const, dir, base: 'mail_audit' }
  const s = await sealSource(src, archive, stats, limited, policy, log, () => undefined)
  t.same({ calls, sealed: s.sealed }, { calls: 0, sealed: [] }, 'the closed day 18 waits for the next run')
  const next = await sealSource(src, archive, stats, { ...limited, code: 'API_UNAVAILABLE', exit: 4 }, policy, log, () => undefined)
  t.same({ calls, sealed: next.sealed }, { calls: 1, sealed: ['mail_audit_2026-11-18.json'] }, 'another failure: re-checked and sealed up to its newest record')
})
