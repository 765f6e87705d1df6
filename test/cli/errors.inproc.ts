// API refusals end the run at once (no retries), exit 3, and say which source, what to do and the X-Request-Id.
// In-process (runMain): exit codes and outputs are the bin's; no process behaviour is involved.
import t from 'tap'
import { chmodSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cliEnv, emulator, runMain, summaryOf } from '../helpers.js'

const cases = [
  { name: '401 wrong token', env: { OAUTH_TOKEN_ARG: 'y0_revoked-token-abcdef0123' }, switches: {}, code: 'AUTH_FAILED', msg: /mail: the API rejected the token \(401: unauthenticated: missing or invalid OAuth token\); check OAUTH_TOKEN_ARG \/ --token: it may be wrong or expired \(X-Request-Id [0-9a-f-]{36}\)/ },
  { name: '403 mail scope', env: {}, switches: { scopeMissing: ['mail'] }, code: 'SCOPE_MISSING', msg: /mail: access denied \(403: [^)]*\); the token lacks scope ya360_security:audit_log_mail or the user lacks the admin role: add the scope to the OAuth app and issue a new token \(X-Request-Id [0-9a-f-]{36}\)/ },
  { name: '404 org', env: { ORGANIZATION_ID_ARG: '987654' }, switches: {}, code: 'ORG_NOT_FOUND', msg: /mail: organisation not found \(404: organization 987654 not found\); check ORGANIZATION_ID_ARG \/ --org \(X-Request-Id [0-9a-f-]{36}\)/ },
  { name: '400 feature is not active', env: {}, switches: { featureInactive: ['mail'] }, code: 'FEATURE_INACTIVE', msg: /mail: the audit log is not enabled for this organisation \(400: audit log feature is not active for this organization\); an admin must switch it on .* \(X-Request-Id [0-9a-f-]{36}\)/ },
] as const

for (const k of cases) {
  t.test(`${k.name}: exit 3 at once, clear message, no token anywhere`, async (t) => {
    const emu = await emulator(t, { counts: { mail: 300 }, days: 2, switches: k.switches as never })
    const dir = t.testdir()
    const logFile = join(dir, 'debug.log')
    const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), Y360_LOG_FILE: logFile, ...k.env })
    const r = await runMain(['--concurrency', '1', '--lookback', '3d'], { env, cwd: dir, summary: true })
    t.equal(r.code, 3)
    t.equal(r.stdout, '')
    t.match(r.stderr, k.msg)
    t.match(r.stderr, new RegExp(`"code":"${k.code}"`))
    t.match(r.stderr, new RegExp(`mail: FAILED \\(${k.code}\\)`), 'the summary line names the failure')
    t.match(summaryOf(r, 'mail'), { ok: false, code: k.code, written: 0 }, '--summary-json names the failure')
    t.match(r.summary, { ok: false, exitCode: 3 })
    const s = emu.stats()
    t.equal(s.requests, 1, 'one request: no retry, no further window')
    t.same(readdirSync(join(dir, 'mail')).filter((n) => n.endsWith('.json')), [], 'nothing written')
    const logText = readFileSync(logFile, 'utf8')
    t.match(logText, new RegExp(`"code":"${k.code}"`), 'the debug log file has the failure too')
    const everything = r.stdout + r.stderr + logText
    t.notOk(everything.includes(emu.token), 'the configured token never appears')
    t.notOk(everything.includes(env.OAUTH_TOKEN_ARG), 'the token in use never appears')
  })
}

t.test('with concurrency 4 a fatal error still stops after the requests already in flight', async (t) => {
  const emu = await emulator(t, { counts: { mail: 3000 }, days: 7, switches: { scopeMissing: ['mail'] } })
  const dir = t.testdir()
  const r = await runMain(['--lookback', '8d', '--concurrency', '4'], { env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }), cwd: dir })
  t.equal(r.code, 3)
  t.ok(emu.stats().requests <= 4, `at most the first wave of windows (${emu.stats().requests})`)
})

t.test('401 for a token read from a file: the message names that file, not the --token option', async (t) => {
  const emu = await emulator(t, { counts: { mail: 50 }, days: 1 })
  const dir = t.testdir({ 'token.txt': 'y0_revoked-token-abcdef0123\n' })
  chmodSync(join(dir, 'token.txt'), 0o600)
  const { OAUTH_TOKEN_ARG: _token, ...env } = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const r = await runMain(['--lookback', '2d', '--token-file', join(dir, 'token.txt')], { env, cwd: dir })
  t.equal(r.code, 3)
  t.match(r.stderr, `mail: the API rejected the token (401: unauthenticated: missing or invalid OAuth token); check the token file ${join(dir, 'token.txt')}: it may be wrong or expired`)
})
