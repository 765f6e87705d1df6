// Cross-field rules and the layer's shape checks, one row per case: options in → the problems as values
// ({option, value, message}), in the order they are reported. Each row fails if its rule is dropped or reworded.
import t from 'tap'
import { join } from 'node:path'
import { readConfig, type Problem } from '../../src/config.js'

const NOW = Date.UTC(2025, 8, 10, 12)
const TOKEN = 'y0_rules-token-0123456789'
const ENV = { OAUTH_TOKEN_ARG: TOKEN, ORGANIZATION_ID_ARG: '5' }
const P = (option: string | undefined, value: string | undefined, message: string): Problem => ({ option, value, message })

const cases: [string, string[], Record<string, string>, Problem[]][] = [
  ['valid: a mail archive', ['--mail-dir', 'm'], {}, []],
  ['valid: stdout with --sources needs no directory', ['--stdout', '--sources', 'disk,events', '--state-file', 'c.json', '--tag-source'], {}, []],
  ['unknown flag, stray argument, missing value, value on a switch', ['--bogus', 'extra', '--mail-dir', 'm', '--quiet=yes', '--org'], {}, [
    P(undefined, '--bogus', 'unknown option --bogus; see --help'),
    P(undefined, 'extra', 'unexpected argument "extra"; see --help'),
    P('quiet', 'yes', '--quiet takes no value'),
    P('org', undefined, '--org needs a value'),
  ]],
  ['required in fetch: token and org', ['--mail-dir', 'm'], { OAUTH_TOKEN_ARG: '', ORGANIZATION_ID_ARG: ' ' }, [
    P('token', undefined, 'no OAuth token: set OAUTH_TOKEN_ARG (environment or .env) or pass --token'),
    P('org', '', 'no organisation id: set ORGANIZATION_ID_ARG (environment or .env) or pass --org'),
  ]],
  ['the token pasted as the org: scrubbed from value and message', ['--mail-dir', 'm', '--org', TOKEN], {}, [
    P('org', '[REDACTED]', 'the organisation id must be a positive integer, got "[REDACTED]" (ORGANIZATION_ID_ARG / --org)'),
  ]],
  ['no source: archive mode names the variables', [], {}, [
    P(undefined, undefined, 'no source to run: set at least one of MAIL_LOG_CATALOG_LOCATION, DISK_LOG_CATALOG_LOCATION, NEW_LOG_CATALOG_LOCATION (or --mail-dir, --disk-dir, --events-dir)'),
  ]],
  ['no source: stdout mode asks for --sources', ['--stdout'], {}, [P('sources', undefined, 'no source to run: pass --sources mail,disk,events')]],
  ['an unknown source keeps the known ones (no phantom "no source")', ['--stdout', '--sources', 'mail,calendar'], {}, [
    P('sources', 'mail,calendar', '--sources: unknown source "calendar" (known: mail, disk, events)'),
  ]],
  ['--sources names a source without a directory', ['--mail-dir', 'm', '--sources', 'mail,disk'], {}, [
    P('sources', 'disk', '--sources names disk but its directory is not set: set DISK_LOG_CATALOG_LOCATION or --disk-dir'),
  ]],
  ['filters the endpoints cannot apply, per source', ['--stdout', '--sources', 'mail,disk', '--ip', '192.0.2.1', '--types', 'message_seen'], {}, [
    P('ip', undefined, '--ip is not supported by the mail source; narrow the run with --sources'),
    P('types', undefined, '--types is not supported by the disk source; narrow the run with --sources'),
    P('ip', undefined, '--ip is not supported by the disk source; narrow the run with --sources'),
  ]],
  ['include and exclude together, for events', ['--stdout', '--sources', 'events', '--include-uids', '1', '--exclude-uids', '2'], {}, [
    P('exclude-uids', undefined, '--include-uids and --exclude-uids cannot be combined for the events source'),
  ]],
  ['include and exclude together are fine for mail', ['--stdout', '--sources', 'mail', '--include-uids', '1', '--exclude-uids', '2'], {}, []],
  ['since not before until', ['--mail-dir', 'm', '--since', 'today', '--until', 'yesterday'], {}, [P('since', undefined, '--since must be before --until')]],
  ['since equal to until', ['--mail-dir', 'm', '--since', '2025-09-01', '--until', '2025-09-01T00:00:00Z'], {}, [P('since', undefined, '--since must be before --until')]],
  ['watch with a range', ['--mail-dir', 'm', '--watch', '--since', '-2d'], {}, [
    P('watch', undefined, '--watch cannot be combined with --since/--until: every cycle would fetch the same range again; run the backfill once, then watch'),
  ]],
  ['state file and tag-source need stdout', ['--mail-dir', 'm', '--state-file', '/tmp/c.json', '--tag-source'], {}, [
    P('state-file', '/tmp/c.json', '--state-file needs --stdout (the archive is the checkpoint of a file run)'),
    P('tag-source', undefined, '--tag-source needs --stdout'),
  ]],
  ['timeout below 100ms', ['--mail-dir', 'm', '--timeout', '50ms'], {}, [P('timeout', undefined, '--timeout must be at least 100ms')]],
  ['a refused timeout is reported once (the rule sees the default)', ['--mail-dir', 'm', '--timeout', 'fast'], {}, [P('timeout', 'fast', '--timeout must be a duration like 30s, 2m, 12h or 90d, got "fast"')]],
  ['a bad base name of a source that does not run is still refused', ['--mail-dir', 'm'], { DISK_LOG_FILE_BASE_NAME: 'a/b' }, [
    P('disk-base', 'a/b', 'the disk base name (--disk-base) "a/b" must be a plain file name part (no /, \\, .. or NUL)'),
  ]],
  ['since/until are read in --timezone; a bad zone is reported once', ['--mail-dir', 'm', '--timezone', 'Mars/Olympus', '--since', 'soon'], {}, [
    P('since', 'soon', '--since must be an ISO date or instant, -7d / -12h, today or yesterday, got "soon"'),
    P('timezone', 'Mars/Olympus', '--timezone must be an IANA zone like Europe/Moscow, got "Mars/Olympus"'),
  ]],
]

