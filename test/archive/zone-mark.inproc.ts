// Time-zone marks (issue 15). Guards: a non-UTC run marks its archive (.<base>.zone.json); a run or a verify in another
// zone is refused before any request, naming the zone; a mark-less archive with day files is UTC (the Python script's);
// a UTC archive gets no mark (it looks as before).
import t from 'tap'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cliEnv, emulator, runMain } from '../helpers.js'
import { checkZoneMark } from '../../src/archive/marks.js'

t.test('checkZoneMark', async (t) => {
  const dir = t.testdir()
  const a = { dir, base: 'mail_audit', ext: 'json' }
  t.same(checkZoneMark(a, 'mail', 'UTC'), {}, 'empty, UTC: nothing to mark')
  const w = checkZoneMark(a, 'mail', 'Europe/Moscow')
  t.type(w.write, 'function', 'empty, Moscow: to be marked')
  w.write?.()
  t.equal(readFileSync(join(dir, '.mail_audit.zone.json'), 'utf8'), '{"zone":"Europe/Moscow"}\n')
  t.same(checkZoneMark(a, 'mail', 'Europe/Moscow'), {})
  t.equal(checkZoneMark(a, 'mail', 'Etc/UTC').problem, `${dir}/mail_audit_*.json is a mail archive of Europe/Moscow days (${dir}/.mail_audit.zone.json), not Etc/UTC: files of another zone would cut days at other instants; pass --timezone Europe/Moscow, or use another directory or base name for Etc/UTC`)
  const py = t.testdir()
  writeFileSync(join(py, 'mail_audit_2026-11-20.json'), '')
  const b = { dir: py, base: 'mail_audit', ext: 'json' }
  t.same(checkZoneMark(b, 'mail', 'Etc/UTC'), {}, 'a Python archive is UTC under any UTC name')
  t.match(checkZoneMark(b, 'mail', 'Asia/Tokyo').problem, 'is a mail archive of UTC days (it has no zone mark: taken as UTC, as the Python script wrote), not Asia/Tokyo')
})

t.test('fetch and verify in another zone are refused before any request', async (t) => {
  const emu = await emulator(t, { counts: { mail: 100 }, days: 1, seed: 8 })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  const first = await runMain(['--lookback', '2d', '--timezone', 'Europe/Moscow'], { env, cwd: dir })
  t.equal(first.code, 0)
  t.ok(existsSync(join(mail, '.mail_audit.zone.json')), 'marked')
  const requests = emu.stats().requests
  const other = await runMain(['--timezone', 'UTC'], { env, cwd: dir })
  t.equal(other.code, 1)
  t.match(other.stderr, `y360-audit: configuration problems:\n  - ${mail}/mail_audit_*.json is a mail archive of Europe/Moscow days`)
  t.equal(emu.stats().requests, requests, 'no request')
  const v = await runMain(['verify', '--timezone', 'Asia/Tokyo'], { env, cwd: dir })
  t.same([v.code, v.stdout], [1, ''])
  t.match(v.stderr, 'pass --timezone Europe/Moscow')
  t.equal((await runMain(['verify', '--timezone', 'Europe/Moscow'], { env, cwd: dir })).code, 0)

  const utc = join(dir, 'utc')
  mkdirSync(utc)
  const u = await runMain(['--lookback', '2d'], { env: { ...env, MAIL_LOG_CATALOG_LOCATION: utc }, cwd: dir })
  t.equal(u.code, 0)
  t.same(readdirSync(utc).filter((n) => n.startsWith('.mail_audit.')), [], 'a UTC archive carries no mark')
  const m = await runMain(['--timezone', 'Europe/Moscow'], { env: { ...env, MAIL_LOG_CATALOG_LOCATION: utc }, cwd: dir })
  t.equal(m.code, 1, 'a mark-less archive with day files is UTC')
})
