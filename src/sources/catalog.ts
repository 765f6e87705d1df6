// Known names of the Yandex 360 audit-log APIs (API.md §2–§3), shared by the client and the emulator. Dependency-free.

/** The three audit-log sources. */
export type SourceName = 'mail' | 'disk' | 'events'

/** All sources, in a fixed order. */
export const SOURCES: readonly SourceName[] = Object.freeze(['mail', 'disk', 'events'])

/** The 12 mail `eventType` / `types` values. */
export const MAIL_TYPES: readonly string[] = Object.freeze([
  'mailbox_send', 'message_receive', 'message_seen', 'message_unseen', 'message_forward', 'message_purge',
  'message_trash', 'message_spam', 'message_unspam', 'message_move', 'message_copy', 'message_answer',
])

/** The 14 disk `eventType` values. */
export const DISK_TYPES: readonly string[] = Object.freeze([
  'fs-copy', 'fs-mkdir', 'fs-move', 'fs-set-public', 'fs-store', 'fs-trash-append', 'fs-trash-drop',
  'fs-trash-drop-all', 'fs-rm', 'share-activate-invite', 'share-change-rights', 'share-change-invite-rights',
  'share-create-group', 'share-invite-user',
])

/** Unified-log `type` values known to us (examples by family from API.md; the real list is longer). */
export const EVENT_TYPES: readonly string[] = Object.freeze([
  'id_cookie.set', 'id_app_password.login', 'id_password.login', 'id_oauth_token.issued',
  'ya360_b2bplatform_user_created', 'ya360_b2bplatform_user_updated', 'ya360_b2bplatform_user_blocked',
  'ya360_b2bplatform_group_created', 'ya360_b2bplatform_group_member_added', 'ya360_b2bplatform_group_member_deleted',
  'ya360_b2bplatform_domain_added', 'ya360_b2bplatform_domain_updated',
  'telemost_conference.started', 'telemost_conference.ended', 'telemost_conference.peer.joined',
  'messenger_chat.created', 'messenger_chat.member_added',
  'disk_fs-store', 'disk_fs-view', 'disk_fs-rm', 'disk_fs-move', 'disk_share-invite-user', 'disk_fs-set-public',
])

/** Allowed values of the unified log's `service` field and filter. */
export const EVENT_SERVICES: readonly string[] = Object.freeze([
  'Web', 'Desktop', 'Mobile', 'Api', 'Synchronization', 'ID', 'Internal', 'Unknown',
])

/** OAuth scope required by each source. */
export const SCOPES: Readonly<Record<SourceName, string>> = Object.freeze({
  mail: 'ya360_security:audit_log_mail',
  disk: 'ya360_security:audit_log_disk',
  events: 'ya360_security:read_auditlog',
})
