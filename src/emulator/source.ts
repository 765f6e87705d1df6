// One source's data: the sorted store plus how to render, stamp, inject and list records.
import type { SourceName } from './catalog.js'
import { RecordFactory, type RenderFormat } from './generate.js'
import { Rng, mix } from './prng.js'
import { SourceStore, type Attrs } from './store.js'

/** Filter predicate over record ids. */
export type IdFilter = (id: number) => boolean

/** Filters in string form, as a query or truth() gives them. */
export interface FilterSpec { types?: string[]; includeUids?: string[]; excludeUids?: string[]; ip?: string; service?: string }

/** Texts `SourceData` keeps rendered at most (~600 bytes each). */
const SERVED_MAX = 500_000

/** Whether two render formats give every record the same text. */
function sameFormat(a: RenderFormat, b: RenderFormat): boolean {
  return a.mailOmitZeroMs === b.mailOmitZeroMs && a.eventsOmitZeroUs === b.eventsOmitZeroUs && a.poison === b.poison && a.unlistedDiskTypes === b.unlistedDiskTypes && a.eventsIpCidr === b.eventsIpCidr
}

/** Records of one source (generated, loaded or injected) with rendering and filtering. */
export class SourceData {
  readonly store = new SourceStore()
  readonly factory: RecordFactory
  readonly #injectRng: Rng

  constructor(readonly name: SourceName, seed: number, org: number) {
    this.factory = new RecordFactory(name, seed, org)
    this.#injectRng = new Rng(mix(seed, 0x1a7e, name.length))
  }

  /** Generates `n` records over `days` ending at `endMs`. */
  generate(n: number, days: number, endMs: number): void {
    const inst = this.factory.buildInstants(n, days, endMs)
    const first = this.store.nextId
    this.store.appendSorted(inst, (i) => this.factory.attrsFor(first + i))
  }

  /** Texts of loaded records, served byte for byte as loaded (big integers, `1.0`, escapes, duplicate keys). */
  readonly #texts = new Map<number, string>()

  /** Loads records as given (parsed, and their text when known), each with its instant (µs); sorted stably here. */
  load(records: Array<{ us: number; rec: Record<string, unknown>; text?: string }>): void {
    const order = records.map((_, i) => i).sort((a, b) => records[a].us - records[b].us || a - b)
    for (const i of order) {
      const id = this.store.insert(records[i].us, attrsOfRecord(this.name, records[i].rec), records[i].rec)
      const text = records[i].text
      if (text !== undefined) this.#texts.set(id, text)
    }
  }

  /** Adds `n` generated records stamped at `nowMs` (or up to `lateSeconds` earlier, or exactly `atMs`); returns their ids. */
  inject(n: number, nowMs: number, opts: { lateSeconds?: number; atMs?: number } = {}): number[] {
    const stamps = Array.from({ length: n }, () => {
      let ms = opts.atMs ?? nowMs
      if (opts.atMs === undefined && opts.lateSeconds) ms -= this.#injectRng.next() * opts.lateSeconds * 1000
      // events get sub-millisecond digits, but never later than the stamp
      let us = Math.round(ms * 1000)
      if (this.name === 'events' && opts.atMs === undefined) us -= this.#injectRng.int(1000)
      return us
    })
    return this.#insertAt(stamps)
  }

