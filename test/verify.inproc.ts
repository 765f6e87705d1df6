// src/verify.ts verifyArchive in-process on hand-made day files: the whole report (counts, span, every problem with
// file, line, kind and detail) for a clean archive and for each kind of damage; late arrivals within the tolerance pass.
import t from 'tap'
import { join } from 'node:path'
import { ENDPOINTS } from '../src/sources/index.js'
import { verifyArchive } from '../src/verify.js'

const MIN_US = 60_000_000
const rec = (iso: string, id: string): string => JSON.stringify({ eventType: 'message_seen', date: iso, uniqId: id }) + '\n'
const verify = (dir: string, days: string[], tol = 2 * MIN_US) => verifyArchive(ENDPOINTS.mail, days.map((day) => ({ day, path: join(dir, `mail_audit_${day}.json`) })), 'UTC', tol)

t.test('a clean archive: counts and span, no problem; a late arrival within the tolerance passes', async (t) => {
  const dir = t.testdir({
    'mail_audit_2026-10-01.json': rec('2026-10-01T10:00:00.000Z', '1') + rec('2026-10-01T23:59:59.999Z', '2') + rec('2026-10-01T23:58:30.000Z', 'late'),
    'mail_audit_2026-10-02.json': rec('2026-10-02T00:00:00.000Z', '3') + '\n',
  })
  t.same(await verify(dir, ['2026-10-01', '2026-10-02']), { source: 'mail', files: 2, records: 4, problems: [], problemCount: 0, byKind: {}, first: '2026-10-01T10:00:00.000Z', last: '2026-10-02T00:00:00.000Z' })
  t.same(await verify(dir, []), { source: 'mail', files: 0, records: 0, problems: [], problemCount: 0, byKind: {} }, 'no files: nothing to report')
})

t.test('each kind of damage is reported with its file, line and detail', async (t) => {
  const long = 'x'.repeat(90)
  const dir = t.testdir({
    'mail_audit_2026-10-01.json': [
      rec('2026-10-01T10:00:00.000Z', '1'),
      `{"broken": ${long}\n`,
      JSON.stringify({ uniqId: 'no-date' }) + '\n',
      rec('2026-10-01T12:00:00.000Z', '2'),
      rec('2026-10-01T12:00:00.000Z', '2'),
      rec('2026-10-01T11:00:00.000Z', '3'),
      rec('2026-10-02T01:00:00.000Z', '4'),
    ].join(''),
    'mail_audit_2026-10-02.json': rec('2026-10-02T02:00:00.000Z', '5') + '{"date":"2026-10-02T0',
  })
  const a = join(dir, 'mail_audit_2026-10-01.json')
  const b = join(dir, 'mail_audit_2026-10-02.json')
  t.same(await verify(dir, ['2026-10-01', '2026-10-02']), {
    source: 'mail',
    files: 2,
    records: 6,
    first: '2026-10-01T10:00:00.000Z',
    last: '2026-10-02T02:00:00.000Z',
    problemCount: 7,
    byKind: { unparseable: 2, 'no-timestamp': 1, duplicate: 1, 'out-of-order': 1, 'wrong-day': 1, 'torn-tail': 1 },
    problems: [
      { file: a, line: 2, kind: 'unparseable', detail: `{"broken": ${long}`.slice(0, 80) },
      { file: a, line: 3, kind: 'no-timestamp', detail: '{"uniqId":"no-date"}' },
      { file: a, line: 5, kind: 'duplicate', detail: '2026-10-01T12:00:00.000Z appears twice' },
      { file: a, line: 6, kind: 'out-of-order', detail: '2026-10-01T11:00:00.000Z after 2026-10-01T12:00:00.000Z' },
      { file: a, line: 7, kind: 'wrong-day', detail: '2026-10-02T01:00:00.000Z belongs to 2026-10-02' },
      { file: b, line: 2, kind: 'unparseable', detail: '{"date":"2026-10-02T0' },
      { file: b, line: 2, kind: 'torn-tail', detail: 'the last line has no newline (an interrupted write)' },
    ],
  })
})

t.test('a 5 MB line without newline ends that file only; the next files are still checked', async (t) => {
  const dir = t.testdir({
    'mail_audit_2026-10-01.json': rec('2026-10-01T23:59:00.000Z', '1') + 'A'.repeat(5 * 1024 * 1024),
    'mail_audit_2026-10-02.json': rec('2026-10-01T23:59:00.000Z', '1').replace('2026-10-01T23:59', '2026-10-02T00:00') + rec('2026-10-02T00:00:00.000Z', '2'),
    'mail_audit_2026-10-03.json': rec('2026-10-03T00:00:00.000Z', '9') + rec('2026-10-03T00:00:00.000Z', '9'),
  })
  const r = await verify(dir, ['2026-10-01', '2026-10-02', '2026-10-03'])
  t.same(r.problems, [
    { file: join(dir, 'mail_audit_2026-10-01.json'), line: 2, kind: 'unparseable', detail: 'a line longer than 1048576 bytes; the rest of this file was not checked' },
    { file: join(dir, 'mail_audit_2026-10-01.json'), line: 2, kind: 'torn-tail', detail: 'the last line has no newline (an interrupted write)' },
    { file: join(dir, 'mail_audit_2026-10-03.json'), line: 2, kind: 'duplicate', detail: '2026-10-03T00:00:00.000Z appears twice' },
  ])
  t.equal(r.records, 5, 'the files after the long line are still checked')
})

t.test('the tolerance bounds how far a late arrival may step back', async (t) => {
  const dir = t.testdir({ 'mail_audit_2026-10-01.json': rec('2026-10-01T10:05:00.000Z', '1') + rec('2026-10-01T10:02:00.000Z', '2') })
  t.same((await verify(dir, ['2026-10-01'], 3 * MIN_US)).problems, [], '3 minutes back within a 3-minute tolerance')
  t.same((await verify(dir, ['2026-10-01'], 2 * MIN_US)).problems.map((p) => [p.line, p.kind]), [[2, 'out-of-order']])
})
