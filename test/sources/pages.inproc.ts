// The page loop over scripted pages (an injected fetch): it follows tokens, takes an empty page with a token as a
// page (not the end), and ends with a typed reason: the last page, the budget, the API's depth cap (a 400 on a deep
// token only), a repeated token, a run of empty pages, or paging without end. Fetches nothing beyond its end.
import t from 'tap'
import { Y360Error } from '../../src/errors.js'
import { parsedRecords, type Page, type PageRecords } from '../../src/sources/descriptor.js'
import { eachPage, pageLoop, type PageLoopOptions } from '../../src/sources/pages.js'

type Script = (token: string | undefined, call: number) => Page

async function drive(script: Script, o: Partial<PageLoopOptions> = {}): Promise<{ end: unknown; asked: (string | undefined)[]; got: number[] }> {
  const asked: (string | undefined)[] = []
  const got: number[] = []
  const fetch = async (token: string | undefined): Promise<Page> => {
    asked.push(token)
    return script(token, asked.length)
  }
  const end = await eachPage(pageLoop({ fetch, budget: Infinity, emptyRunLimit: 10, hardLimit: 1000, ...o }), (p) => got.push(p.records.length))
  return { end, asked, got }
}

const recs = (n: number): PageRecords => parsedRecords(Array.from({ length: n }, (_, i) => ({ i })), () => undefined)
/** Pages of `sizes`, tokens p1, p2…, the last without a token. */
const pagesOf = (...sizes: number[]): Script => (_token, call) => ({ records: recs(sizes[call - 1]), next: call < sizes.length ? `p${call}` : null })

t.test('page loop: how each kind of paging ends', async (t) => {
  const refuseDeep: Script = (token, call) => {
    if (token === 'p2') throw new Y360Error('BAD_REQUEST', 'mail: the API refused the request (400: page too deep)')
    return { records: recs(3), next: `p${call}` }
  }
  const cases: { name: string; script: Script; o?: Partial<PageLoopOptions>; want: object }[] = [
    { name: 'to the last page', script: pagesOf(3, 3, 1), want: { end: { reason: 'end', pages: 3, received: 7, emptyRun: 0 }, asked: [undefined, 'p1', 'p2'], got: [3, 3, 1] } },
    { name: 'an empty result', script: pagesOf(0), want: { end: { reason: 'end', pages: 1, received: 0, emptyRun: 0 }, asked: [undefined], got: [0] } },
    { name: 'an empty page with a token mid-result is followed', script: pagesOf(3, 0, 2), want: { end: { reason: 'end', pages: 3, received: 5, emptyRun: 0 }, asked: [undefined, 'p1', 'p2'], got: [3, 0, 2] } },
    { name: 'the budget', script: pagesOf(3, 3, 3, 3), o: { budget: 2 }, want: { end: { reason: 'budget', pages: 2, received: 6, emptyRun: 0 }, asked: [undefined, 'p1'], got: [3, 3] } },
    { name: 'a whole budget without a record', script: pagesOf(0, 0, 0, 3), o: { budget: 2 }, want: { end: { reason: 'empty-run', pages: 2, received: 0, emptyRun: 2 }, asked: [undefined, 'p1'], got: [0, 0] } },
    { name: 'empty pages with fresh tokens, forever', script: (_t, call) => ({ records: recs(0), next: `e${call}` }), o: { emptyRunLimit: 4 }, want: { end: { reason: 'empty-run', pages: 4, received: 0, emptyRun: 4 }, asked: [undefined, 'e1', 'e2', 'e3'], got: [0, 0, 0, 0] } },
    { name: 'the same token again', script: (_t, call) => ({ records: recs(2), next: call === 1 ? 'A' : 'A' }), want: { end: { reason: 'repeated-token', pages: 2, received: 4, emptyRun: 0 }, asked: [undefined, 'A'], got: [2, 2] } },
    { name: 'an older token again', script: (_t, call) => ({ records: recs(1), next: ['A', 'B', 'A'][call - 1] }), want: { end: { reason: 'repeated-token', pages: 3, received: 3, emptyRun: 0 }, asked: [undefined, 'A', 'B'], got: [1, 1, 1] } },
    { name: 'the depth cap: a 400 on a deep token', script: refuseDeep, want: { end: { reason: 'depth-cap', pages: 2, received: 6, emptyRun: 0 }, asked: [undefined, 'p1', 'p2'], got: [3, 3] } },
    { name: 'paging without end', script: (_t, call) => ({ records: recs(1), next: `n${call}` }), o: { hardLimit: 5 }, want: { end: { reason: 'endless', pages: 5, received: 5, emptyRun: 0 }, asked: [undefined, 'n1', 'n2', 'n3', 'n4'], got: [1, 1, 1, 1, 1] } },
  ]
  for (const c of cases) t.same(await drive(c.script, c.o), c.want, c.name)
})

t.test('page loop: errors other than a deep 400 are thrown', async (t) => {
  const first400 = new Y360Error('BAD_REQUEST', 'mail: the API refused the request (400: bad afterDate)')
  await t.rejects(drive(() => { throw first400 }), first400, 'a 400 on the first page is a bad request, not a depth cap')
  const down = new Y360Error('API_UNAVAILABLE', 'mail: the API kept failing')
  await t.rejects(drive((token) => { if (token === 'p1') throw down; return { records: recs(1), next: 'p1' } }), down, 'a failure on a deep page is thrown')
})

t.test('page loop: nothing is fetched until pulled', async (t) => {
  let calls = 0
  const loop = pageLoop({ fetch: async (token) => (calls++, { records: recs(1), next: token === undefined ? 'p1' : null }), budget: Infinity, emptyRunLimit: 10, hardLimit: 10 })
  t.equal(calls, 0)
  await loop.next()
  t.equal(calls, 1, 'one page per pull')
  await loop.next()
  t.equal(calls, 2)
  t.same(await loop.next(), { done: true, value: { reason: 'end', pages: 2, received: 2, emptyRun: 0 } })
})
