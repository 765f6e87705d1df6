// ApiClient against the real emulator over HTTP: transient failures are retried, fatal ones fail at once with a
// message that names the source, the cause and the X-Request-Id, never the token.
import t from 'tap'
import pino from 'pino'
import { ApiClient } from '../../src/sources/client.js'
import { parseRetryAfter } from '../../src/sources/retry.js'
import { Y360Error } from '../../src/errors.js'
import { mail } from '../../src/sources/mail.js'
import { events } from '../../src/sources/events.js'
import type { EndpointDescriptor } from '../../src/sources/descriptor.js'
import { Limiters } from '../../src/sources/limiter.js'
import { emulator, TOKEN } from '../helpers.js'
import type { Emulator } from '../../src/emulator/index.js'

const log = pino({ level: 'silent' })
const NOW = Date.UTC(2025, 8, 10, 12)

t.test('parseRetryAfter: delta seconds and HTTP-date', async (t) => {
  t.equal(parseRetryAfter('3', NOW), 3000)
  t.equal(parseRetryAfter(' 0 ', NOW), 0)
  t.equal(parseRetryAfter('1.5', NOW), 1500)
  t.equal(parseRetryAfter(['7', '9'], NOW), 7000, 'first of repeated headers')
  t.equal(parseRetryAfter(new Date(NOW + 42_000).toUTCString(), NOW), 42_000)
  t.equal(parseRetryAfter(new Date(NOW - 5_000).toUTCString(), NOW), 0, 'a date in the past means now')
  t.equal(parseRetryAfter(undefined, NOW), undefined)
  t.equal(parseRetryAfter('', NOW), undefined)
  t.equal(parseRetryAfter('soon', NOW), undefined)
  t.equal(parseRetryAfter('-3', NOW), undefined)
})

function client(retries = 6, token = TOKEN, maxWaitMs = 60_000): ApiClient {
  return new ApiClient({ token, retries, retryBaseMs: 1, retryMaxMs: 5, maxWaitMs, timeoutMs: 5000, connectTimeoutMs: 2000, log })
}

function pageUrl(emu: Emulator, ep: EndpointDescriptor, org = emu.org): string {
  const nowUs = Date.now() * 1000
  return `${emu.url}${ep.path(org)}?${ep.query({ after: nowUs - 86_400_000_000 * 3, before: nowUs, token: undefined, pageSize: 100, filters: {} })}`
}

async function failure(p: Promise<unknown>): Promise<Y360Error> {
  try {
    await p
  } catch (err) {
    if (err instanceof Y360Error) return err
    throw err
  }
  throw new Error('expected a failure')
}

t.test('5xx, HTML 502, resets and truncated JSON are retried until a good page', async (t) => {
  const emu = await emulator(t, { counts: { mail: 50 }, days: 1 })
  const limiter = new Limiters({ maxRps: 0 }).for(emu.url)
  const c = client(20)
  t.teardown(() => c.close())
  const clean = await c.getPage(mail, pageUrl(emu, mail), limiter)
  t.equal(clean.records.length, 50)
  for (const fault of ['error5xx', 'html502', 'reset', 'truncated'] as const) {
    emu.resetStats()
    emu.setFaults({ [fault]: 0.7, seed: 7 }) // seed 7 draws 0.01, 0.06, 0.98: two failures, then a good answer
    const page = await c.getPage(mail, pageUrl(emu, mail), limiter)
    emu.setFaults({ [fault]: 0 })
    t.same(page, clean, `${fault}: the same page in the end`)
    const s = emu.stats()
    const failures = fault === 'error5xx' ? 1 : 2 // error5xx spends a draw on choosing 500/502/503
    t.equal(s.faultsInjected[fault], failures, `${fault}: injected ${failures}×`)
    t.equal(s.requests, failures + 1, `${fault}: each failure retried, then the good answer`)
  }
})

