// /__admin/: ground truth (NDJSON), stats, request log, runtime faults/switches, inject. No auth, never faulted.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { SOURCES, type SourceName } from './catalog.js'
import { sendJson } from './respond.js'
import type { EmulatorState } from './state.js'
import { parseMsOrIsoToUs } from './time.js'
import { iterTruth, type TruthQuery } from './truth.js'

/** Operations the admin API delegates to the emulator. */
export interface AdminHooks {
  inject(source: SourceName, n: number, opts: { lateSeconds?: number; at?: number }): object[]
  late(source: SourceName, n: number, range: { from: number; to: number }): object[]
  setFaults(patch: unknown): void
  setSwitches(patch: unknown): void
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length
    if (size > 1_000_000) throw new TypeError('request body too large')
    chunks.push(c)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  return text.trim() === '' ? {} : JSON.parse(text)
}

function listParam(q: URLSearchParams, key: string): string[] | undefined {
  const v = q.getAll(key).flatMap((s) => s.split(',')).filter(Boolean)
  return v.length ? v : undefined
}

async function streamTruth(state: EmulatorState, res: ServerResponse, url: URL): Promise<void> {
  const q = url.searchParams
  const source = q.get('source') as SourceName
  if (!SOURCES.includes(source)) return sendJson(res, 400, JSON.stringify({ error: 'source must be mail, disk or events' }))
  const tq: TruthQuery = { types: listParam(q, 'types'), includeUids: listParam(q, 'includeUids'), excludeUids: listParam(q, 'excludeUids') }
  for (const k of ['from', 'to'] as const) {
    const raw = q.get(k)
    if (raw === null) continue
    const us = parseMsOrIsoToUs(raw)
    if (us === undefined) return sendJson(res, 400, JSON.stringify({ error: `${k} must be epoch ms or RFC 3339` }))
    tq[k] = us / 1000
  }
  if (q.get('ip') !== null) tq.ip = q.get('ip')!
  if (q.get('service') !== null) tq.service = q.get('service')!
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8' })
  let batch: string[] = []
  for (const rec of iterTruth(state, source, tq)) {
    batch.push(JSON.stringify(rec))
    if (batch.length >= 1000) {
      if (!res.write(batch.join('\n') + '\n')) await new Promise((r) => res.once('drain', r))
      batch = []
    }
  }
  res.end(batch.length ? batch.join('\n') + '\n' : '')
}

/** `POST /__admin/late {"source", "n", "from", "to"}` (from/to: epoch ms or RFC 3339): records inserted into the past. */
function lateArrivals(hooks: AdminHooks, body: unknown): object[] {
  const b = body as { source?: SourceName; n?: number; from?: unknown; to?: unknown }
  const at = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' ? (parseMsOrIsoToUs(v) ?? NaN) / 1000 : undefined)
  const from = at(b.from)
  const to = at(b.to)
  if (!SOURCES.includes(b.source as SourceName) || !Number.isInteger(b.n) || (b.n as number) < 0 || from === undefined || to === undefined) {
    throw new TypeError('late needs {"source": "mail"|"disk"|"events", "n": <integer>, "from": <ms|iso>, "to": <ms|iso>}')
  }
  return hooks.late(b.source as SourceName, b.n as number, { from, to })
}

/** Handles one /__admin/ request. */
export async function handleAdmin(state: EmulatorState, hooks: AdminHooks, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const key = `${req.method} ${url.pathname.replace(/\/$/, '')}`
  const ok = (v: unknown): void => sendJson(res, 200, JSON.stringify(v))
  const badReq = (err: unknown): void => sendJson(res, 400, JSON.stringify({ error: err instanceof Error ? err.message : String(err) }))
  try {
    switch (key) {
      case 'GET /__admin/truth': return await streamTruth(state, res, url)
      case 'GET /__admin/stats': return ok(state.stats.snapshot())
      case 'POST /__admin/stats/reset': req.resume(); state.stats.reset(); return ok({ ok: true })
      case 'GET /__admin/requests': return ok(state.stats.requests())
      case 'GET /__admin/faults': return ok(state.faults.faults)
      case 'GET /__admin/switches': return ok(state.switches)
      case 'POST /__admin/faults': hooks.setFaults(await readJson(req)); return ok(state.faults.faults)
      case 'POST /__admin/switches': hooks.setSwitches(await readJson(req)); return ok(state.switches)
      case 'POST /__admin/inject': {
        const b = (await readJson(req)) as { source?: SourceName; n?: number; lateSeconds?: number; at?: number }
        if (!SOURCES.includes(b.source as SourceName) || !Number.isInteger(b.n) || (b.n as number) < 0) throw new TypeError('inject needs {"source": "mail"|"disk"|"events", "n": <integer>}')
        return ok(hooks.inject(b.source as SourceName, b.n as number, { lateSeconds: b.lateSeconds, at: b.at }))
      }
      case 'POST /__admin/late': return ok(lateArrivals(hooks, await readJson(req)))
      default:
        req.resume()
        return sendJson(res, 404, JSON.stringify({ error: `no admin route ${key}` }))
    }
  } catch (err) {
    if (err instanceof TypeError || err instanceof SyntaxError) return badReq(err)
    throw err
  }
}
