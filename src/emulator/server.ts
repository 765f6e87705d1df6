// HTTP plumbing: request ids, transport faults, latency, response damage, admin routing, stats.
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { handleAdmin, type AdminHooks } from './admin.js'
import { evaluate, route, type Route } from './api.js'
import { HTML_502, errorBody, type Family } from './errors.js'
import { sendDrip, sendEndless, sendProcessing } from './hostile.js'
import { sendJson } from './respond.js'
import type { PostFault, PreFault } from './faults.js'
import type { EmulatorState } from './state.js'

/** The HTTP server plus what close() must cancel. */
export interface ServerHandle { server: Server; timers: Set<NodeJS.Timeout> }

/** Creates (not yet listening) the emulator's HTTP server. */
export function createEmulatorServer(state: EmulatorState, hooks: AdminHooks): ServerHandle {
  const timers = new Set<NodeJS.Timeout>()
  const server = createServer((req, res) => {
    const requestId = randomUUID()
    res.setHeader('X-Request-Id', requestId)
    const url = new URL(req.url ?? '/', 'http://emulator.invalid')
    if (url.pathname.startsWith('/__admin/')) {
      handleAdmin(state, hooks, req, res, url).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, JSON.stringify({ error: String(err) }))
        else res.destroy()
      })
      return
    }
    handleApi(state, req, res, url, requestId, timers)
  })
  server.keepAliveTimeout = 30_000
  return { server, timers }
}

function handleApi(state: EmulatorState, req: IncomingMessage, res: ServerResponse, url: URL, requestId: string, timers: Set<NodeJS.Timeout>): void {
  const r = route(url.pathname)
  const entry = { method: req.method ?? 'GET', path: url.pathname, query: url.search.slice(1), source: r.source, status: 0, at: state.clock() }
  state.stats.begin(r.source)
  state.onRequest?.(state.stats.count())
  let done = false
  const finish = (status: number): void => {
    if (done) return
    done = true
    entry.status = status
    state.stats.end(entry)
  }
  res.on('close', () => finish(0)) // stalled or aborted: no status
  req.resume() // GET bodies are ignored but must be drained

  const pre = state.faults.pre()
  if (pre?.kind === 'stall') { state.stats.fault('stall'); return }
  if (pre?.kind === 'endlessBody') { state.stats.fault('endlessBody'); finish(200); return sendEndless(res, state.stats, timers) }
  if (pre?.kind === 'processing') { state.stats.fault('processing'); return sendProcessing(res, state.faults.faults.dripMs, timers) }
  const delay = state.faults.delayMs()
  const answer = prepare({ state, route: r, req, res, url, requestId, finish, timers }, pre)
  if (delay <= 0) return answer()
  state.stats.fault('latency')
  const timer = setTimeout(() => {
    timers.delete(timer)
    if (res.destroyed) return finish(0)
    answer()
  }, delay)
  timers.add(timer)
}

/** One API request being answered. */
interface Exchange {
  state: EmulatorState
  route: Route
  req: IncomingMessage
  res: ServerResponse
  url: URL
  requestId: string
  /** Records the request's end in the stats (once). */
  finish: (status: number) => void
  timers: Set<NodeJS.Timeout>
}

/**
 * Works out the answer to an API request as it arrives (faults decided, page selected and encoded) and returns what
 * sends it. The latency is then the service's whole time, its own work inside it: worked out after the wait instead, a
 * burst of 16 requests queued behind each other's pages (~0.45 ms each) and came back up to 7 ms late (a 30 ms latency
 * gave 36.5 ms round trips on the 2-core machine, to a client doing nothing else).
 */
function prepare(x: Exchange, pre: PreFault): () => void {
  const { state, route: r, req, res, requestId, finish } = x
  if (pre?.kind === 'rateLimited') {
    return () => {
      state.stats.fault('rateLimited')
      const ra = state.faults.retryAfter()
      finish(429)
      sendJson(res, 429, errorBody(r.family, { status: 429, message: 'too many requests' }, requestId), undefined, ra ? { 'Retry-After': ra } : {})
    }
  }
  if (pre?.kind === 'error5xx') {
    const status = pre.status
    return () => {
      state.stats.fault('error5xx')
      finish(status)
      sendJson(res, status, errorBody(r.family, { status, message: 'internal error, try again later' }, requestId))
    }
  }
  if (pre?.kind === 'html502') {
    return () => {
      state.stats.fault('html502')
      finish(502)
      sendJson(res, 502, HTML_502, 'text/html')
    }
  }
  const out = evaluate(state, r, req.method ?? 'GET', x.url.searchParams, req.headers.authorization)
  if (out.kind === 'error') {
    return () => {
      finish(out.status)
      sendJson(res, out.status, errorBody(r.family as Family, out, requestId, out.grpc))
    }
  }
  const post = state.faults.post()
  const buf = Buffer.from(out.body, 'utf8')
  return () => damageOrSend(state, res, buf, post, finish, x.timers)
}

function damageOrSend(state: EmulatorState, res: ServerResponse, buf: Buffer, post: PostFault, finish: (s: number) => void, timers: Set<NodeJS.Timeout>): void {
  if (post === 'truncated') {
    state.stats.fault('truncated')
    finish(200)
    const cut = buf.subarray(0, Math.max(1, Math.floor(buf.length / 2)))
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(cut.length) })
    return void res.end(cut)
  }
  if (post === 'dripBody') {
    state.stats.fault('dripBody')
    finish(200)
    return sendDrip(res, buf, state.faults.faults.dripMs, state.stats, timers)
  }
  if (post === 'reset') {
    state.stats.fault('reset')
    finish(200)
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(buf.length) })
    res.flushHeaders()
    return void res.write(buf.subarray(0, Math.floor(buf.length / 2)), () => res.socket?.destroy())
  }
  finish(200)
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(buf.length) })
  res.end(buf)
}
