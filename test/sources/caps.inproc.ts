// Response caps (issue 13, point 1). Guards: a body that never ends is read only up to --max-body, then the run stops
// by itself (BAD_PAGE, exit 4) with the process's peak memory bounded by the cap, not by what the server sends; a body
// dripped byte by byte, or `102 Processing` repeated, cannot keep a request alive past --request-deadline (undici's
// inactivity timeouts restart on every byte and every 1xx); the server's error text reaches logs and the summary
// stripped of control characters and cut to 300 characters.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { ApiClient } from '../../src/sources/client.js'
import { serverText } from '../../src/sources/bounded.js'
import { mail } from '../../src/sources/mail.js'
import { Limiters } from '../../src/sources/limiter.js'
import { Y360Error } from '../../src/errors.js'
import { cliEnv, emulator, TOKEN, runMain, localServer } from '../helpers.js'

const MiB = 1024 * 1024

t.test('serverText: control and bidi characters out, whitespace collapsed, at most 300 characters', async (t) => {
  t.equal(serverText('bad\x1b[31m red\r\n\tline\u202e evil\u0000'), 'bad [31m red line evil')
  const long = serverText('x'.repeat(5 * MiB))
  t.equal(long, `${'x'.repeat(300)}…`, 'a 5 MB message becomes 300 characters and an ellipsis')
  t.equal(serverText('é'.repeat(400), 10), `${'é'.repeat(10)}…`)
})

