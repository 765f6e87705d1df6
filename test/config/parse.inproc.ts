// The option parsers, one row per case: text in → value, or the exact messages (which users read in CONFIG_INVALID).
import t from 'tap'
import {
  directory, duration, fileNamePart, int, list, oneOf, optional, path, positiveInt, single, subsetOf, text, timePoint, url, zone,
  type Parsed, type Parser,
} from '../../src/config/parse.js'

const NOW = Date.UTC(2025, 8, 10, 12) // 2025-09-10T12:00:00Z
const CTX = { flag: 'x', cwd: '/work/here', now: NOW, zone: 'UTC' }
const MSK = { ...CTX, zone: 'Europe/Moscow' } // UTC+3 all year
const us = (iso: string): number => Date.parse(iso) * 1000

type Want = { value: unknown } | { messages: string[]; partial?: unknown }
const cases: [string, Parser<unknown>, string, Want, typeof CTX?][] = [
  ['int in range', int(1, 32), '8', { value: 8 }],
  ['int at min', int(1, 32), '1', { value: 1 }],
  ['int at max', int(1, 32), '32', { value: 32 }],
  ['int below min', int(1, 32), '0', { messages: ['--x must be an integer from 1 to 32, got "0"'] }],
  ['int above max', int(0, 100), '101', { messages: ['--x must be an integer from 0 to 100, got "101"'] }],
  ['int negative', int(0, 100), '-1', { messages: ['--x must be an integer from 0 to 100, got "-1"'] }],
  ['int fraction', int(1, 32), '1.5', { messages: ['--x must be an integer from 1 to 32, got "1.5"'] }],
  ['int blank', int(1, 32), '', { messages: ['--x must be an integer from 1 to 32, got ""'] }],
  ['positive id', positiveInt('the id', 'ID / --x'), '123', { value: 123 }],
  ['positive id zero', positiveInt('the id', 'ID / --x'), '0', { messages: ['the id must be a positive integer, got "0" (ID / --x)'] }],
  ['positive id with letters', positiveInt('the id', 'ID / --x'), '12ab', { messages: ['the id must be a positive integer, got "12ab" (ID / --x)'] }],
  ['positive id beyond 2^53', positiveInt('the id', 'ID / --x'), '9007199254740993', { messages: ['the id must be a positive integer, got "9007199254740993" (ID / --x)'] }],
  ['duration minutes', duration(), '2m', { value: 120_000 }],
  ['duration ms', duration(), '500ms', { value: 500 }],
  ['duration days', duration(), '90d', { value: 90 * 86_400_000 }],
  // Issue 15: a bare number is refused (the Python script read minutes, earlier versions seconds); 0 needs no unit.
  ['duration bare number is refused', duration(), '30', { messages: ['--x 30 has no unit (the Python script read minutes, earlier versions of this tool seconds): write 30m, 1800s or 30s; accepted: 500ms, 30s, 15m, 12h, 90d, 1w'] }],
  ['duration zero', duration(), '0', { value: 0 }],
  ['duration word', duration(), 'soon', { messages: ['--x must be a duration like 30s, 2m, 12h or 90d, got "soon"'] }],
  ['duration blank', duration(), '', { messages: ['--x must be a duration like 30s, 2m, 12h or 90d, got ""'] }],
  ['oneOf hit', oneOf(['compact', 'seed']), 'seed', { value: 'seed' }],
  ['oneOf is case-sensitive', oneOf(['compact', 'seed']), 'SEED', { messages: ['--x must be compact or seed, got "SEED"'] }],
  ['oneOf of four', oneOf(['debug', 'info', 'warn', 'error']), 'loud', { messages: ['--x must be debug, info, warn or error, got "loud"'] }],
  ['oneOf described', oneOf(['Web', 'Api'], 'one of Web, Api'), 'web', { messages: ['--x must be one of Web, Api, got "web"'] }],
  ['list trims and drops blanks', list(), ' a, b,,c ', { value: ['a', 'b', 'c'] }],
  ['list of nothing is unset', list(), ' , ', { value: undefined }],
  ['subset keeps the order given', subsetOf(['mail', 'disk', 'events'], 'source'), 'events,disk', { value: ['events', 'disk'] }],
  ['subset: each unknown item, the known ones kept', subsetOf(['mail', 'disk', 'events'], 'source'), 'mail,calendar,chat', { partial: ['mail'], messages: ['--x: unknown source "calendar" (known: mail, disk, events)', '--x: unknown source "chat" (known: mail, disk, events)'] }],
  ['subset of nothing is unset', subsetOf(['mail'], 'source'), ',', { value: undefined }],
  ['single value', single('address'), '192.0.2.1', { value: '192.0.2.1' }],
  ['single refuses a list', single('address'), '192.0.2.1,192.0.2.2', { messages: ['--x takes one address, got "192.0.2.1,192.0.2.2"'] }],
  ['file name part', fileNamePart('the base'), 'mail_audit', { value: 'mail_audit' }],
  ['file name part with ..', fileNamePart('the base'), '../../etc/passwd', { messages: ['the base "../../etc/passwd" must be a plain file name part (no /, \\, .. or NUL)'] }],
  ['file name part with a backslash', fileNamePart('the base'), 'a\\b', { messages: ['the base "a\\b" must be a plain file name part (no /, \\, .. or NUL)'] }],
  ['file name part with NUL, shown escaped', fileNamePart('the base'), 'js\0n', { messages: ['the base "js\\0n" must be a plain file name part (no /, \\, .. or NUL)'] }],
  ['file name part blank', fileNamePart('the base'), '', { messages: ['the base "" must be a plain file name part (no /, \\, .. or NUL)'] }],
  ['relative path', path(), 'state/cursor.json', { value: '/work/here/state/cursor.json' }],
  ['absolute path', path(), '/var/lib/c.json', { value: '/var/lib/c.json' }],
  ['directory: trailing slash stripped', directory(), 'm/', { value: '/work/here/m' }],
  ['directory: trailing backslash and doubled slashes stripped', directory(), '/data/e\\//', { value: '/data/e' }],
  ['directory: the root stays the root', directory(), '//', { value: '/' }],
  ['zone', zone(), 'Europe/Moscow', { value: 'Europe/Moscow' }],
  ['zone unknown', zone(), 'Mars/Olympus', { messages: ['--x must be an IANA zone like Europe/Moscow, got "Mars/Olympus"'] }],
  ['url loopback http, trailing slash dropped', url(), 'http://127.0.0.1:8080/', { value: 'http://127.0.0.1:8080' }],
  ['url localhost http', url(), 'http://localhost:8080', { value: 'http://localhost:8080' }],
  ['url ::1 http', url(), 'http://[::1]:8080', { value: 'http://[::1]:8080' }],
  ['url https with a path', url(), 'https://proxy.example.org/api360/', { value: 'https://proxy.example.org/api360' }],
  ['url plain http elsewhere', url(), 'http://10.0.0.1', { messages: ['--x must use https: (plain http: is allowed only for loopback addresses), got http://10.0.0.1'] }],
  ['url loopback look-alike', url(), 'http://127.0.0.1.evil.example', { messages: ['--x must use https: (plain http: is allowed only for loopback addresses), got http://127.0.0.1.evil.example'] }],
  ['url other scheme', url(), 'ftp://api360.yandex.net', { messages: ['--x must be an https: URL, got ftp:'] }],
  ['url with credentials', url(), 'https://u:p@x.example.org', { messages: ['--x must not contain credentials'] }],
  ['url with credentials over plain http: both', url(), 'http://u:p@example.org', { messages: ['--x must not contain credentials', '--x must use https: (plain http: is allowed only for loopback addresses), got http://example.org'] }],
  ['url not a URL', url(), 'api360', { messages: ['--x is not a URL: "api360"'] }],
  ['time: now', timePoint(), 'now', { value: NOW * 1000 }],
  ['time: today in UTC', timePoint(), 'today', { value: us('2025-09-10T00:00:00Z') }],
  ['time: today in Moscow', timePoint(), 'today', { value: us('2025-09-09T21:00:00Z') }, MSK],
  ['time: yesterday in Moscow', timePoint(), 'yesterday', { value: us('2025-09-08T21:00:00Z') }, MSK],
  ['time: relative', timePoint(), '-12h', { value: (NOW - 12 * 3_600_000) * 1000 }],
  ['time: a date is midnight in the zone', timePoint(), '2025-09-01', { value: us('2025-08-31T21:00:00Z') }, MSK],
  ['time: an instant with its offset ignores the zone', timePoint(), '2025-09-01T00:00:00Z', { value: us('2025-09-01T00:00:00Z') }, MSK],
  ['time: microseconds kept', timePoint(), '2025-09-01T00:00:00.123456Z', { value: us('2025-09-01T00:00:00.123Z') + 456 }],
  ['time: garbage', timePoint(), 'soon', { messages: ['--x must be an ISO date or instant, -7d / -12h, today or yesterday, got "soon"'] }],
  ['time: bad relative', timePoint(), '-7 weeks', { messages: ['--x must be an ISO date or instant, -7d / -12h, today or yesterday, got "-7 weeks"'] }],
  ['optional: blank is unset', optional(int(1, 32)), '', { value: undefined }],
  ['optional: text goes to the parser', optional(int(1, 32)), '40', { messages: ['--x must be an integer from 1 to 32, got "40"'] }],
  ['text as given', text(), 'y0_abc', { value: 'y0_abc' }],
]

const shown = (r: Parsed<unknown>): Want => (r.ok ? { value: r.value } : r.partial === undefined ? { messages: [...r.messages] } : { partial: r.partial, messages: [...r.messages] })

for (const [name, parser, input, want, ctx] of cases) {
  t.test(name, async (t) => {
    t.strictSame(shown(parser(input, ctx ?? CTX)), want, JSON.stringify(input))
  })
}
