// Issue 15: a 404 tells an unknown organisation from an unknown path. A base URL with a path of its own
// (Y360_CLOUD_API_URL=…/v1 asks /v1/v1/auditlog/…) is named with the fix; an unknown organisation points at the org id.
import t from 'tap'
import { join } from 'node:path'
import { cliEnv, emulator, runMain } from '../helpers.js'

t.test('a base URL ending in /v1: the hint names the option and the extra path; no records, exit 3', async (t) => {
  const emu = await emulator(t, { counts: { events: 20 }, days: 1 })
  const dir = t.testdir()
  const env = cliEnv(emu, { NEW_LOG_CATALOG_LOCATION: join(dir, 'all'), Y360_CLOUD_API_URL: `${emu.url}/v1` })
  const r = await runMain(['--lookback', '2d'], { env, cwd: dir })
  t.equal(r.code, 3)
  t.match(r.stderr, 'events: the API has no method at /v1/v1/auditlog/organizations/123/events (404: unknown path: no such method); Y360_CLOUD_API_URL / --cloud-api-url ends in \\"/v1\\", but the tool adds the method\'s whole path (/v1/auditlog/organizations/{org}/events) itself: give the host only')
  t.notMatch(r.stderr, /check ORGANIZATION_ID_ARG/, 'not blamed on the organisation')
})

t.test('the same for the api360 host with a path of its own', async (t) => {
  const emu = await emulator(t, { counts: { mail: 20 }, days: 1 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), Y360_API_URL: `${emu.url}/api` })
  const r = await runMain(['--lookback', '2d'], { env, cwd: dir })
  t.equal(r.code, 3)
  t.match(r.stderr, 'mail: the API has no method at /api/security/v1/org/123/audit_log/mail (404: unknown path: no such method); Y360_API_URL / --api-url ends in \\"/api\\"')
})

t.test('an unknown organisation: the org id is named, not the base URL', async (t) => {
  const emu = await emulator(t, { counts: { mail: 20 }, days: 1 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), ORGANIZATION_ID_ARG: '999' })
  const r = await runMain(['--lookback', '2d'], { env, cwd: dir })
  t.equal(r.code, 3)
  t.match(r.stderr, 'mail: organisation not found (404: organization 999 not found); check ORGANIZATION_ID_ARG / --org')
})