t.test('an endless 200 body: the run stops by itself at --max-body, memory bounded by the cap', async (t) => {
  const emu = await emulator(t, { counts: { mail: 50 }, days: 1, faults: { endlessBody: 1 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const before = process.resourceUsage().maxRSS * 1024
  // One request at a time: the first round trip would otherwise probe the day in 8 slices, each meeting the fault.
  const r = await runMain(['--lookback', '1d', '--concurrency', '1', '--max-body', '4MiB', '--summary-json', join(dir, 'summary.json')], { env, cwd: dir })
  const peak = process.resourceUsage().maxRSS * 1024
  t.equal(r.code, 4, `exit 4 (BAD_PAGE); stderr:\n${r.stderr}`)
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { sources: { code: string; error: string }[] }
  t.equal(summary.sources[0].code, 'BAD_PAGE')
  t.match(summary.sources[0].error, /^mail: the response passed --max-body 4194304 bytes; stopped reading it at \d+ bytes/)
  const stoppedAt = Number(/stopped reading it at (\d+) bytes/.exec(summary.sources[0].error)?.[1])
  t.ok(stoppedAt > 4 * MiB && stoppedAt <= 4 * MiB + 64 * 1024 + 11, `read stopped one chunk past the cap (${stoppedAt})`)
  t.equal(emu.stats().requests, 1, 'not retried: an oversized page is not a transient failure')
  t.equal(emu.stats().faultsInjected.endlessBody, 1)
  await emu.close() // the server stops pumping; its count is final
  const sent = emu.stats().hostileBytesSent
  // What the server got written is the client's read plus what the sockets buffer (a few MiB at most), not gigabytes.
  t.ok(sent < 4 * MiB + 32 * MiB, `the server could write only ${Math.round(sent / MiB)} MiB before the client hung up`)
  // The peak RSS of this process (test runner, emulator and run together) grew by the cap and buffers, not without bound.
  t.ok(peak - before < 200 * MiB, `peak RSS grew by ${Math.round((peak - before) / MiB)} MiB`)
})

t.test('a body dripped a byte every 50ms passes no inactivity timeout but fails at the deadline (3 × --timeout)', async (t) => {
  const emu = await emulator(t, { counts: { mail: 50 }, days: 1, faults: { dripBody: 1, dripMs: 50 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const r = await runMain(['--lookback', '1d', '--concurrency', '1', '--timeout', '300ms', '--retries', '1', '--summary-json', join(dir, 'summary.json')], { env, cwd: dir })
  t.equal(r.code, 4, `exit 4 (API_UNAVAILABLE); stderr:\n${r.stderr}`)
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { sources: { code: string; error: string }[] }
  t.equal(summary.sources[0].code, 'API_UNAVAILABLE')
  t.match(summary.sources[0].error, 'mail: the API kept failing after 2 attempts; last error: no complete response within the request deadline of 900ms (--request-deadline)')
  t.equal(emu.stats().requests, 2, 'a passed deadline is retried like a timeout, within --retries')
  t.equal(emu.stats().faultsInjected.dripBody, 2)
  const sent = emu.stats().hostileBytesSent
  t.ok(sent > 2 && sent < 60, `a few bytes arrived, then the client hung up (${sent}): the deadline, not the body, ended it`)
})

t.test('102 Processing every 50ms does not extend the deadline (--request-deadline on its own)', async (t) => {
  const emu = await emulator(t, { counts: { mail: 50 }, days: 1, faults: { processing: 1, dripMs: 50 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const r = await runMain(['--lookback', '1d', '--concurrency', '1', '--timeout', '300ms', '--request-deadline', '600ms', '--retries', '0'], { env, cwd: dir })
  t.equal(r.code, 4, `exit 4; stderr:\n${r.stderr}`)
  t.match(r.stderr, 'no complete response within the request deadline of 600ms (--request-deadline)')
  t.equal(emu.stats().requests, 1)
  t.equal(emu.stats().faultsInjected.processing, 1)
})

t.test('error messages with control characters, 50 KB or 5 MB long: quoted cleanly and cut short', async (t) => {
  const server = await localServer(t, (req, res) => {
    const n = req.url?.includes('huge') === true ? 5 * MiB : 50_000
    res.writeHead(400, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ code: 3, message: `bad\x1b]0;pwned\x07 request\n${'y'.repeat(n)}` }))
  })
  const url = server.url
  const c = new ApiClient({ token: TOKEN, retries: 0, retryBaseMs: 1, retryMaxMs: 1, maxWaitMs: 1, timeoutMs: 5000, connectTimeoutMs: 1000, log: pino({ level: 'silent' }) })
  t.teardown(() => c.close())
  const refusal = async (path: string): Promise<Y360Error> => {
    try {
      await c.getPage(mail, `${url}/security/v1/org/1/audit_log/mail?pageSize=100&${path}`, new Limiters({ maxRps: 0 }).for(url))
    } catch (e) {
      if (e instanceof Y360Error) return e
      throw e
    }
    throw new Error('expected a refusal')
  }
  const parsed = await refusal('small')
  t.equal(parsed.code, 'BAD_REQUEST')
  t.equal(parsed.message, `mail: the API refused the request (400: bad ]0;pwned request ${'y'.repeat(300 - 'bad ]0;pwned request '.length)}…)`, 'the message field, cleaned, 300 characters')
  // Only the first 64 KiB of an error body is read, so a huge one is not JSON any more: its raw start is quoted.
  const huge = await refusal('huge')
  t.equal(huge.code, 'BAD_REQUEST')
  t.equal(huge.message, `mail: the API refused the request (400: {"code":3,"message":"bad\\u001b]0;pwned\\u0007 request\\n${'y'.repeat(200 - 54)}…)`)
  t.notMatch(huge.message, /[\x00-\x1f\x7f]/, 'no control character reaches the message')
})

t.test('--max-body and --request-deadline are validated', async (t) => {
  const dir = t.testdir()
  const env = { PATH: process.env.PATH ?? '', OAUTH_TOKEN_ARG: TOKEN, ORGANIZATION_ID_ARG: '1', MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), Y360_LOG_FILE: '' }
  const r = await runMain(['--max-body', '12', '--request-deadline', '10ms'], { env, cwd: dir })
  t.equal(r.code, 1)
  t.equal(r.stderr, [
    'y360-audit: configuration problems:',
    '  - --max-body must be a size from 1KiB to 4GiB like 32MiB, 512KiB or 65536 (bytes), got "12"',
    '  - --request-deadline must be at least 100ms',
    '',
  ].join('\n'))
})
