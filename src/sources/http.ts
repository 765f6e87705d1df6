/**
 * One GET through undici's dispatcher, its body read with a byte cap, and undici's Agent loaded from its own module.
 *
 * The exchange goes through `dispatcher.dispatch` with a handler of our own, not undici's `request` API: that API wraps
 * every response in a Readable stream (an async resource, stream state, events, an async iterator to read it with),
 * which a page read whole into one buffer never needs. In a run's first second most of that code still runs cold, and
 * it was a third of the CPU each request cost (measured: 450 requests in a fresh process, ~1.0 ms of CPU each through
 * `request` and a stream read, ~0.72 ms through this handler; bench/RESULTS.md).
 *
 * The Agent comes from its own module: the package's index also loads fetch, WebSocket, the cache stores, mocks and
 * interceptors we never use, ~70 ms of every start. If a later undici moves the module, the index is loaded instead:
 * slower to start, same behaviour.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Agent as UndiciAgent, Dispatcher } from 'undici'
import type { BoundedBody } from './bounded.js'

/** What one GET received: the final status (1xx responses are passed over), its headers, the body read within the cap. */
export interface Exchange {
  status: number
  headers: IncomingHttpHeaders
  body: BoundedBody
}

export interface GetOptions {
  headers: Record<string, string>
  headersTimeout: number
  bodyTimeout: number
  /** Its aborting ends the exchange (the connection is dropped); the promise rejects with its reason. */
  signal?: AbortSignal
  /**
   * The longest the whole exchange may take, whatever the server sends meanwhile (1xx, a dripping body: undici's own
   * timeouts restart on each); past it, the exchange is aborted and the promise rejects with `DeadlinePassed`.
   */
  deadlineMs: number
  /**
   * Called when the final response's headers arrive (before its body, which may still fail); returns the most bytes of
   * the body read for it. Past that, reading stops at once and the connection is dropped.
   */
  started(status: number, headers: IncomingHttpHeaders): number
}

/** The error a cut body aborts its exchange with (never seen by the caller: the exchange has resolved by then). */
class BodyCut extends Error {}

/** An exchange ended by its deadline. */
export class DeadlinePassed extends Error {
  constructor(ms: number) {
    super(`request deadline of ${ms}ms passed`)
  }
}

/**
 * Collects one response for `get`. The body's chunks are kept as undici hands them over (each its own buffer) and
 * joined once at the end; a body of one chunk is kept as it is, without a copy.
 */
class BoundedGet implements Dispatcher.DispatchHandler {
  readonly #opts: GetOptions
  readonly #resolve: (x: Exchange) => void
  readonly #reject: (err: unknown) => void
  #controller: Dispatcher.DispatchController | undefined
  #reason: unknown // an abort that came before the request reached a connection
  #aborted = false
  #settled = false
  #status = 0
  #headers: IncomingHttpHeaders = {}
  #limit = 0
  #bytes = 0
  readonly #chunks: Buffer[] = []

  readonly #timer: NodeJS.Timeout

  constructor(opts: GetOptions, resolve: (x: Exchange) => void, reject: (err: unknown) => void) {
    this.#opts = opts
    this.#resolve = resolve
    this.#reject = reject
    opts.signal?.addEventListener('abort', this.#onAbort)
    // One timer, not an AbortController and a signal: an EventTarget per request cost more than the timer itself.
    this.#timer = setTimeout(() => this.#abort(new DeadlinePassed(opts.deadlineMs)), opts.deadlineMs)
    this.#timer.unref()
  }

  readonly #onAbort = (): void => this.#abort(this.#opts.signal?.reason)

  #abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    if (this.#controller !== undefined) this.#controller.abort(reason as Error)
    else if (!this.#settled) this.#fail(reason) // not on a connection yet: undici aborts it when it gets one
  }

  #done(): void {
    this.#settled = true
    clearTimeout(this.#timer)
    this.#opts.signal?.removeEventListener('abort', this.#onAbort)
  }

  #fail(err: unknown): void {
    if (this.#settled) return
    this.#done()
    this.#reject(err)
  }

  #finish(over: boolean): void {
    if (this.#settled) return
    this.#done()
    const c = this.#chunks
    const kept = over ? this.#limit : this.#bytes
    const raw = c.length === 1 ? c[0] : Buffer.concat(c, kept)
    this.#resolve({ status: this.#status, headers: this.#headers, body: { raw, over, bytes: this.#bytes } })
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.#aborted) controller.abort(this.#reason as Error)
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    if (status < 200) return // 102 Processing and the like: the final response comes after
    this.#status = status
    this.#headers = headers
    this.#limit = this.#opts.started(status, headers)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled) return
    const before = this.#bytes
    this.#bytes += chunk.length
    if (this.#bytes <= this.#limit) {
      this.#chunks.push(chunk)
      return
    }
    this.#chunks.push(chunk.subarray(0, this.#limit - before))
    this.#finish(true)
    controller.abort(new BodyCut('body cut at its cap')) // nothing more is buffered: the connection is dropped, not drained
  }

  onResponseEnd(): void {
    this.#finish(false)
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#fail(err)
  }
}

export interface Http {
  Agent: typeof UndiciAgent
  /** GET of an absolute URL through `dispatcher`, its body read within the cap `opts.started` gives. */
  get(dispatcher: Dispatcher, url: string, opts: GetOptions): Promise<Exchange>
}

function get(dispatcher: Dispatcher, url: string, opts: GetOptions): Promise<Exchange> {
  if (opts.signal?.aborted === true) return Promise.reject(opts.signal.reason as Error) // never dispatched
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const handler = new BoundedGet(opts, resolve, reject)
    const req = { origin: u.origin, path: `${u.pathname}${u.search}`, method: 'GET' as const, headers: opts.headers, headersTimeout: opts.headersTimeout, bodyTimeout: opts.bodyTimeout }
    dispatcher.dispatch(req, handler)
  })
}

async function load(): Promise<Http> {
  try {
    const agent = await import('undici/lib/dispatcher/agent.js')
    const Agent = agent.default as typeof UndiciAgent
    if (typeof Agent !== 'function') throw new Error('undici layout changed')
    return { Agent, get }
  } catch {
    const undici = await import('undici')
    return { Agent: undici.Agent, get }
  }
}

export const http: Http = await load()
