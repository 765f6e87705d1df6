/** Bounded concurrency, neutral: run an async function over a list with at most `n` calls at once. */

/**
 * Runs `fn` for every item, at most `concurrency` at once (at least one), starting them in the items' order; resolves
 * once every call settled, with each call's outcome in the items' order (a rejection does not stop the others).
 */
export async function settleLimited<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results = new Array<PromiseSettledResult<R>>(items.length)
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i], i) }
      } catch (reason) {
        results[i] = { status: 'rejected', reason }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane))
  return results
}

/** `settleLimited`'s values in the items' order; throws the first rejection in that order, once every call settled. */
export async function mapLimited<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  return (await settleLimited(items, concurrency, fn)).map((r) => {
    if (r.status === 'rejected') throw r.reason
    return r.value
  })
}