  /**
   * Adds `n` generated records stamped in the past, spread over [fromMs, toMs) (seeded, ascending): late arrivals,
   * records the API makes visible only now although their own time is hours or days ago. Returns their ids.
   */
  backdate(n: number, fromMs: number, toMs: number): number[] {
    const stamps = Array.from({ length: n }, () => Math.floor((fromMs + this.#injectRng.next() * (toMs - fromMs)) * 1000)).sort((a, b) => a - b)
    return this.#insertAt(stamps)
  }

  /** Inserts one generated record per stamp (µs), in order; returns their ids. */
  #insertAt(stamps: readonly number[]): number[] {
    return stamps.map((us) => this.store.insert(this.factory.quantize(us), this.factory.attrsFor(this.store.nextId)))
  }

  /** The record as served (a fresh object, safe to mutate), with the content variants of the switches applied. */
  render(id: number, fmt: RenderFormat): Record<string, unknown> {
    const rec = this.#plain(id, fmt)
    if (this.#poisoned(id, fmt)) rec.deep = nested((fmt.poison as { depth: number }).depth)
    return rec
  }

  #plain(id: number, fmt: RenderFormat): Record<string, unknown> {
    const o = this.store.objects.get(id)
    const rec = o ? structuredClone(o) : this.factory.render(this.store, id, fmt)
    if (fmt.unlistedDiskTypes === true && this.name === 'disk' && rec.eventType === 'fs-set-public' && id % 2 === 0) rec.eventType = 'fs-set-public-settings'
    const event = rec.event as Record<string, unknown> | undefined
    if (fmt.eventsIpCidr === true && this.name === 'events' && typeof event?.ip === 'string' && !event.ip.includes('/')) event.ip = `${event.ip}/${event.ip.includes(':') ? 128 : 32}`
    return rec
  }

  #poisonId: number | undefined
  /** The poison switch hits the record in the middle of the store when first asked (pinned: arrivals move the middle). */
  #poisoned(id: number, fmt: RenderFormat): boolean {
    if (fmt.poison?.source !== this.name || this.store.length === 0) return false
    this.#poisonId ??= this.store.idAt(Math.floor(this.store.length / 2))
    return this.#poisonId === id
  }

  /**
   * Texts served, by id, for the formats of `#servedFor`: a record's text depends only on its id (ids are never reused,
   * a record never changes) and the formats, so each is rendered once, not on every request that serves it (rendering
   * cost ~1.3 ms of CPU a page of 100, on the cores the tool under test shares). Emptied when the formats change or it
   * holds SERVED_MAX texts.
   */
  readonly #served = new Map<number, string>()
  #servedFor: RenderFormat | undefined

  /** Same as render, serialized; loaded records are served exactly as loaded (their text, when they came with one). */
  serialize(id: number, fmt: RenderFormat, dropTimestamp: boolean): string {
    const text = this.#texts.get(id)
    if (text !== undefined && !dropTimestamp) return text
    if (dropTimestamp || this.#poisoned(id, fmt)) return this.#serialized(id, fmt, dropTimestamp)
    if (this.#servedFor === undefined || !sameFormat(this.#servedFor, fmt) || this.#served.size >= SERVED_MAX) {
      this.#served.clear()
      this.#servedFor = fmt
    }
    let json = this.#served.get(id)
    if (json === undefined) {
      json = this.#serialized(id, fmt, false)
      this.#served.set(id, json)
    }
    return json
  }

  #serialized(id: number, fmt: RenderFormat, dropTimestamp: boolean): string {
    const rec = this.#plain(id, fmt)
    if (dropTimestamp) {
      if (this.name === 'events') delete (rec.event as Record<string, unknown> | undefined)?.occurred_at
      else delete rec.date
    }
    const json = JSON.stringify(rec)
    // Too deep for JSON.stringify: the poison field is spliced in as text.
    if (this.#poisoned(id, fmt)) return `${json.slice(0, -1)},"deep":${'['.repeat((fmt.poison as { depth: number }).depth)}${']'.repeat((fmt.poison as { depth: number }).depth)}}`
    return json
  }

  /** Builds a predicate for the filters, or undefined when nothing is filtered. */
  filter(f: FilterSpec): IdFilter | undefined {
    const s = this.store
    const parts: IdFilter[] = []
    if (f.types?.length) { const set = new Set(f.types.map((t) => s.types.find(t))); parts.push((id) => set.has(s.typeOf(id))) }
    if (f.includeUids?.length) { const set = new Set(f.includeUids.map((u) => s.users.find(u))); parts.push((id) => set.has(s.userOf(id))) }
    if (f.excludeUids?.length) { const set = new Set(f.excludeUids.map((u) => s.users.find(u))); parts.push((id) => !set.has(s.userOf(id))) }
    if (f.ip !== undefined) { const ip = s.ips.find(f.ip); parts.push((id) => s.ipOf(id) === ip) }
    if (f.service !== undefined) { const sv = s.services.find(f.service); parts.push((id) => s.serviceOf(id) === sv) }
    if (!parts.length) return undefined
    return (id) => parts.every((p) => p(id))
  }
}

const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v))

/** Filter attributes of a record given as an object (loaded datasets). */
export function attrsOfRecord(source: SourceName, rec: Record<string, unknown>): Attrs {
  if (source !== 'events') return { type: str(rec.eventType), user: str(rec.userUid), ip: str(rec.clientIp) }
  const e = (rec.event ?? {}) as Record<string, unknown>
  return { type: str(e.type), user: str(e.uid), ip: str(e.ip), service: str(e.service) }
}

/** The timestamp string of a record given as an object, from the source's own field. */
export function timestampOfRecord(source: SourceName, rec: Record<string, unknown>): unknown {
  return source === 'events' ? (rec.event as Record<string, unknown> | undefined)?.occurred_at : rec.date
}

/** `depth` empty arrays nested in each other, built without recursion. */
function nested(depth: number): unknown[] {
  let v: unknown[] = []
  for (let i = 1; i < depth; i++) v = [v]
  return v
}
