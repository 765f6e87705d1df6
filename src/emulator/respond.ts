// Sending a complete response with an exact Content-Length.
import type { ServerResponse } from 'node:http'

/** Sends a complete JSON (or other) response. */
export function sendJson(res: ServerResponse, status: number, body: string, contentType = 'application/json; charset=utf-8', extra: Record<string, string> = {}): void {
  const buf = Buffer.from(body, 'utf8')
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': String(buf.length), ...extra })
  res.end(buf)
}
