// The HTTP loader: undici's Agent and request API come from their own modules (not the package index, which loads
// fetch, WebSocket and caches at every start), and a request through them behaves like undici's top-level request.
import t from 'tap'
import { createRequire } from 'node:module'
import { http } from '../../src/sources/http.js'
import { emulator } from '../helpers.js'

t.test('loaded without the undici index; a GET through the Agent reaches the emulator with path and query intact', async (t) => {
  const loaded = Object.keys(createRequire(import.meta.url).cache)
  t.notOk(loaded.some((k) => /undici[\\/]index\.js$/.test(k)), 'the undici index was not loaded')
  t.ok(loaded.some((k) => /undici[\\/]lib[\\/]dispatcher[\\/]agent\.js$/.test(k)), 'the Agent module was loaded')
  const emu = await emulator(t, { counts: { mail: 5 }, days: 1 })
  const agent = new http.Agent({ connections: 1 })
  t.teardown(() => agent.close())
  const res = await http.request(agent, `${emu.url}/security/v1/org/${emu.org}/audit_log/mail?pageSize=2`, { method: 'GET', headers: { authorization: `OAuth ${emu.token}` } })
  const body = (await res.body.json()) as { events: unknown[]; nextPageToken: string }
  t.equal(res.statusCode, 200)
  t.equal(body.events.length, 2, 'the query string reached the server')
  t.type(res.headers['x-request-id'], 'string')
  const denied = await http.request(agent, `${emu.url}/security/v1/org/${emu.org}/audit_log/mail`, { method: 'GET', headers: { authorization: 'OAuth wrong' } })
  await denied.body.dump()
  t.equal(denied.statusCode, 401)
})
