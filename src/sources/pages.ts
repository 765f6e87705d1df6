/**
 * Page loop. In: a fetch per token. Out: the pages of one query, newest first, one per pull; returns why it stopped.
 * Throws only what the fetch throws (except a 400 on a deep token: the API's depth cap, API.md §4, is a reason).
 * It sees tokens and page sizes, and what the consumer says each page brought (`next(news)`: records not seen before
 * in this pass, and whether the pass needs pages past its budget): a repeated token, a run of pages without a new record that still carry a token, paging without end
 * and a full page without a next token are reasons too; what to do about each is the caller's choice.
 */
import { Y360Error } from '../errors.js'
import { NO_RECORDS, type Page } from './descriptor.js'

/**
 * Why a page loop stopped:
 * - `end`: the last page (no next token);
 * - `budget`: the page budget was spent while records were still coming;
 * - `depth-cap`: the API refused a deep token with a 400 (API.md §4), the records so far are usable;
 * - `repeated-token`: a next token came back that this loop had already followed;
 * - `empty-run`: too many pages in a row without a new record (empty, or only repeats) that still carry a token, or a
 *   whole budget of pages without a record;
 * - `endless`: `hardLimit` pages without an end;
 * - `full-end`: the page without a next token was full (`pageSize` records): a renamed or dropped token field looks
 *   exactly like this, so the caller must check for older records before taking it as the end.
 */
export type PageEnd = 'end' | 'budget' | 'depth-cap' | 'repeated-token' | 'empty-run' | 'endless' | 'full-end'

/** How one page loop ended, with what it saw (for the caller's decisions and messages). */
export interface PageLoopEnd {
  reason: PageEnd
  /** Pages received. */
  pages: number
  /** Records received, repeats and out-of-window ones included. */
  received: number
  /** Pages in a row without a new record, each with a next token, at the end. */
  emptyRun: number
}

export interface PageLoopOptions {
  /** Fetches the page of `token` (undefined: the first page). */
  fetch(token: string | undefined): Promise<Page>
  /** Pages after which the loop stops with `budget` (Infinity: none), unless the consumer asks for `more`. */
  budget: number
  /** Pages without a single record after which the loop stops with `empty-run` (default `budget`). */
  emptyBudget?: number
  /** Pages in a row without a new record, each with a next token, after which the loop stops with `empty-run`. */
  emptyRunLimit: number
  /** Pages after which the loop stops with `endless`, budget or not. */
  hardLimit: number
  /** Records a full page holds: a last page this full ends with `full-end` (Infinity or absent: never). */
  pageSize?: number
}

/**
 * Yields the pages of one query, newest first; its return value says why it stopped. `next(fresh)` tells it how many
 * records of the page just yielded were new to the pass (default: all of them).
 */
export async function* pageLoop(o: PageLoopOptions): AsyncGenerator<Page, PageLoopEnd, PageNews | number | undefined> {
  const seenTokens = new Set<string>()
  let token: string | undefined
  let pages = 0
  let received = 0
  let emptyRun = 0
  let more = false
  const end = (reason: PageEnd): PageLoopEnd => ({ reason, pages, received, emptyRun })
  for (;;) {
    // An API that keeps sending empty pages with fresh tokens never ends; splitting cannot help (API.md §3).
    if (emptyRun >= o.emptyRunLimit || (pages >= (o.emptyBudget ?? o.budget) && received === 0)) return end('empty-run')
    if (pages >= o.budget && !more) return end('budget')
    if (pages >= o.hardLimit) return end('endless')
    let page: Page | undefined
    try {
      page = await o.fetch(token)
    } catch (err) {
      if (token !== undefined && err instanceof Y360Error && err.code === 'BAD_REQUEST') return end('depth-cap')
      throw err
    }
    pages++
    const count = page.records.length
    const next = page.next
    received += count
    const news = yield page
    // The consumer is done with the page: holding it through the next round trip kept every parsed record of the
    // pages in flight alive across collections (the young generation's copying cost most of the GC time:
    // bench/RESULTS.md). Letting go is not enough: a page came back through the exchange's promises, and stayed
    // reachable from the finished exchange for the next collections (measured: emptying it halved what they copied),
    // so it is emptied.
    page.records = NO_RECORDS
    page = undefined
    const fresh = typeof news === 'number' ? news : (news?.fresh ?? count)
    more = typeof news === 'object' && news.more === true
    // An endless token over one record brings the same record again and again: no progress, like empty pages.
    emptyRun = fresh === 0 && next !== null ? emptyRun + 1 : 0
    if (next === null) return end(count >= (o.pageSize ?? Infinity) ? 'full-end' : 'end')
    if (seenTokens.has(next)) return end('repeated-token') // the token just used is in the set too
    seenTokens.add(next)
    token = next
  }
}

/** What a consumer may tell the loop about a page: how many of its records were new to the pass. */
export interface PageNews {
  fresh: number
  /**
   * The pass needs the next page even past its budget: a cut now would re-read at least a page (its oldest instant
   * holds a page of records or more, a burst that must be read whole anyway). `hardLimit` still applies.
   */
  more?: boolean
}

/** Drives `loop` to its end, handing each page to `onPage` (which may say what was new); resolves to how the loop ended. */
export async function eachPage(loop: AsyncGenerator<Page, PageLoopEnd, PageNews | number | undefined>, onPage: (page: Page) => PageNews | unknown): Promise<PageLoopEnd> {
  let told: PageNews | undefined
  for (;;) {
    const r = await loop.next(told)
    if (r.done === true) return r.value
    const news = onPage(r.value) // pageLoop empties the page once this returns: holding `r` holds nothing
    told = typeof news === 'object' && news !== null && typeof (news as PageNews).fresh === 'number' ? (news as PageNews) : undefined
  }
}
