// --timezone partitions by local day (luxon, DST-safe): Europe/Moscow around local midnight, Europe/Berlin on the day
// of its latest DST change (23 or 25 hours long); the checkpoint still resumes from zone-named files. In-process.
import t from 'tap'
import { join } from 'node:path'
import { DateTime } from 'luxon'
import { cliEnv, emulator, readArchive, runMain, summaryOf } from '../helpers.js'

const iso = (ms: number): string => new Date(ms).toISOString()

t.test('Europe/Moscow: 20:59:59.999Z and 21:00:00.000Z land in different local-day files; incremental runs resume', async (t) => {
  const emu = await emulator(t, {})
  const dir = t.testdir()
  const mailDir = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mailDir, Y360_TIMEZONE: 'Europe/Moscow' })
  const d = DateTime.utc().minus({ days: 3 }).startOf('day') // UTC day D; Moscow midnight D+1 is D 21:00Z
  const at = (h: number, m: number, s: number, ms: number): number => d.set({ hour: h, minute: m, second: s, millisecond: ms }).toMillis()
  const [a] = emu.inject('mail', 1, { at: at(0, 30, 0, 0) }) // Moscow D 03:30
  const [b] = emu.inject('mail', 1, { at: at(20, 59, 59, 999) }) // Moscow D 23:59:59.999
  const [c] = emu.inject('mail', 1, { at: at(21, 0, 0, 0) }) // Moscow D+1 00:00:00.000
  const [e] = emu.inject('mail', 1, { at: at(22, 0, 0, 0) }) // still UTC day D, Moscow D+1
  const dayD = d.toISODate() as string
  const dayD1 = d.plus({ days: 1 }).toISODate() as string

  const r = await runMain(['--lookback', '5d'], { env, cwd: dir })
  t.equal(r.code, 0)
  const arch = readArchive(mailDir, 'mail_audit')
  t.same([...arch.days.entries()], [[dayD, [a, b]], [dayD1, [c, e]]], 'files named by the Moscow day')

  // Incremental run: the resume point comes from the newest zone-named file; nothing is duplicated.
  const fresh = emu.inject('mail', 2)
  const r2 = await runMain([], { env, cwd: dir, summary: true })
  t.equal(r2.code, 0)
  t.match(r2.stderr, new RegExp(`resuming after ${iso(at(22, 0, 0, 0)).replace('.', '\\.')}`))
  t.match(summaryOf(r2, 'mail'), { ok: true, written: 2 })
  const todayMsk = DateTime.now().setZone('Europe/Moscow').toISODate() as string
  const arch2 = readArchive(mailDir, 'mail_audit')
  // The two share one instant: within an instant records are ordered by canonical key, not by arrival.
  const byId = (xs: object[]): object[] => [...xs].sort((x, y) => String((x as { uniqId: string }).uniqId).localeCompare(String((y as { uniqId: string }).uniqId)))
  t.same(byId(arch2.days.get(todayMsk)?.slice(-2) ?? []), byId(fresh), `new records in the Moscow-day file ${todayMsk}`)
  t.equal(arch2.lines.length, 6)

  const ok = await runMain(['verify', '--timezone', 'Europe/Moscow'], { env: { ...env, Y360_TIMEZONE: '' }, cwd: dir })
  t.equal(ok.code, 0, 'verify with the same zone passes')
  // Issue 15: the archive's zone mark makes verify in another zone a refused configuration (was exit 7, damage).
  const utc = await runMain(['verify', '--timezone', 'UTC'], { env, cwd: dir })
  t.equal(utc.code, 1, 'verify in UTC is refused: the archive is of Moscow days')
  t.match(utc.stderr, 'is a mail archive of Europe/Moscow days')
})

/** The latest instant (ms, on the hour) at which `zone` changed its UTC offset, within the last 400 days. */
function lastTransition(zone: string): number {
  let h = DateTime.utc().startOf('hour')
  for (let i = 0; i < 400 * 24; i++, h = h.minus({ hours: 1 })) {
    if (h.setZone(zone).offset !== h.minus({ hours: 1 }).setZone(zone).offset) return h.toMillis()
  }
  throw new Error(`no offset change of ${zone} in 400 days`)
}

t.test('Europe/Berlin: the DST-change day (23 or 25 hours) gets exactly its own records', async (t) => {
  const zone = 'Europe/Berlin'
  const x = lastTransition(zone)
  const local = DateTime.fromMillis(x, { zone }).startOf('day')
  const s = local.toMillis()
  const e = local.plus({ days: 1 }).toMillis()
  t.not(e - s, 86_400_000, `the change day ${local.toISODate()} lasts ${(e - s) / 3_600_000} hours`)
  const emu = await emulator(t, { switches: { retentionDays: { mail: 420 } } })
  const dir = t.testdir()
  const mailDir = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mailDir })
  const rec = (ms: number): object => emu.inject('mail', 1, { at: ms })[0]
  const before = rec(s - 1)
  const inside = [rec(s), rec(x - 1), rec(x), rec(e - 1)]
  const after = rec(e)
  const r = await runMain(['--timezone', zone, '--since', iso(s - 3_600_000), '--until', iso(e + 3_600_000)], { env, cwd: dir })
  t.equal(r.code, 0)
  const prev = local.minus({ days: 1 }).toISODate() as string
  const next = local.plus({ days: 1 }).toISODate() as string
  t.same([...readArchive(mailDir, 'mail_audit').days.entries()], [[prev, [before]], [local.toISODate(), inside], [next, [after]]])
  const v = await runMain(['verify', '--timezone', zone], { env, cwd: dir })
  t.equal(v.code, 0, 'verify in the same zone passes')
})
