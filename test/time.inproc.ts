// time.ts: instants as integer µs; every timestamp format of the three APIs parses to the same instant.
import t from 'tap'
import { formatMicros, formatMillis, parseDuration, parseInstant, parseInstantByPattern, show, utcDay } from '../src/time.js'

const BASE = Date.UTC(2025, 3, 23, 4, 59, 35) * 1000 // 2025-04-23T04:59:35Z in µs

t.test('parseInstant: the three wire formats and every fraction length', async (t) => {
  t.equal(parseInstant('2025-04-23T04:59:35Z'), BASE, 'disk: no fraction')
  t.equal(parseInstant('2025-04-23T04:59:35.118Z'), BASE + 118_000, 'mail: milliseconds')
  t.equal(parseInstant('2025-04-23T04:59:35.173000+00:00'), BASE + 173_000, 'events: µs with +00:00')
  t.equal(parseInstant('2025-04-23T04:59:35.000001+00:00'), BASE + 1, 'one microsecond is kept')
  t.equal(parseInstant('2025-04-23T04:59:35.1Z'), BASE + 100_000)
  t.equal(parseInstant('2025-04-23T04:59:35.12Z'), BASE + 120_000)
  t.equal(parseInstant('2025-04-23T04:59:35.1234Z'), BASE + 123_400)
  t.equal(parseInstant('2025-04-23T04:59:35.12345Z'), BASE + 123_450)
  t.equal(parseInstant('2025-04-23T04:59:35.123456789Z'), BASE + 123_456, 'nanoseconds truncated to µs')
  t.equal(parseInstant('2025-04-23T04:59:35z'), BASE, 'lower-case z')
  t.equal(parseInstant('2025-04-23 04:59:35Z'), BASE, 'space separator')
})

t.test('parseInstant: offsets are applied, so equal instants compare equal whatever their form', async (t) => {
  t.equal(parseInstant('2025-04-23T07:59:35+03:00'), BASE)
  t.equal(parseInstant('2025-04-23T07:59:35+0300'), BASE)
  t.equal(parseInstant('2025-04-22T23:29:35.5-05:30'), BASE + 500_000)
  t.equal(parseInstant('2025-04-23T04:59:35-00:00'), BASE)
  t.equal(parseInstant('2025-04-23T04:59:35'), BASE, 'no zone: read as UTC')
})

t.test('parseInstant: bad input is undefined, never a shifted instant', async (t) => {
  for (const bad of [
    undefined, null, 12345, '', 'yesterday', '2025-04-23', '2025-13-01T00:00:00Z', '2025-04-23T24:00:00Z', '2025-04-23T23:60:00Z',
    '2025-02-30T00:00:00Z', '2025-04-31T12:00:00Z', '2025-04-23T04:59:35.Z', '2025-04-23T04:59:35+3', ' 2025-04-23T04:59:35Z', '2025-00-10T00:00:00Z',
  ]) {
    t.equal(parseInstant(bad), undefined, `rejects ${JSON.stringify(bad)}`)
  }
  t.equal(parseInstant('2024-02-29T00:00:00Z'), Date.UTC(2024, 1, 29) * 1000, 'a real leap day parses')
})

t.test('formatters: ms (truncated) and µs forms round-trip', async (t) => {
  const us = BASE + 173_456
  t.equal(formatMillis(us), '2025-04-23T04:59:35.173Z')
  t.equal(formatMicros(us), '2025-04-23T04:59:35.173456+00:00')
  t.equal(formatMicros(BASE), '2025-04-23T04:59:35.000000+00:00')
  t.equal(formatMicros(BASE + 1), '2025-04-23T04:59:35.000001+00:00')
  t.equal(parseInstant(formatMicros(us)), us)
  t.equal(parseInstant(formatMillis(us)), BASE + 173_000)
  t.equal(show(BASE + 5000), '2025-04-23T04:59:35.005Z')
  t.equal(show(BASE + 5001), '2025-04-23T04:59:35.005001+00:00')
})

t.test('utcDay: boundaries at 00:00:00.000000 and 23:59:59.999999', async (t) => {
  const midnight = Date.UTC(2025, 3, 24) * 1000
  t.equal(utcDay(midnight), '2025-04-24')
  t.equal(utcDay(midnight - 1), '2025-04-23')
  t.equal(utcDay(midnight - 1000), '2025-04-23')
})

t.test('parseDuration', async (t) => {
  t.equal(parseDuration('500ms'), 500)
  t.equal(parseDuration('30s'), 30_000)
  t.equal(parseDuration('2m'), 120_000)
  t.equal(parseDuration('12h'), 43_200_000)
  t.equal(parseDuration('90d'), 7_776_000_000)
  t.equal(parseDuration('1w'), 604_800_000)
  t.equal(parseDuration('1.5h'), 5_400_000)
  t.equal(parseDuration('45'), undefined, 'a bare number is refused (issue 15: minutes in the Python script, seconds before)')
  t.equal(parseDuration('0'), 0, 'zero needs no unit')
  for (const bad of ['', 'm', '2 minutes', '-2m', '2M', 'abc', '1.5']) t.equal(parseDuration(bad), undefined, `rejects ${JSON.stringify(bad)}`)
})

// The fast path of parseInstant takes the APIs' own forms without the pattern: it must decide exactly as the pattern
// does, for those forms and for every near miss (a digit changed, a character dropped or added, another zone).
t.test('parseInstant agrees with the full pattern on the wire forms and on thousands of near misses', async (t) => {
  let seed = 7
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n)
  const pad = (v: number, w: number): string => String(v).padStart(w, '0')
  const chars = '0123456789-:.TZz+ 5'
  let checked = 0
  let parsed = 0
  for (let i = 0; i < 4000; i++) {
    const base = `${pad(1970 + rnd(400), 4)}-${pad(rnd(14), 2)}-${pad(rnd(33), 2)}T${pad(rnd(26), 2)}:${pad(rnd(61), 2)}:${pad(rnd(62), 2)}`
    const frac = ['', '.', `.${pad(rnd(1000), 3)}`, `.${pad(rnd(1_000_000), 6)}`, `.${'1234567890'.slice(0, 1 + rnd(10))}`][rnd(5)]
    const zone = ['Z', 'z', '+00:00', '+03:00', '-00:00', '', '+0000', 'ZZ'][rnd(8)]
    const good = base + frac + zone
    const at = rnd(good.length)
    const mutants = [good, good.slice(0, at) + chars[rnd(chars.length)] + good.slice(at + 1), good.slice(0, at) + good.slice(at + 1), good.slice(0, at) + chars[rnd(chars.length)] + good.slice(at)]
    for (const m of mutants) {
      const want = parseInstantByPattern(m)
      if (parseInstant(m) !== want) t.fail(`${m}: ${parseInstant(m)} vs the pattern's ${want}`)
      checked++
      if (want !== undefined) parsed++
    }
  }
  t.ok(parsed > 2000 && checked - parsed > 2000, `${checked} strings checked, ${parsed} of them valid instants`)
  t.equal(parseInstant('2024-02-29T23:59:59.999999+00:00'), Date.UTC(2024, 1, 29, 23, 59, 59) * 1000 + 999_999)
  t.equal(parseInstant('2025-04-23T04:59:60Z'), parseInstantByPattern('2025-04-23T04:59:60Z'), 'a leap second goes to the pattern')
})
