/** Known event types of each endpoint (API.md §2–§3). The vendor adds types: unknown ones only warn. */
export const MAIL_TYPES = [
  'mailbox_send', 'message_receive', 'message_seen', 'message_unseen', 'message_forward', 'message_purge',
  'message_trash', 'message_spam', 'message_unspam', 'message_move', 'message_copy', 'message_answer',
] as const

export const DISK_TYPES = [
  'fs-copy', 'fs-mkdir', 'fs-move', 'fs-set-public', 'fs-store', 'fs-trash-append', 'fs-trash-drop',
  'fs-trash-drop-all', 'fs-rm', 'share-activate-invite', 'share-change-rights', 'share-change-invite-rights',
  'share-create-group', 'share-invite-user',
] as const

/** Unified-log types seen in the vendor's documentation, by family. */
export const EVENT_TYPES = [
  'id_cookie.set', 'id_app_password.login',
  'ya360_b2bplatform_user_created', 'ya360_b2bplatform_user_deleted', 'ya360_b2bplatform_group_member_deleted',
  'ya360_b2bplatform_group_member_added', 'ya360_b2bplatform_domain_updated',
  'telemost_conference.started', 'telemost_conference.peer.joined',
  'messenger_chat.created',
  'disk_fs-store', 'disk_fs-view', 'disk_share-invite-user',
] as const

export const EVENT_SERVICES = ['Web', 'Desktop', 'Mobile', 'Api', 'Synchronization', 'ID', 'Internal', 'Unknown'] as const
