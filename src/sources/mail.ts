/** mail: `GET https://api360.yandex.net/security/v1/org/{org}/audit_log/mail`. */
import { api360Endpoint } from './api360.js'
import { MAIL_TYPES, SCOPES } from './catalog.js'

export const mail = api360Endpoint({
  name: 'mail',
  scope: SCOPES.mail,
  filters: ['types', 'includeUids', 'excludeUids'],
  knownTypes: MAIL_TYPES,
})
