/**
 * Prefetch: runs an async iterator ahead of its consumer, holding at most `capacity` items; the producer waits while
 * the buffer is full, so a window fetched ahead costs a bounded amount of memory. Errors surface on the next `next()`.
 */
export class Prefetch<T> {
  readonly #buffer: T[] = []
  readonly #capacity: number
  #done = false
  #error: { err: unknown } | undefined
  #wakeConsumer: (() => void) | undefined
  #wakeProducer: (() => void) | undefined

  constructor(source: AsyncIterable<T>, capacity: number) {
    this.#capacity = Math.max(1, capacity)
    void this.#pump(source)
  }

  async #pump(source: AsyncIterable<T>): Promise<void> {
    try {
      for await (const item of source) {
        this.#buffer.push(item)
        this.#wake()
        while (this.#buffer.length >= this.#capacity) await new Promise<void>((resolve) => (this.#wakeProducer = resolve))
      }
    } catch (err) {
      this.#error = { err }
    }
    this.#done = true
    this.#wake()
  }

  #wake(): void {
    const w = this.#wakeConsumer
    this.#wakeConsumer = undefined
    w?.()
  }

  /** The next item, or undefined when the source is exhausted; rethrows the source's error after its items. */
  async next(): Promise<T | undefined> {
    for (;;) {
      if (this.#buffer.length > 0) {
        const item = this.#buffer.shift() as T
        const w = this.#wakeProducer
        this.#wakeProducer = undefined
        w?.()
        return item
      }
      if (this.#error !== undefined) throw this.#error.err
      if (this.#done) return undefined
      await new Promise<void>((resolve) => (this.#wakeConsumer = resolve))
    }
  }
}

/**
 * Runs the tasks of `tasks` (pulled lazily, so later tasks can be planned from earlier results) with at most
 * `concurrency` in flight, each buffered `ahead` items deep, and yields their items strictly in task order.
 */
export async function* inOrder<T>(tasks: Iterator<AsyncIterable<T>>, concurrency: number, ahead: number, stop?: AbortSignal): AsyncGenerator<T> {
  const inFlight: Prefetch<T>[] = []
  let exhausted = false
  try {
    for (;;) {
      while (!exhausted && inFlight.length < concurrency && !stop?.aborted) {
        const t = tasks.next()
        if (t.done === true) exhausted = true
        else inFlight.push(new Prefetch(t.value, ahead))
      }
      const head = inFlight[0]
      if (head === undefined) return
      const item = await head.next()
      if (item === undefined) inFlight.shift()
      else yield item
      if (stop?.aborted) return
    }
  } finally {
    inFlight.length = 0 // abandoned tasks end with the run's signal; nothing of them was emitted
  }
}
