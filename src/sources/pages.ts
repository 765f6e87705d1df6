/**
 * Page loop. In: a fetch per token. Out: the pages of one query, newest first, one per pull; returns why it stopped.
 * Throws only what the fetch throws (except a 400 on a deep token: the API's depth cap, API.md §4, is a reason).
 * It sees tokens and page sizes only: a repeated token, a run of empty pages that still carry a token and paging
 * without end are reasons too; what to do about each is the caller's choice.
 */
import { Y360Error } from '../errors.js'
import type { Page } from './descriptor.js'

/**
 * Why a page loop stopped:
 * - `end`: the last page (no next token);
 * - `budget`: the page budget was spent while records were still coming;
 * - `depth-cap`: the API refused a deep token with a 400 (API.md §4), the records so far are usable;
 * - `repeated-token`: a next token came back that this loop had already followed;
 * - `empty-run`: too many empty pages in a row that still carry a token, or a whole budget of pages without a record;
 * - `endless`: `hardLimit` pages without an end.
 */
export type PageEnd = 'end' | 'budget' | 'depth-cap' | 'repeated-token' | 'empty-run' | 'endless'

/** How one page loop ended, with what it saw (for the caller's decisions and messages). */
export interface PageLoopEnd {
  reason: PageEnd
  /** Pages received. */
  pages: number
  /** Records received, repeats and out-of-window ones included. */
  received: number
  /** Empty pages in a row, each with a next token, at the end. */
  emptyRun: number
}

export interface PageLoopOptions {
  /** Fetches the page of `token` (undefined: the first page). */
  fetch(token: string | undefined): Promise<Page>
  /** Pages after which the loop stops with `budget` (Infinity: none). */
  budget: number
  /** Empty pages in a row with a next token after which the loop stops with `empty-run`. */
  emptyRunLimit: number
  /** Pages after which the loop stops with `endless`, budget or not. */
  hardLimit: number
}

/** Yields the pages of one query, newest first; its return value says why it stopped. */
export async function* pageLoop(o: PageLoopOptions): AsyncGenerator<Page, PageLoopEnd, undefined> {
  const seenTokens = new Set<string>()
  let token: string | undefined
  let pages = 0
  let received = 0
  let emptyRun = 0
  const end = (reason: PageEnd): PageLoopEnd => ({ reason, pages, received, emptyRun })
  for (;;) {
    // An API that keeps sending empty pages with fresh tokens never ends; splitting cannot help (API.md §3).
    if (emptyRun >= o.emptyRunLimit || (pages >= o.budget && received === 0)) return end('empty-run')
    if (pages >= o.budget) return end('budget')
    if (pages >= o.hardLimit) return end('endless')
    let page: Page
    try {
      page = await o.fetch(token)
    } catch (err) {
      if (token !== undefined && err instanceof Y360Error && err.code === 'BAD_REQUEST') return end('depth-cap')
      throw err
    }
    pages++
    received += page.records.length
    emptyRun = page.records.length === 0 && page.next !== null ? emptyRun + 1 : 0
    yield page
    if (page.next === null) return end('end')
    if (seenTokens.has(page.next)) return end('repeated-token') // the token just used is in the set too
    seenTokens.add(page.next)
    token = page.next
  }
}

/** Drives `loop` to its end, handing each page to `onPage`; resolves to how the loop ended. */
export async function eachPage(loop: AsyncGenerator<Page, PageLoopEnd, undefined>, onPage: (page: Page) => void): Promise<PageLoopEnd> {
  for (;;) {
    const r = await loop.next()
    if (r.done === true) return r.value
    onPage(r.value)
  }
}