for (const [name, argv, env, want] of cases) {
  t.test(name, async (t) => {
    const cwd = t.testdir()
    t.strictSame(readConfig({ argv, env: { ...ENV, ...env }, cwd, now: () => NOW }).problems, want)
  })
}

t.test('verify: the organisation is not read, directories must exist', async (t) => {
  const cwd = t.testdir({ m: {} })
  const read = (argv: string[]) => readConfig({ argv, env: { ORGANIZATION_ID_ARG: 'not-a-number' }, cwd, now: () => NOW, mode: 'verify' }).problems
  t.strictSame(read(['--mail-dir', 'm']), [])
  t.strictSame(read(['--mail-dir', 'nope']), [P('mail-dir', join(cwd, 'nope'), `the mail directory (--mail-dir) ${join(cwd, 'nope')} does not exist`)])
})

t.test('values: --since in the zone, filters only when set, --no-log-file wins', async (t) => {
  const cwd = t.testdir()
  const { config, problems } = readConfig({ argv: ['--stdout', '--sources', 'events', '--timezone', 'Europe/Moscow', '--since', '2025-09-01', '--service', 'Web', '--no-log-file'], env: ENV, cwd, now: () => NOW })
  t.strictSame(problems, [])
  t.equal(config.since, Date.parse('2025-08-31T21:00:00Z') * 1000)
  t.strictSame(config.filters, { service: 'Web' })
  t.equal(config.logFile, undefined)
  t.equal(readConfig({ argv: ['--mail-dir', 'm'], env: ENV, cwd, now: () => NOW }).config.logFile, join(cwd, 'get_audit_logs.log'))
})
