/** disk: `GET https://api360.yandex.net/security/v1/org/{org}/audit_log/disk` (deprecated by the vendor, still answered). */
import { api360Endpoint } from './api360.js'
import { DISK_TYPES, SCOPES } from './catalog.js'

export const disk = api360Endpoint({
  name: 'disk',
  scope: SCOPES.disk,
  filters: ['includeUids', 'excludeUids'],
  knownTypes: DISK_TYPES,
})
