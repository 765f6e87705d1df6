/** events: the unified audit log, `GET https://cloud-api.yandex.net/v1/auditlog/organizations/{org}/events`. */
import { formatMicros } from '../time.js'
import { EVENT_TYPES, SCOPES } from './catalog.js'
import { isObject } from '../messages.js'
import { instantAt, mismatch, setJoined, type EndpointDescriptor } from './descriptor.js'

const OCCURRED_AT = ['event', 'occurred_at']

export const events: EndpointDescriptor = {
  name: 'events',
  host: 'cloud',
  scope: SCOPES.events,
  unitUs: 1,
  retentionDays: 180,
  filters: new Set(['types', 'includeUids', 'excludeUids', 'ip', 'service']),
  knownTypes: EVENT_TYPES,
  path: (org) => `/v1/auditlog/organizations/${org}/events`,
  query(req) {
    const q = new URLSearchParams()
    q.set('count', String(req.pageSize))
    q.set('started_at', formatMicros(req.after))
    q.set('ended_at', formatMicros(req.before))
    setJoined(q, 'types', req.filters.types)
    setJoined(q, 'include_uids', req.filters.includeUids)
    setJoined(q, 'exclude_uids', req.filters.excludeUids)
    if (req.filters.ip !== undefined) q.set('ip', req.filters.ip)
    if (req.filters.service !== undefined) q.set('service', req.filters.service)
    if (req.token !== undefined) q.set('iteration_key', req.token)
    return q
  },
  recordsKey: 'items',
  nextKey: 'iteration_key',
  instantPath: OCCURRED_AT,
  mismatch(rec, f) {
    const e = isObject(rec.event) ? rec.event : {}
    return mismatch({ type: e.type, uid: e.uid, ip: e.ip, service: e.service }, f)
  },
  timestamp: instantAt(OCCURRED_AT),
}
