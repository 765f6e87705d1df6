// HTTP plumbing: request ids, transport faults, latency, response damage, admin routing, stats.
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { handleAdmin, type AdminHooks } from './admin.js'
import { evaluate, route } from './api.js'
import { HTML_502, errorBody, type Family } from './errors.js'
import { sendDrip, sendEndless, sendProcessing } from './hostile.js'
import { sendJson } from './respond.js'
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
  const answer = (): void => {
    if (res.destroyed) return finish(0)
    if (pre?.kind === 'rateLimited') {
      state.stats.fault('rateLimited')
      const ra = state.faults.retryAfter()
      finish(429)
      return sendJson(res, 429, errorBody(r.family, { status: 429, message: 'too many requests' }, requestId), undefined, ra ? { 'Retry-After': ra } : {})
    }
    if (pre?.kind === 'error5xx') {
      state.stats.fault('error5xx')
      finish(pre.status)
      return sendJson(res, pre.status, errorBody(r.family, { status: pre.status, message: 'internal error, try again later' }, requestId))
    }
    if (pre?.kind === 'html502') {
      state.stats.fault('html502')
      finish(502)
      return sendJson(res, 502, HTML_502, 'text/html')
    }
    const out = evaluate(state, r, entry.method, url.searchParams, req.headers.authorization)
    if (out.kind === 'error') {
      finish(out.status)
      return sendJson(res, out.status, errorBody(r.family as Family, out, requestId, out.grpc))
    }
    damageOrSend(state, res, out.body, finish, timers)
  }
  const delay = state.faults.delayMs()
  if (delay <= 0) return answer()
  state.stats.fault('latency')
  const timer = setTimeout(() => { timers.delete(timer); answer() }, delay)
  timers.add(timer)
}

function damageOrSend(state: EmulatorState, res: ServerResponse, body: string, finish: (s: number) => void, timers: Set<NodeJS.Timeout>): void {
  const post = state.faults.post()
  const buf = Buffer.from(body, 'utf8')
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
