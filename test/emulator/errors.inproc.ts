// Error statuses and bodies: 401, 403 (scope named), 404, 400 feature inactive, 400 for each parameter rule, X-Request-Id.
import t, { type Test } from 'tap'
import { SCOPES, startEmulator, type SourceName } from '../../src/emulator/index.js'
import { fakeClock, get, pathOf } from './fixtures/helpers.js'

const ENDED = 'ended_at=2025-06-15T12:00:00%2B00:00'

t.test('errors', async (t) => {
  const emu = await startEmulator({ clock: fakeClock().now, counts: { mail: 50, disk: 50, events: 50 }, token: 's3cret' })
  t.teardown(() => emu.close())
  const ok = (s: SourceName): string => (s === 'events' ? `count=10&${ENDED}` : 'pageSize=10')

  /** api360 body for mail/disk, lenient cloud body for events. */
  const checkBody = (t: Test, source: SourceName, r: any, code: number): void => {
    t.ok(r.headers['x-request-id'], 'X-Request-Id on the error')
    if (source === 'events') {
      t.type(r.json.error, 'string')
      t.type(r.json.description, 'string')
    } else {
      t.equal(r.json.code, code)
      t.type(r.json.message, 'string')
      t.same(r.json.details, [{ requestId: r.headers['x-request-id'] }])
    }
  }

  for (const source of ['mail', 'disk', 'events'] as const) {
    t.test(`${source}: 401 for a missing, wrong or differently-schemed token`, async (t) => {
      for (const auth of [null, 'OAuth wrong', 'Bearer s3cret', 'OAuth  s3cret', 's3cret']) {
        const r = await get(emu, pathOf(source, emu.org), ok(source), auth)
        t.equal(r.status, 401, String(auth))
        checkBody(t, source, r, 16)
      }
      t.equal((await get(emu, pathOf(source, emu.org), ok(source))).status, 200)
    })
    t.test(`${source}: 404 for another org; 400 for a non-integer org`, async (t) => {
      const r = await get(emu, pathOf(source, 999), ok(source))
      t.equal(r.status, 404)
      checkBody(t, source, r, 5)
      t.equal((await get(emu, pathOf(source, 'abc' as unknown as number), ok(source))).status, 400)
    })
    t.test(`${source}: 403 naming the scope when the scope is missing`, async (t) => {
      emu.setSwitches({ scopeMissing: [source] })
      const r = await get(emu, pathOf(source, emu.org), ok(source))
      t.equal(r.status, 403)
      t.match(r.text, SCOPES[source])
      checkBody(t, source, r, 7)
      const other: SourceName = source === 'mail' ? 'disk' : 'mail'
      t.equal((await get(emu, pathOf(other, emu.org), ok(other))).status, 200, 'other sources unaffected')
      emu.setSwitches({ scopeMissing: [] })
    })
    t.test(`${source}: 400 "feature is not active" when the audit log is off`, async (t) => {
      emu.setSwitches({ featureInactive: [source] })
      const r = await get(emu, pathOf(source, emu.org), ok(source))
      t.equal(r.status, 400)
      t.match(r.text, 'feature is not active')
      checkBody(t, source, r, 9)
      emu.setSwitches({ featureInactive: [] })
    })
  }

  t.test('mail/disk parameter rules → 400 code 3', async (t) => {
    const bad = ['pageSize=0', 'pageSize=101', 'pageSize=1.5', 'pageSize=abc', 'pageSize=', 'afterDate=yesterday',
      'beforeDate=2025-06-15', 'afterDate=2025-13-01T00:00:00Z', 'beforeDate=2025-02-30T00:00:00Z', 'afterDate=2025-06-15T12:00:00',
      'includeUids=1&excludeUids=2', 'pageToken=not-a-token', 'pageToken=' + Buffer.from('{"x":1}').toString('base64url')]
    for (const source of ['mail', 'disk'] as const) {
      for (const q of bad) {
        const r = await get(emu, pathOf(source, emu.org), q)
        t.equal(r.status, 400, `${source} ${q}`)
        checkBody(t, source, r, 3)
      }
    }
    for (const q of ['pageSize=1', 'pageSize=100', 'afterDate=2025-06-15T11:00:00Z', 'afterDate=2025-06-15T11:00:00.123456Z', 'afterDate=2025-06-15T14:00:00%2B02:00', 'pageToken=']) {
      t.equal((await get(emu, pathOf('mail', emu.org), q)).status, 200, `accepted: ${q}`)
    }
  })

  t.test('events parameter rules → 400', async (t) => {
    const bad = [ENDED, 'count=10', `count=0&${ENDED}`, `count=101&${ENDED}`, `count=x&${ENDED}`, 'count=10&ended_at=now',
      `count=10&${ENDED}&started_at=2025-06-15`, `count=10&${ENDED}&include_uids=1&exclude_uids=2`, `count=10&${ENDED}&ip=192.0.2.1&ip=192.0.2.2`,
      `count=10&${ENDED}&ip=192.0.2.1,192.0.2.2`, `count=10&${ENDED}&service=web`, `count=10&${ENDED}&service=Browser`, `count=10&${ENDED}&iteration_key=%%%`]
    for (const q of bad) {
      const r = await get(emu, pathOf('events', emu.org), q)
      t.equal(r.status, 400, q)
      checkBody(t, 'events', r, 3)
    }
    for (const q of [`count=1&${ENDED}&service=Synchronization`, 'count=5&ended_at=2025-06-15T12:00:00Z', `count=100&${ENDED}&started_at=2025-06-14T12:00:00.5%2B00:00`]) {
      t.equal((await get(emu, pathOf('events', emu.org), q)).status, 200, `accepted: ${q}`)
    }
  })

  t.test('unknown paths → 404 (or 400 by the switch) with the family\'s body; non-GET → 405', async (t) => {
    const a = await get(emu, '/security/v1/org/123/audit_log/calendar', '')
    t.equal(a.status, 404)
    t.equal(a.json.code, 5)
    const b = await get(emu, '/v1/auditlog/organizations/123/items', '')
    t.equal(b.status, 404)
    t.type(b.json.error, 'string')
    emu.setSwitches({ unknownPathStatus: 400 })
    const a400 = await get(emu, '/v1/v1/auditlog/organizations/123/events', '')
    t.equal(a400.status, 400)
    emu.setSwitches({ unknownPathStatus: 404 })
    const { request } = await import('undici')
    const c = await request(`${emu.url}${pathOf('mail', emu.org)}`, { method: 'POST', headers: { authorization: 'OAuth s3cret' }, body: '{}' })
    t.equal(c.statusCode, 405)
    t.ok(c.headers['x-request-id'])
    await c.body.text()
  })

  t.test('stats count statuses', async (t) => {
    const s = emu.stats()
    t.ok(s.byStatus['401'] >= 15)
    t.ok(s.byStatus['400'] > 20)
    t.equal(s.inFlight, 0)
  })
})
