// The repeated-key probe's pure parts: which filters go out as repeated keys, and the comparison of the two answers
// (an honest API with arrivals in between passes; one reading the first key only, or answering an empty page where
// the first order had records, does not; an empty page that goes on proves nothing).
import t from 'tap'
import { parsedRecords, type Page } from '../../src/sources/descriptor.js'
import { ENDPOINTS } from '../../src/sources/index.js'
import { missingFrom, repeatedKeyFilters } from '../../src/sources/probe.js'

const mail = ENDPOINTS.mail
const rec = (sec: number, type = 'message_seen'): Record<string, unknown> => ({ eventType: type, date: new Date(Date.UTC(2026, 5, 10, 11, 0, sec)).toISOString(), uniqId: `${type}-${sec}` })
const page = (recs: Record<string, unknown>[], next: string | null = null): Page => ({ records: parsedRecords(recs, mail.timestamp), next })

t.test('repeatedKeyFilters: mail types and includeUids with two values or more; events (comma lists) and exclusions never', async (t) => {
  const req = (filters: object, ep = mail) => repeatedKeyFilters(ep, { after: 0, before: 1_000_000, token: undefined, pageSize: 100, filters })
  t.same(req({ types: ['a', 'b'], includeUids: ['1', '2'] }), ['types', 'includeUids'])
  t.same(req({ types: ['a'], includeUids: ['1', '2'], excludeUids: ['3', '4'] }), ['includeUids'])
  t.same(req({ excludeUids: ['3', '4'] }), [])
  t.same(req({ types: ['disk_fs-view', 'disk_fs-store'] }, ENDPOINTS.events), [], 'events sends types=a,b: one key')
})

t.test('missingFrom: the comparison of the two answers', async (t) => {
  const seq = [9, 8, 7, 6, 5, 4].map((s) => rec(s))
  // Honest, with two arrivals between the requests: the second page is the first shifted down by two.
  t.equal(missingFrom(page(seq.slice(0, 4), 'x'), page([rec(11), rec(10), ...seq.slice(0, 2)], 'y'), 4), 0, 'arrivals push older records out')
  // First key only: a-records, then b-records interleaved in time.
  const a = [9, 7, 5].map((s) => rec(s, 'a'))
  const b = [8, 6, 4].map((s) => rec(s, 'b'))
  t.equal(missingFrom(page(a), page(b), 100), 3, 'the whole range asked: every a-record is missing from the b answer')
  t.equal(missingFrom(page(a, 'x'), page(b.slice(0, 2), 'y'), 2), 2, 'full pages: the a-records newer than the oldest b-record (9 and 7, not 5)')
  t.equal(missingFrom(page(a), page([]), 100), 3, 'the other order answers nothing')
  t.equal(missingFrom(page(a), page([], 'next'), 100), 0, 'an empty page that goes on is no answer')
  t.equal(missingFrom(page([]), page(b), 100), 0, 'nothing asked first, nothing missing')
})
