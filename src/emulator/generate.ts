// Deterministic record factory: instants with hard cases on purpose, attributes and full records rendered from (seed, id).
import { DISK_TYPES, EVENT_TYPES, MAIL_TYPES, type SourceName } from './catalog.js'
import { DIRS, EXTERNAL, FILES, FOLDERS, HARD_STRINGS, MAIL_CHANNELS, SUBJECTS, makeIps, makeUsers, type User } from './pools.js'
import { Rng, mix } from './prng.js'
import type { Attrs, SourceStore } from './store.js'
import { PRECISION_US, formatDisk, formatEvents, formatMail } from './time.js'

/** Formatting switches that change how a record is serialized (variants: see Switches). */
export interface RenderFormat {
  mailOmitZeroMs: boolean
  eventsOmitZeroUs: boolean
  poison?: { source: SourceName; depth: number } | null
  unlistedDiskTypes?: boolean
  eventsIpCidr?: boolean
}

const SALT: Record<SourceName, number> = { mail: 11, disk: 22, events: 33 }
const DAY_US = 86_400_000_000

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(o).sort()) out[k] = o[k]
  return out
}

/** Makes and renders the generated records of one source; everything is a pure function of (seed, id) plus the store's attributes. */
export class RecordFactory {
  readonly #users: User[]
  readonly #byUid: Map<string, User>
  readonly #ips: string[]
  readonly #types: readonly string[]
  readonly #salt: number
  /** id → id of the record it duplicates (all fields but the identity). */
  readonly twinOf = new Map<number, number>()
  /** id → index into HARD_STRINGS used as subject / path / resource name. */
  readonly hard = new Map<number, number>()

  constructor(readonly source: SourceName, readonly seed: number, readonly org: number) {
    this.#users = makeUsers(seed, 48)
    this.#byUid = new Map(this.#users.map((u) => [u.uid, u]))
    this.#ips = makeIps(seed, 40)
    this.#types = source === 'mail' ? MAIL_TYPES : source === 'disk' ? DISK_TYPES : EVENT_TYPES
    this.#salt = SALT[source]
  }

  /** Rounds an instant (µs) down to the source's precision. */
  quantize(us: number): number {
    const p = PRECISION_US[this.source]
    return Math.floor(us / p) * p
  }

