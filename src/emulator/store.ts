// Sorted, growable record index for one source: instants by position, filter attributes by record id.

/** Maps strings to small integers and back; index 0 is reserved for "absent". */
export class Interner {
  readonly values: string[] = ['']
  readonly #index = new Map<string, number>([['', 0]])
  /** The index of `s`, adding it when new. */
  add(s: string | undefined): number {
    if (s === undefined || s === '') return 0
    let i = this.#index.get(s)
    if (i === undefined) { i = this.values.length; this.values.push(s); this.#index.set(s, i) }
    return i
  }
  /** The index of `s`, or -1 when it was never added (so nothing matches). */
  find(s: string): number { return this.#index.get(s) ?? -1 }
}

/** Filter-relevant attributes of one record, as strings. */
export interface Attrs { type?: string; user?: string; ip?: string; service?: string }

function grow<T extends Float64Array | Uint32Array | Int32Array>(a: T, need: number): T {
  if (need <= a.length) return a
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2, 1024))
  b.set(a)
  return b
}

/** The records of one source, ascending by instant (ties keep insertion order); `version` bumps on every insert. */
export class SourceStore {
  #inst = new Float64Array(0)     // by position, µs
  #ids = new Int32Array(0)        // by position
  #len = 0
  #nextId = 0
  #instById = new Float64Array(0)
  #type = new Uint32Array(0)
  #user = new Uint32Array(0)
  #ip = new Uint32Array(0)
  #service = new Uint32Array(0)
  readonly types = new Interner()
  readonly users = new Interner()
  readonly ips = new Interner()
  readonly services = new Interner()
  /** Records stored as given (loaded datasets); generated records are rendered on demand instead. */
  readonly objects = new Map<number, Record<string, unknown>>()
  version = 0

  /** Number of records. */
  get length(): number { return this.#len }
  /** Next id to be assigned. */
  get nextId(): number { return this.#nextId }
  /** Instant (µs) of the record at `pos`. */
  instAt(pos: number): number { return this.#inst[pos] }
  /** Id of the record at `pos`. */
  idAt(pos: number): number { return this.#ids[pos] }
  /** Instant (µs) of record `id`. */
  instOf(id: number): number { return this.#instById[id] }
  /** Attribute indices of record `id`. */
  typeOf(id: number): number { return this.#type[id] }
  userOf(id: number): number { return this.#user[id] }
  ipOf(id: number): number { return this.#ip[id] }
  serviceOf(id: number): number { return this.#service[id] }

  #reserveIds(n: number): void {
    const need = this.#nextId + n
    this.#instById = grow(this.#instById, need)
    this.#type = grow(this.#type, need); this.#user = grow(this.#user, need)
    this.#ip = grow(this.#ip, need); this.#service = grow(this.#service, need)
  }

  #setAttrs(id: number, us: number, a: Attrs): void {
    this.#instById[id] = us
    this.#type[id] = this.types.add(a.type); this.#user[id] = this.users.add(a.user)
    this.#ip[id] = this.ips.add(a.ip); this.#service[id] = this.services.add(a.service)
  }

  /** Bulk-appends records whose instants are already ascending and not older than the current newest. Returns the first id. */
  appendSorted(instants: Float64Array, attrsOf: (i: number) => Attrs): number {
    const n = instants.length
    const first = this.#nextId
    this.#reserveIds(n)
    this.#inst = grow(this.#inst, this.#len + n); this.#ids = grow(this.#ids, this.#len + n)
    for (let i = 0; i < n; i++) {
      const id = first + i
      this.#setAttrs(id, instants[i], attrsOf(i))
      this.#inst[this.#len + i] = instants[i]
      this.#ids[this.#len + i] = id
    }
    this.#len += n
    this.#nextId += n
    this.version++
    return first
  }

  /** Inserts one record after all records with the same or older instant; returns its id. */
  insert(us: number, a: Attrs, object?: Record<string, unknown>): number {
    const id = this.#nextId++
    this.#reserveIds(1)
    this.#setAttrs(id, us, a)
    if (object) this.objects.set(id, object)
    this.#inst = grow(this.#inst, this.#len + 1); this.#ids = grow(this.#ids, this.#len + 1)
    const pos = this.upperBound(us)
    this.#inst.copyWithin(pos + 1, pos, this.#len); this.#ids.copyWithin(pos + 1, pos, this.#len)
    this.#inst[pos] = us; this.#ids[pos] = id
    this.#len++
    this.version++
    return id
  }

  /** First position whose instant is >= us. */
  lowerBound(us: number): number {
    let lo = 0, hi = this.#len
    while (lo < hi) { const m = (lo + hi) >>> 1; if (this.#inst[m] < us) lo = m + 1; else hi = m }
    return lo
  }

  /** First position whose instant is > us. */
  upperBound(us: number): number {
    let lo = 0, hi = this.#len
    while (lo < hi) { const m = (lo + hi) >>> 1; if (this.#inst[m] <= us) lo = m + 1; else hi = m }
    return lo
  }
}
