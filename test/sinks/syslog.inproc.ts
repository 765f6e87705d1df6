// RFC 5424 framing (octet counting) byte for byte, SD escaping, header sanitising; the --syslog option's parsing and
// rules (udp:// refused, --syslog-ca needs tls://, no --since beside the archive, not with --stdout).
import t from 'tap'
import { frame, formatMessage, headerField, pri, sdEscape } from '../../src/sinks/rfc5424.js'
import { readConfig } from '../../src/config.js'

const header = { facility: 'local0', severity: 'info', hostname: 'collector-1', appName: 'y360-audit' } as const

t.test('a message and its frame, byte for byte', async (t) => {
  const us = Date.UTC(2024, 4, 1, 12, 34, 56, 789) * 1000 + 12
  const msg = '{"uniqId":"u1","text":"Привет"}'
  const text = formatMessage(header, { us, msgId: 'mail', params: [['org', '42'], ['id', 'u1']], msg })
  t.equal(text, '<134>1 2024-05-01T12:34:56.789012Z collector-1 y360-audit - mail [y360@32473 org="42" id="u1"] {"uniqId":"u1","text":"Привет"}')
  const f = frame(header, { us, msgId: 'mail', params: [['org', '42'], ['id', 'u1']], msg })
  const len = Buffer.byteLength(text)
  t.equal(f.toString('utf8'), `${len} ${text}`, 'octet count = the message length in bytes (Cyrillic counts 2 a letter)')
  t.ok(len > text.length)
})

t.test('SD values escape " \\ and ] (RFC 5424 §6.3.3); header fields are printable ASCII without spaces', async (t) => {
  const cases: [string, string][] = [['plain', 'plain'], ['a"b', 'a\\"b'], ['a\\b', 'a\\\\b'], ['a]b', 'a\\]b'], ['[x]', '[x\\]'], ['"\\]', '\\"\\\\\\]']]
  for (const [input, want] of cases) t.equal(sdEscape(input), want, JSON.stringify(input))
  t.equal(headerField('my host', 255), 'myhost')
  t.equal(headerField('хост', 255), '-', 'nothing printable left: NILVALUE')
  t.equal(headerField('x'.repeat(300), 255).length, 255)
  t.equal(pri('local0', 'info'), 134)
  t.equal(pri('auth', 'warning'), 36)
  t.equal(pri('kern', 'emerg'), 0)
})

const base = { env: { OAUTH_TOKEN_ARG: 'y0_x', ORGANIZATION_ID_ARG: '5', Y360_LOG_FILE: '' }, now: () => Date.UTC(2024, 0, 10) }
const problems = (argv: string[], cwd = '/tmp'): string[] => readConfig({ ...base, argv, cwd }).problems.map((p) => p.message)

t.test('--syslog: URLs, rules and defaults', async (t) => {
  const ok = readConfig({ ...base, argv: ['--syslog', 'tcp://127.0.0.1:514', '--sources', 'mail'], cwd: '/tmp' })
  t.same(ok.problems, [])
  t.same(ok.config.syslog, { protocol: 'tcp', host: '127.0.0.1', port: 514 })
  t.same([ok.config.syslogFacility, ok.config.syslogSeverity, ok.config.syslogAckEvery, ok.config.syslogRetries, ok.config.syslogRetryDelayMs], ['local0', 'info', 1000, 8, 1000])
  t.same(ok.config.sources.map((s) => [s.name, s.dir]), [['mail', '']], 'alone: sources from --sources, no directory')
  t.same(readConfig({ ...base, argv: ['--syslog', 'tls://[::1]:6514'], cwd: '/tmp' }).config.syslog, { protocol: 'tls', host: '::1', port: 6514 })
  t.match(problems(['--syslog', 'udp://127.0.0.1:514', '--sources', 'mail']), [/udp:\/\/ is refused: UDP drops messages silently/])
  t.match(problems(['--syslog', 'tcp://127.0.0.1', '--sources', 'mail']), [/needs a port/])
  t.match(problems(['--syslog', 'http://x:1', '--sources', 'mail']), [/must start with tcp:\/\/ or tls:\/\//])
  t.match(problems(['--syslog', 'tcp://h:1', '--syslog-ca', 'ca.pem', '--sources', 'mail']), [/--syslog-ca needs a --syslog tls:/])
  t.match(problems(['--syslog', 'tcp://h:1', '--stdout', '--sources', 'mail']), [/cannot be combined with --stdout/])
  t.match(problems(['--syslog', 'tcp://h:1', '--syslog-facility', 'local9', '--sources', 'mail']), [/--syslog-facility must be a facility name/])
  t.match(problems(['--syslog', 'tcp://h:1']), [/no source to run: pass --sources/])
  const dir = t.testdir()
  t.match(problems(['--syslog', 'tcp://h:1', '--mail-dir', dir, '--since', '-1d'], dir), [/--since cannot be combined with --syslog beside archive directories/])
  t.match(problems(['--mail-dir', dir, '--state-file', 's.json'], dir), [/--state-file needs --stdout/])
  t.same(problems(['--syslog', 'tcp://h:1', '--sources', 'mail', '--state-file', 's.json']), [], '--state-file with --syslog alone')
})