t.test('retries are bounded: API_UNAVAILABLE after retries + 1 attempts', async (t) => {
  const emu = await emulator(t, { counts: { mail: 5 }, days: 1, faults: { error5xx: 1 } })
  const c = client(2)
  t.teardown(() => c.close())
  const err = await failure(c.getPage(mail, pageUrl(emu, mail), new Limiters({ maxRps: 0 }).for(emu.url)))
  t.equal(err.code, 'API_UNAVAILABLE')
  t.match(err.message, /^mail: the API kept failing after 3 attempts; last error: server error 50[023]/)
  t.match(err.message, /X-Request-Id [0-9a-f-]{36}/)
  t.equal(emu.stats().requests, 3)
})

t.test('4xx fail fast: one request, a code, the source, the cause, the request id, never the token', async (t) => {
  const emu = await emulator(t, { counts: { mail: 5, events: 5 }, days: 1 })
  const limiter = new Limiters({ maxRps: 0 }).for(emu.url)
  const cases: { name: string; ep: EndpointDescriptor; setup: () => void; token?: string; org?: number; code: string; msg: RegExp }[] = [
    { name: '401', ep: mail, setup: () => {}, token: 'y0_wrong-token-abcdef', code: 'AUTH_FAILED', msg: /^mail: the API rejected the token \(401: .*check OAUTH_TOKEN_ARG/ },
    { name: '403 mail', ep: mail, setup: () => emu.setSwitches({ scopeMissing: ['mail'] }), code: 'SCOPE_MISSING', msg: /^mail: access denied \(403.*ya360_security:audit_log_mail/ },
    { name: '403 events', ep: events, setup: () => emu.setSwitches({ scopeMissing: ['events'] }), code: 'SCOPE_MISSING', msg: /^events: access denied \(403.*ya360_security:read_auditlog/ },
    { name: '404', ep: mail, setup: () => emu.setSwitches({ scopeMissing: [] }), org: 999, code: 'ORG_NOT_FOUND', msg: /^mail: organisation not found \(404.*check ORGANIZATION_ID_ARG/ },
    { name: '400 inactive', ep: mail, setup: () => emu.setSwitches({ featureInactive: ['mail'] }), code: 'FEATURE_INACTIVE', msg: /^mail: the audit log is not enabled for this organisation \(400: audit log feature is not active/ },
  ]
  for (const k of cases) {
    k.setup()
    emu.resetStats()
    const c = client(6, k.token ?? TOKEN)
    const err = await failure(c.getPage(k.ep, pageUrl(emu, k.ep, k.org ?? emu.org), limiter))
    await c.close()
    t.equal(err.code, k.code, `${k.name}: code`)
    t.match(err.message, k.msg, `${k.name}: message`)
    t.match(err.message, /\(X-Request-Id [0-9a-f-]{36}\)$/, `${k.name}: request id`)
    t.equal(err.requestId?.length, 36)
    t.notOk(err.message.includes(k.token ?? TOKEN), `${k.name}: no token in the message`)
    t.equal(emu.stats().requests, 1, `${k.name}: no retry`)
  }
})

t.test('429 with a Retry-After beyond --max-wait stops at once with RATE_LIMITED', async (t) => {
  const frozen = Date.now()
  const emu = await emulator(t, { counts: { mail: 5 }, days: 1, clock: () => frozen, faults: { rateLimitRps: 1, retryAfterSeconds: 600 } })
  const limiter = new Limiters({ maxRps: 0 }).for(emu.url)
  const c = client(6, TOKEN, 10_000)
  t.teardown(() => c.close())
  const url = `${emu.url}${mail.path(emu.org)}?${mail.query({ after: (frozen - 86_400_000) * 1000, before: frozen * 1000, token: undefined, pageSize: 100, filters: {} })}`
  t.equal((await c.getPage(mail, url, limiter)).records.length, 5)
  const err = await failure(c.getPage(mail, url, limiter))
  t.equal(err.code, 'RATE_LIMITED')
  t.match(err.message, /asks to wait 600s, more than --max-wait 10s/)
  t.same(emu.stats().byStatus, { 200: 1, 429: 1 })
})
