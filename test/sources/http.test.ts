// The HTTP layer: undici's Agent comes from its own module (not the package index, which loads fetch, WebSocket and
// caches at every start), and `get` reads one response through a handler of its own: the final status and headers
// (1xx passed over), the body within the cap `started` gives (past it, reading stops and the connection is dropped),
// the exchange ended by its signal or its deadline.
import t from 'tap'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import type { ServerResponse } from 'node:http'
import { DeadlinePassed, http, type GetOptions } from '../../src/sources/http.js'
import { emulator, localServer, type TapLike } from '../helpers.js'

const MiB = 1024 * 1024

function agent(t: TapLike): InstanceType<typeof http.Agent> {
  const a = new http.Agent({ connections: 1 })
  t.teardown(() => a.destroy())
  return a
}

const opts = (o: Partial<GetOptions> = {}): GetOptions => ({ headers: {}, headersTimeout: 10_000, bodyTimeout: 10_000, deadlineMs: 60_000, started: () => MiB, ...o })

t.test('loaded without the undici index; a GET through the Agent reaches the emulator with path and query intact', async (t) => {
  const loaded = Object.keys(createRequire(import.meta.url).cache)
  t.notOk(loaded.some((k) => /undici[\\/]index\.js$/.test(k)), 'the undici index was not loaded')
  t.ok(loaded.some((k) => /undici[\\/]lib[\\/]dispatcher[\\/]agent\.js$/.test(k)), 'the Agent module was loaded')
  const emu = await emulator(t, { counts: { mail: 5 }, days: 1 })
  const a = agent(t)
  const seen: number[] = []
  const res = await http.get(a, `${emu.url}/security/v1/org/${emu.org}/audit_log/mail?pageSize=2`, opts({ headers: { authorization: `OAuth ${emu.token}` }, started: (s) => (seen.push(s), MiB) }))
  const body = JSON.parse(res.body.raw.toString('utf8')) as { events: unknown[]; nextPageToken: string }
  t.equal(res.status, 200)
  t.same(seen, [200], '`started` called once, with the final status')
  t.equal(body.events.length, 2, 'the query string reached the server')
  t.equal(res.body.over, false)
  t.equal(res.body.bytes, res.body.raw.length)
  t.type(res.headers['x-request-id'], 'string')
  const denied = await http.get(a, `${emu.url}/security/v1/org/${emu.org}/audit_log/mail`, opts({ headers: { authorization: 'OAuth wrong' } }))
  t.equal(denied.status, 401)
  t.match(denied.body.raw.toString('utf8'), /"message"/, 'an error body is read too')
})

/** Writes 64 KiB chunks for as long as the client reads; resolves `closed` when the client hangs up. */
function endless(res: ServerResponse, written: { bytes: number }): void {
  res.writeHead(200, { 'content-type': 'application/json' })
  const chunk = Buffer.alloc(64 * 1024, 0x20)
  const pump = (): void => {
    while (!res.destroyed && res.write(chunk)) written.bytes += chunk.length
    if (!res.destroyed) res.once('drain', pump)
  }
  pump()
}

t.test('a body past its cap: reading stops in the chunk that passes it, the connection is dropped, the head kept', async (t) => {
  const written = { bytes: 0 }
  let closed: Promise<unknown> = Promise.resolve()
  const srv = await localServer(t, (_req, res) => {
    closed = once(res, 'close')
    endless(res, written)
  })
  const r = await http.get(agent(t), `${srv.url}/x`, opts({ started: () => MiB }))
  t.equal(r.status, 200)
  t.equal(r.body.over, true)
  t.equal(r.body.raw.length, MiB, 'the first 1 MiB kept')
  t.ok(r.body.bytes > MiB && r.body.bytes <= MiB + 64 * 1024, `read stopped within the chunk that passed the cap (${r.body.bytes})`)
  await closed // the server sees the client hang up: the body is not drained
  t.ok(written.bytes < MiB + 16 * MiB, `the server could write only ${Math.round(written.bytes / MiB)} MiB`)
})

t.test('chunks joined whole (a character split between them); 1xx responses passed over; an error body read to its own cap', async (t) => {
  const srv = await localServer(t, (req, res) => {
    if (req.url === '/processing') {
      res.writeProcessing()
      res.writeProcessing()
      res.end('{"ok":true}')
      return
    }
    if (req.url === '/error') {
      res.writeHead(500)
      res.end('e'.repeat(5000))
      return
    }
    const e = Buffer.from('"é"}')
    res.write(Buffer.concat([Buffer.from('{"a":'), e.subarray(0, 2)]))
    setImmediate(() => res.end(e.subarray(2)))
  })
  const a = agent(t)
  const split = await http.get(a, `${srv.url}/split`, opts())
  t.same({ ...split.body, raw: split.body.raw.toString('utf8') }, { over: false, raw: '{"a":"é"}', bytes: 10 })
  const seen: number[] = []
  const processing = await http.get(a, `${srv.url}/processing`, opts({ started: (s) => (seen.push(s), MiB) }))
  t.equal(processing.status, 200)
  t.same(seen, [200], '`started` is not called for the 102s')
  t.equal(processing.body.raw.toString('utf8'), '{"ok":true}')
  const error = await http.get(a, `${srv.url}/error`, opts({ started: (s) => (s === 500 ? 100 : MiB) }))
  t.same({ status: error.status, over: error.body.over, kept: error.body.raw.length }, { status: 500, over: true, kept: 100 })
})

t.test('the signal ends the exchange with its reason: aborted before, nothing is sent; during the body, the connection is dropped', async (t) => {
  let closed: Promise<unknown> = Promise.resolve()
  const srv = await localServer(t, (_req, res) => {
    closed = once(res, 'close')
    res.writeHead(200, { 'x-request-id': 'r-1' })
    res.write('{"events":[')
  })
  const a = agent(t)
  const before = new AbortController()
  before.abort(new Error('stopped before'))
  await t.rejects(http.get(a, `${srv.url}/x`, opts({ signal: before.signal })), { message: 'stopped before' })
  t.equal(srv.requests(), 0, 'never sent')
  const run = new AbortController()
  let ids: unknown[] = []
  const started = (_s: number, h: Record<string, unknown>): number => {
    ids = [h['x-request-id']]
    setImmediate(() => run.abort(new Error('the run stopped'))) // the body has begun and will not end
    return MiB
  }
  await t.rejects(http.get(a, `${srv.url}/x`, opts({ signal: run.signal, started })), { message: 'the run stopped' })
  t.same(ids, ['r-1'], 'the headers reached `started` before the body failed')
  await closed
  t.equal(srv.requests(), 1)
})

t.test('the deadline ends an exchange whose body never ends, with DeadlinePassed; the connection is dropped', async (t) => {
  let closed: Promise<unknown> = Promise.resolve()
  const srv = await localServer(t, (_req, res) => {
    closed = once(res, 'close')
    res.writeHead(200)
    res.write('{"events":[')
  })
  const err = await http.get(agent(t), `${srv.url}/x`, opts({ deadlineMs: 50 })).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof DeadlinePassed, `rejected with DeadlinePassed (${String(err)})`)
  t.equal((err as Error).message, 'request deadline of 50ms passed')
  await closed
})
