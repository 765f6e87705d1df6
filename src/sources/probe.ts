/**
 * The repeated-key probe. A filter sent as repeated keys (mail `types=a&types=b`, `includeUids=u1&includeUids=u2`)
 * that the API reads by its first key only returns a subset that still matches the filter: no check of the records
 * can see it. Asked in both orders, an honest API answers with the same newest page (the order of a filter's values
 * means nothing); one that reads the first key only answers with two different subsets. So, once per run and per such
 * filter, the first page of the run's range is asked in the configured order, then with that filter's values reversed:
 * a record of the first answer newer than the oldest record of the second must be in the second (records arriving in
 * between only push older ones out of it). Exclusions are not probed: reading only the first excluded value lets
 * records through that the per-record filter check drops (anomaly filter-ignored:excludeUids).
 * Limit: the probe sees only the range's newest page, so a type whose records all lie older than it goes unnoticed.
 */
import { Y360Error } from '../errors.js'
import { show, type Micros } from '../time.js'
import { requestBounds } from './collect.js'
import type { EndpointDescriptor, Page, PageRecords, PageRequest } from './descriptor.js'
import { spanText } from './spans.js'
import type { WindowedSourceOptions } from './windowed.js'

/** What the probe asks with: the windowed source's endpoint, client, pacing, range and counters. */
export type ProbeOptions = Pick<WindowedSourceOptions, 'ep' | 'client' | 'limiter' | 'baseUrl' | 'org' | 'filters' | 'from' | 'to' | 'pageSize' | 'stats' | 'signal'>

/** The inclusion filters a first-key-only reading narrows silently. */
const PROBED = ['types', 'includeUids'] as const

/** The filters of `req` that go out as a repeated query key with two values or more (reversing them changes the key's values). */
export function repeatedKeyFilters(ep: EndpointDescriptor, req: PageRequest): (typeof PROBED)[number][] {
  const q0 = ep.query(req)
  return PROBED.filter((name) => {
    const values = req.filters[name]
    if (values === undefined || values.length < 2) return false
    const q1 = ep.query({ ...req, filters: { ...req.filters, [name]: [...values].reverse() } })
    return [...new Set(q0.keys())].some((k) => q0.getAll(k).length >= 2 && q0.getAll(k).join('\n') !== q1.getAll(k).join('\n'))
  })
}

/**
 * Records of `first` that `second` lacks although they are newer than its oldest record (all of them when `second`
 * is the whole range: not full); 0 when `second` is an empty page with a next token. Records are compared by the
 * text the API sent (else their encoding).
 */
export function missingFrom(first: Page, second: Page, pageSize: number): number {
  const text = (r: PageRecords, i: number): string => (r.texts === undefined ? JSON.stringify(r.item(i)) : spanText(r.texts.body, r.texts.spans[i]))
  const b = second.records
  if (b.length === 0 && second.next !== null) return 0 // an empty page that goes on (API.md §3): nothing to judge by
  const instants: Micros[] = []
  const have = new Set<string>()
  for (let i = 0; i < b.length; i++) {
    const us = b.instant(i)
    if (us !== undefined) instants.push(us)
    have.add(text(b, i))
  }
  const full = b.length >= pageSize || second.next !== null
  const cutoff = full && instants.length > 0 ? Math.min(...instants) : -Infinity
  const a = first.records
  let missing = 0
  for (let i = 0; i < a.length; i++) {
    const us = a.instant(i)
    if (us !== undefined && us > cutoff && !have.has(text(a, i))) missing++
  }
  return missing
}

/** Runs the probe (nothing when no filter goes out as repeated keys); throws BAD_PAGE, counted, when the API reads the first key only. */
export async function probeRepeatedKeys(o: ProbeOptions): Promise<void> {
  const { ep } = o
  const req: PageRequest = { ...requestBounds(o.from, o.to, ep.unitUs), token: undefined, pageSize: o.pageSize, filters: o.filters }
  const names = repeatedKeyFilters(ep, req)
  if (names.length === 0) return
  const get = (r: PageRequest): Promise<Page> => o.client.getPage(ep, `${o.baseUrl}${ep.path(o.org)}?${ep.query(r)}`, o.limiter, o.signal, () => o.stats.pages++)
  // The probe's records are fetched again by the windows: counted as fetched and refetched, so the counters reconcile.
  const counted = (page: Page): Page => {
    o.stats.fetched += page.records.length
    o.stats.refetched += page.records.length
    return page
  }
  const first = counted(await get(req))
  for (const name of names) {
    const values = req.filters[name] as string[]
    const second = counted(await get({ ...req, filters: { ...req.filters, [name]: [...values].reverse() } }))
    const missing = missingFrom(first, second, o.pageSize)
    if (missing === 0) continue
    o.stats.anomaly('repeated-key-ignored')
    throw new Y360Error('BAD_PAGE', `${ep.name}: the API reads only the first of the repeated ${name} keys: asked with the values in the other order, the newest page of ${show(o.from)}..${show(o.to)} lacks ${missing} records the first order returned, so a filtered archive would silently miss records; stopping the source (anomaly repeated-key-ignored); pull one value per archive, or without the filter`, { source: ep.name })
  }
}
