// Hostile response bodies: one that never ends, one dripped a byte at a time, 102 Processing forever. Each stops when the
// client goes away (or the emulator closes: its timers are in `timers`); bytes written are counted in the stats.
import type { ServerResponse } from 'node:http'
import type { StatsRecorder } from './stats.js'

const CHUNK = Buffer.from(`{"id":"${'x'.repeat(54)}"},`.repeat(1024)) // 64 KiB of plausible page content

/** A 200 whose chunked body never ends: `{"events":[` then records forever, written as fast as the client reads. */
export function sendEndless(res: ServerResponse, stats: StatsRecorder, timers: Set<NodeJS.Timeout>): void {
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' })
  res.write('{"events":[')
  let n = 0
  const pump = (): void => {
    while (!res.destroyed) {
      stats.sent(CHUNK.length)
      if (!res.write(CHUNK)) return void res.once('drain', pump)
      // Yield every MiB, so the emulator's other requests (and close()) are served meanwhile.
      if (++n % 16 === 0) {
        const t = setTimeout(() => { timers.delete(t); pump() }, 0)
        timers.add(t)
        return
      }
    }
  }
  pump()
}

/** A good response, framed honestly (Content-Length), sent one byte every `everyMs`. */
export function sendDrip(res: ServerResponse, body: Buffer, everyMs: number, stats: StatsRecorder, timers: Set<NodeJS.Timeout>): void {
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(body.length) })
  res.flushHeaders()
  let at = 0
  const next = (): void => {
    if (res.destroyed) return
    if (at >= body.length) return void res.end()
    res.write(body.subarray(at, at + 1))
    stats.sent(1)
    at++
    const t = setTimeout(() => { timers.delete(t); next() }, everyMs)
    timers.add(t)
  }
  next()
}

/** `102 Processing` every `everyMs`, never a final response (an informational response resets a client's header timeout). */
export function sendProcessing(res: ServerResponse, everyMs: number, timers: Set<NodeJS.Timeout>): void {
  const next = (): void => {
    if (res.destroyed) return
    res.writeProcessing()
    const t = setTimeout(() => { timers.delete(t); next() }, everyMs)
    timers.add(t)
  }
  next()
}
