/** The legacy api360 audit-log endpoints (mail, disk) share one wire format; this builds their descriptors. */
import { formatMillis } from '../time.js'
import { appendRepeated, instantAt, mismatch, type EndpointDescriptor, type FilterName, type SourceName } from './descriptor.js'

const DATE = ['date']

interface Api360Spec {
  name: Extract<SourceName, 'mail' | 'disk'>
  scope: string
  filters: FilterName[]
  knownTypes: readonly string[]
}

/** Descriptor of `GET /security/v1/org/{org}/audit_log/{name}`: pageSize/pageToken paging, `events` + `nextPageToken`. */
export function api360Endpoint(spec: Api360Spec): EndpointDescriptor {
  return {
    name: spec.name,
    host: 'api360',
    scope: spec.scope,
    unitUs: 1000,
    retentionDays: 90,
    filters: new Set(spec.filters),
    knownTypes: spec.knownTypes,
    path: (org) => `/security/v1/org/${org}/audit_log/${spec.name}`,
    query(req) {
      const q = new URLSearchParams()
      q.set('pageSize', String(req.pageSize))
      q.set('afterDate', formatMillis(req.after))
      q.set('beforeDate', formatMillis(req.before))
      appendRepeated(q, 'types', req.filters.types)
      appendRepeated(q, 'includeUids', req.filters.includeUids)
      appendRepeated(q, 'excludeUids', req.filters.excludeUids)
      if (req.token !== undefined) q.set('pageToken', req.token)
      return q
    },
    recordsKey: 'events',
    nextKey: 'nextPageToken',
    instantPath: DATE,
    mismatch: (rec, f) => mismatch({ type: rec.eventType, uid: rec.userUid, ip: rec.clientIp }, f),
    timestamp: instantAt(DATE),
  }
}