  /** Sorted instants (µs) for `n` records spread over `days` ending at `endMs`, with bursts, day edges, twins and 1 µs neighbours. */
  buildInstants(n: number, days: number, endMs: number): Float64Array {
    const rng = new Rng(mix(this.seed, this.#salt, 0xb17d))
    const endUs = endMs * 1000
    const startUs = endUs - days * DAY_US
    const prec = PRECISION_US[this.source]
    const a = new Float64Array(n)
    let k = 0
    // Day edges: 00:00:00.000 of the middle day, the last tick of the day before and of that day.
    const day0 = Math.floor((startUs + endUs) / 2 / DAY_US) * DAY_US
    for (const edge of [day0, day0 - prec, day0 + DAY_US - prec]) {
      if (k < n && n >= 20 && edge >= startUs && edge <= endUs) a[k++] = edge
    }
    const edges = a.slice(0, k)
    for (; k < n; k++) a[k] = this.quantize(startUs + rng.next() * (endUs - startUs))
    a.sort()
    // The runs changed below must not swallow the day-edge records: move a run past any edge inside it.
    const edgeAt = [...edges].map((e) => a.indexOf(e))
    const clear = (p: number, size: number): boolean => p >= 0 && p + size < n && !edgeAt.some((e) => e >= p && e <= p + size)
    const free = (at: number, size: number): number => {
      for (let d = 0; d < n; d += size + 1) {
        if (clear(at + d, size)) return at + d
        if (clear(at - d, size)) return at - d
      }
      return at
    }
    // Lowering a contiguous run to its first value keeps the array sorted.
    const burst = (at: number, size: number): void => {
      const p = free(at, size)
      for (let i = p + 1; i < Math.min(n, p + size); i++) a[i] = a[p]
    }
    if (n >= 500) burst(Math.floor(n * 0.5), n >= 700 ? 210 : 160)
    if (n >= 50) for (const [f, s] of [[0.2, 5], [0.7, 12], [0.9, 3]] as const) burst(Math.floor(n * f), s)
    if (n >= 50) {
      for (const f of [0.33, 0.61]) {
        const p = free(Math.floor(n * f), 1)
        a[p + 1] = a[p]
        this.twinOf.set(p + 1, p)
      }
    }
    if (this.source === 'events' && n >= 50) {
      for (const f of [0.4, 0.41, 0.42]) {
        const q = free(Math.floor(n * f), 2)
        if (q + 2 < n && a[q] + 1 <= a[q + 2]) a[q + 1] = a[q] + 1
      }
    }
    if (n >= 50) HARD_STRINGS.forEach((_, j) => this.hard.set(Math.floor(n * 0.15) + j * 7, j))
    return a
  }

  /** Filter attributes of record `id` (twins share their original's). */
  attrsFor(id: number): Attrs {
    const base = this.twinOf.get(id) ?? id
    const rng = new Rng(mix(this.seed, this.#salt, base, 7))
    const type = base < this.#types.length ? this.#types[base] : rng.pick(this.#types)
    const system = this.source === 'events' && rng.chance(0.03)
    const user = system ? undefined : rng.pick(this.#users).uid
    const ip = rng.pick(this.#ips)
    let service: string | undefined
    if (this.source === 'events') {
      if (system) service = 'Internal'
      else if (type.startsWith('id_')) service = rng.chance(0.9) ? 'ID' : 'Unknown'
      else service = rng.pick(['Web', 'Web', 'Desktop', 'Mobile', 'Api', 'Synchronization'])
    }
    return { type, user, ip, service }
  }

  #uniqId(id: number): string {
    return String(100000000 + (mix(this.seed, this.#salt, id, 99) % 900000000)) + String(id).padStart(10, '0')
  }

  #uuid(id: number): string {
    const h = (k: number, n: number): string => mix(this.seed, this.#salt, id, k).toString(16).padStart(8, '0').slice(0, n)
    return `${h(1, 8)}-${h(2, 4)}-4${h(3, 3)}-${'89ab'[mix(this.seed, id, 4) % 4]}${h(5, 3)}-${id.toString(16).padStart(12, '0')}`
  }

  #subject(base: number, rng: Rng): string {
    const j = this.hard.get(base)
    if (j !== undefined) return HARD_STRINGS[j]
    return rng.chance(0.003) ? rng.pick(HARD_STRINGS) : rng.pick(SUBJECTS)
  }

  /** The record `id` as the API would return it, keys in API order. */
  render(store: SourceStore, id: number, fmt: RenderFormat): Record<string, unknown> {
    const base = this.twinOf.get(id) ?? id
    const rng = new Rng(mix(this.seed, this.#salt, base, 1))
    const us = store.instOf(id)
    const type = store.types.values[store.typeOf(id)]
    const uid = store.users.values[store.userOf(id)]
    const user = this.#byUid.get(uid)
    const ip = store.ips.values[store.ipOf(id)]
    if (this.source === 'mail') return this.#mail(id, base, rng, us, type, user!, ip, fmt)
    if (this.source === 'disk') return this.#disk(id, base, rng, us, type, user!, ip)
    return this.#event(id, base, rng, us, type, user, ip, store.services.values[store.serviceOf(id)], fmt)
  }

  #mail(id: number, base: number, rng: Rng, us: number, type: string, u: User, ip: string, fmt: RenderFormat): Record<string, unknown> {
    const [folderName, folderType] = rng.pick(FOLDERS)
    const other = rng.pick(this.#users)
    const outgoing = type === 'mailbox_send' || type === 'message_forward' || type === 'message_answer'
    const rec: Record<string, unknown> = {
      eventType: type, date: formatMail(us, fmt.mailOmitZeroMs), orgId: this.org,
      userUid: u.uid, userLogin: u.login, userName: u.name,
      requestId: rng.chance(0.7) ? '' : rng.hex(32), uniqId: this.#uniqId(id), source: rng.pick(MAIL_CHANNELS),
      mid: rng.digits(18), folderName, folderType,
      labels: rng.chance(0.5) ? [] : rng.chance(0.7) ? ['seen'] : ['seen', 'important'],
      msgId: `<${rng.hex(12)}@mx.example.net>`, subject: this.#subject(base, rng),
      from: outgoing ? u.login : rng.chance(0.5) ? other.login : rng.pick(EXTERNAL),
      to: outgoing ? (rng.chance(0.5) ? other.login : rng.pick(EXTERNAL)) : u.login,
      cc: rng.chance(0.2) ? rng.pick(this.#users).login : '', bcc: rng.chance(0.05) ? rng.pick(EXTERNAL) : '',
      clientIp: ip,
    }
    const dest = rng.digits(18)
    if (type === 'message_move' || type === 'message_copy') rec.destMid = dest
    if (rng.chance(0.1)) rec.actorUid = other.uid
    return rec
  }

  #disk(id: number, base: number, rng: Rng, us: number, type: string, u: User, ip: string): Record<string, unknown> {
    const owner = rng.chance(0.8) ? u : rng.pick(this.#users)
    const j = this.hard.get(base)
    const name = j !== undefined ? HARD_STRINGS[j] : rng.pick(FILES)
    const dir = type === 'fs-mkdir'
    const share = type.startsWith('share-')
    return {
      eventType: type, date: formatDisk(us), orgId: this.org,
      userUid: u.uid, userLogin: u.login, userName: u.name,
      ownerUid: owner.uid, ownerLogin: owner.login, ownerName: owner.name,
      resourceFileId: rng.hex(16), path: `${rng.pick(DIRS)}/${dir ? 'Новая папка' : name}`,
      size: dir ? '0' : String(rng.int(50_000_000)), lastModificationDate: formatDisk(us - rng.int(86400 * 30) * 1e6),
      rights: share ? rng.pick(['r', 'rw']) : '',
      requestId: `web-${Math.floor(us)}-${rng.int(1000)}-disk-web-client-stable-client-${rng.int(10)}`,
      uniqId: this.#uniqId(id), clientIp: ip,
    }
  }

  #meta(type: string, base: number, rng: Rng, us: number): Record<string, unknown> {
    if (type.startsWith('id_')) {
      if (type === 'id_app_password.login') return { app_type: rng.pick(['imap', 'smtp', 'caldav']), client: rng.pick(['Thunderbird', 'Outlook 16', 'iOS Mail']) }
      if (type === 'id_oauth_token.issued') return { client_id: rng.hex(32), scopes: 'mail:imap_full' }
      return { browser: rng.pick(['Chrome 126', 'Firefox 128', 'Yandex 24.6', 'Safari 17']), os: rng.pick(['Windows 10', 'macOS 14', 'Android 14', 'Linux']) }
    }
    if (type.includes('b2bplatform_user')) { const v = rng.pick(this.#users); return { target_login: v.login, target_uid: v.uid } }
    if (type.includes('b2bplatform_group')) return { group_id: rng.int(500), group_name: rng.pick(['Бухгалтерия', 'Разработка', 'Все сотрудники']), member_uid: rng.pick(this.#users).uid }
    if (type.includes('b2bplatform_domain')) return { domain: rng.pick(['example.org', 'пример.рф', 'corp.example.net']), verified: rng.chance(0.8) }
    if (type.startsWith('telemost')) return { conference_id: rng.digits(14), peers_count: rng.int(30), peer_name: rng.pick(this.#users).name }
    if (type.startsWith('messenger')) return { chat_id: `0/0/${rng.hex(8)}-${rng.hex(4)}`, chat_name: rng.pick(['Проект «Звезда»', 'Обед', 'Support'])}
    const j = this.hard.get(base)
    const meta: Record<string, unknown> = {
      resource_name: j !== undefined ? HARD_STRINGS[j] : rng.pick(FILES), resource_type: rng.chance(0.85) ? 'file' : 'dir',
      unixtime: Math.floor(us / 1e6),
    }
    if (type === 'disk_share-invite-user') { meta.invitee_login = rng.pick(this.#users).login; meta.rights = rng.pick(['r', 'rw']) }
    return meta
  }

  #event(id: number, base: number, rng: Rng, us: number, type: string, u: User | undefined, ip: string, service: string, fmt: RenderFormat): Record<string, unknown> {
    const event: Record<string, unknown> = {
      idempotency_id: this.#uuid(id), ip, is_system: u === undefined, meta: sortKeys(this.#meta(type, base, rng, us)),
      occurred_at: formatEvents(us, fmt.eventsOmitZeroUs), org_id: this.org,
      request_id: `rest-${rng.hex(8)}-${type.split(/[_.-]/)[0]}-api-stable-${rng.int(10)}`,
      service, status: rng.chance(0.92) ? 'Success' : 'Error', type,
    }
    if (u) event.uid = Number(u.uid)
    return { event, user_login: u?.login ?? '', user_name: u?.name ?? '' }
  }
}
