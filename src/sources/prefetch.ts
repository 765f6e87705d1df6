/** What `Prefetch.take` returns while no item is ready yet and the source has not ended. */
export const PENDING: unique symbol = Symbol('pending')

/**
 * Prefetch: runs an async iterator ahead of its consumer, holding at most `capacity` items; the producer waits while
 * the buffer is full, so a window fetched ahead costs a bounded amount of memory. Errors surface on the next `take()`.
 * `onChange` is called whenever an item is ready, the producer stops asking its source (the buffer is full, or the
 * source has ended), so that a scheduler can start other work.
 */
export class Prefetch<T> {
  readonly #buffer: T[] = []
  readonly #capacity: number
  readonly #onChange: () => void
  #done = false
  #waiting = false
  #error: { err: unknown } | undefined
  #wakeProducer: (() => void) | undefined

  constructor(source: AsyncIterable<T>, capacity: number, onChange: () => void) {
    this.#capacity = Math.max(1, capacity)
    this.#onChange = onChange
    void this.#pump(source)
  }

  async #pump(source: AsyncIterable<T>): Promise<void> {
    try {
      for await (const item of source) {
        this.#buffer.push(item)
        this.#onChange()
        while (this.#buffer.length >= this.#capacity) {
          this.#waiting = true
          this.#onChange()
          await new Promise<void>((resolve) => (this.#wakeProducer = resolve))
          this.#waiting = false
        }
      }
    } catch (err) {
      this.#error = { err }
    }
    this.#done = true
    this.#onChange()
  }

  /** True while the producer is asking its source for an item: not waiting for room, not ended. */
  get fetching(): boolean {
    return !this.#done && !this.#waiting
  }

  /** True once the source has thrown (its error comes after the items it yielded). */
  get failed(): boolean {
    return this.#error !== undefined
  }

  /** The next item; PENDING while none is ready; undefined once the source has ended; the source's error after its items. */
  take(): T | typeof PENDING | undefined {
    if (this.#buffer.length > 0) {
      const item = this.#buffer.shift() as T
      const w = this.#wakeProducer
      this.#wakeProducer = undefined
      w?.()
      return item
    }
    if (this.#error !== undefined) throw this.#error.err
    return this.#done ? undefined : PENDING
  }
}

/**
 * Runs the tasks of `tasks` and yields their items strictly in task order. Tasks are pulled lazily, so later tasks can
 * be planned from what earlier ones found: a new one starts only when fewer than `concurrency` are fetching, and at
 * once, whether or not the consumer is pulling just then (a slow write of the items emitted does not idle a lane). A
 * task that has filled its buffer (`ahead` items) or ended waits to be emitted without holding a place among those
 * fetching, so one that pages on longer than the others does not keep the rest idle; up to `held` such tasks may
 * wait beside the `concurrency` fetching (at most `concurrency + held` in all: the memory bound, and the backpressure:
 * a consumer that stops pulling stops new tasks). Once a task has failed, no new one starts.
 */
export async function* inOrder<T>(tasks: Iterator<AsyncIterable<T>>, concurrency: number, held: number, ahead: number, stop?: AbortSignal): AsyncGenerator<T> {
  const inFlight: Prefetch<T>[] = []
  const places = Math.max(1, concurrency)
  let exhausted = false
  let closed = false
  let planError: { err: unknown } | undefined
  let wake: (() => void) | undefined
  const fetching = (): number => inFlight.reduce((n, p) => n + (p.fetching ? 1 : 0), 0)
  // Once a task has failed, nothing new starts: its error ends the run when its turn comes, after the items before it.
  const room = (): boolean => inFlight.length < places + held && fetching() < places && !inFlight.some((p) => p.failed)
  // Called by the loop and by the tasks' changes, which a Prefetch reports only after an await (never while the plan
  // is being pulled here, so the plan's generator is never re-entered).
  const topUp = (): void => {
    try {
      while (!exhausted && !closed && !stop?.aborted && room()) {
        const t = tasks.next()
        if (t.done === true) exhausted = true
        else inFlight.push(new Prefetch(t.value, ahead, changed))
      }
    } catch (err) {
      planError ??= { err }
      exhausted = true
    }
  }
  function changed(): void {
    topUp()
    const w = wake
    wake = undefined
    w?.()
  }
  try {
    for (;;) {
      topUp()
      if (planError !== undefined) throw planError.err
      const head = inFlight[0]
      if (head === undefined) return
      const item = head.take()
      if (item === PENDING) await new Promise<void>((resolve) => (wake = resolve))
      else if (item === undefined) inFlight.shift()
      else yield item
      if (stop?.aborted) return
    }
  } finally {
    closed = true
    inFlight.length = 0 // abandoned tasks end with the run's signal; nothing of them was emitted
  }
}
