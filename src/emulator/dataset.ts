// Loading a source's records from an NDJSON file, taken as-is: each line is served as its own text, byte for byte.
import { readFileSync } from 'node:fs'
import type { SourceName } from './catalog.js'
import { timestampOfRecord } from './source.js'
import { parseInstantUs } from './time.js'

/** Reads NDJSON records and their instants (µs, from the source's own timestamp field); throws naming the file and line. */
export function readDataset(source: SourceName, file: string): Array<{ us: number; rec: Record<string, unknown>; text: string }> {
  const out: Array<{ us: number; rec: Record<string, unknown>; text: string }> = []
  const lines = readFileSync(file, 'utf8').split('\n')
  lines.forEach((line, i) => {
    if (line.trim() === '') return
    let rec: Record<string, unknown>
    try {
      rec = JSON.parse(line) as Record<string, unknown>
    } catch (err) {
      throw new Error(`${file}:${i + 1}: not JSON`, { cause: err })
    }
    const ts = timestampOfRecord(source, rec)
    const us = typeof ts === 'string' ? parseInstantUs(ts) : undefined
    if (us === undefined) throw new Error(`${file}:${i + 1}: no valid ${source === 'events' ? 'event.occurred_at' : 'date'} timestamp`)
    out.push({ us, rec, text: line.replace(/^\s+|\s+$/g, '') })
  })
  return out
}
