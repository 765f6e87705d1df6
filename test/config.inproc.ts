// Config: flags > environment > ./.env > defaults; every problem reported in one run; exit 1 from the real CLI.
import t from 'tap'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../src/config.js'
import { Y360Error } from '../src/errors.js'
import { OPTIONS } from '../src/options.js'
import { runCli, ROOT } from './helpers.js'
import { readFileSync } from 'node:fs'

const NOW = Date.UTC(2025, 8, 10, 12)
const TOKEN = 'y0_config-token-0123456789'

function load(cwd: string, argv: string[], env: Record<string, string> = {}) {
  return loadConfig({ argv, env, cwd, now: () => NOW })
}

function problems(fn: () => unknown): string[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof Y360Error && err.code === 'CONFIG_INVALID') return err.problems ?? []
    throw err
  }
  throw new Error('expected CONFIG_INVALID')
}

t.test('precedence: flags win over the environment, which wins over ./.env', async (t) => {
  const dir = t.testdir({ '.env': `OAUTH_TOKEN_ARG=${TOKEN}-dotenv\nORGANIZATION_ID_ARG=111\nMAIL_LOG_CATALOG_LOCATION=dotmail\nLOG_FILE_EXTENSION=log\nMAIL_LOG_FILE_BASE_NAME=from_dotenv\n` })
  const a = load(dir, [])
  t.equal(a.token, `${TOKEN}-dotenv`)
  t.equal(a.org, 111)
  t.same(a.sources, [{ name: 'mail', dir: join(dir, 'dotmail'), base: 'from_dotenv' }])
  t.equal(a.ext, 'log')
  const b = load(dir, [], { ORGANIZATION_ID_ARG: '222', MAIL_LOG_FILE_BASE_NAME: 'from_env' })
  t.equal(b.org, 222)
  t.equal(b.sources[0].base, 'from_env')
  t.equal(b.token, `${TOKEN}-dotenv`, '.env still fills what the environment lacks')
  const c = load(dir, ['--org', '333', '--mail-base', 'from_flag', '--ext=json'], { ORGANIZATION_ID_ARG: '222', MAIL_LOG_FILE_BASE_NAME: 'from_env' })
  t.equal(c.org, 333)
  t.equal(c.sources[0].base, 'from_flag')
  t.equal(c.ext, 'json')
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.sources) && Object.isFrozen(c.sources[0]), 'frozen')
  t.equal(c.overlapMs, 120_000, 'default overlap 2m')
  t.equal(c.lookbackMs, 90 * 86_400_000, 'default lookback 90d')
})

t.test('defaults of the Python script, trailing slashes stripped from every path (its fault 9)', async (t) => {
  const dir = t.testdir()
  const c = load(dir, [], { OAUTH_TOKEN_ARG: TOKEN, ORGANIZATION_ID_ARG: '5', MAIL_LOG_CATALOG_LOCATION: 'm/', DISK_LOG_CATALOG_LOCATION: join(dir, 'd') + '//', NEW_LOG_CATALOG_LOCATION: 'e\\' })
  t.same(c.sources.map((s) => [s.name, s.dir, s.base]), [['mail', join(dir, 'm'), 'mail_audit'], ['disk', join(dir, 'd'), 'disk_audit'], ['events', join(dir, 'e'), 'y360_audit']])
  t.equal(c.ext, 'json')
  // Guards "config without side effects": the archive output creates the directories later, under its lock.
  t.same(['m', 'd', 'e'].filter((d) => existsSync(join(dir, d))), [], 'loading the configuration creates no directory')
})

t.test('--sources narrows the configured sources', async (t) => {
  const dir = t.testdir()
  const env = { OAUTH_TOKEN_ARG: TOKEN, ORGANIZATION_ID_ARG: '5', MAIL_LOG_CATALOG_LOCATION: 'm', DISK_LOG_CATALOG_LOCATION: 'd', NEW_LOG_CATALOG_LOCATION: 'e' }
  t.same(load(dir, ['--sources', 'mail'], env).sources.map((s) => s.name), ['mail'])
  t.same(load(dir, ['--sources', 'events,disk'], env).sources.map((s) => s.name), ['disk', 'events'])
  t.same(problems(() => load(dir, ['--sources', 'mail,calendar'], env)), ['--sources: unknown source "calendar" (known: mail, disk, events)'])
  t.same(problems(() => load(dir, ['--sources', 'events'], { ...env, NEW_LOG_CATALOG_LOCATION: '' })), ['--sources names events but its directory is not set: set NEW_LOG_CATALOG_LOCATION or --events-dir', 'no source to run: set at least one of MAIL_LOG_CATALOG_LOCATION, DISK_LOG_CATALOG_LOCATION, NEW_LOG_CATALOG_LOCATION (or --mail-dir, --disk-dir, --events-dir)'])
})

t.test('API URLs: plain http only for loopback; https anywhere; credentials refused', async (t) => {
  const dir = t.testdir()
  const env = { OAUTH_TOKEN_ARG: TOKEN, ORGANIZATION_ID_ARG: '5', MAIL_LOG_CATALOG_LOCATION: 'm' }
  t.equal(load(dir, [], { ...env, Y360_API_URL: 'http://127.0.0.1:8080/' }).apiUrl, 'http://127.0.0.1:8080')
  t.equal(load(dir, [], { ...env, Y360_API_URL: 'http://localhost:8080' }).apiUrl, 'http://localhost:8080')
  t.equal(load(dir, [], { ...env, Y360_API_URL: 'http://[::1]:8080' }).apiUrl, 'http://[::1]:8080')
  t.equal(load(dir, [], { ...env, Y360_API_URL: 'https://proxy.example.org/api360/' }).apiUrl, 'https://proxy.example.org/api360')
  t.same(problems(() => load(dir, [], { ...env, Y360_API_URL: 'http://api360.example.org' })), ['--api-url must use https: (plain http: is allowed only for loopback addresses), got http://api360.example.org'])
  t.same(problems(() => load(dir, [], { ...env, Y360_CLOUD_API_URL: 'http://10.0.0.1' })), ['--cloud-api-url must use https: (plain http: is allowed only for loopback addresses), got http://10.0.0.1'])
  t.same(problems(() => load(dir, ['--api-url', 'https://u:p@x.example.org'], env)), ['--api-url must not contain credentials'])
})

t.test('every problem at once: missing token, bad org, directory under a file, a file as directory, unknown flag', async (t) => {
  const dir = t.testdir({ afile: 'x' })
  const env = { ORGANIZATION_ID_ARG: '12ab', MAIL_LOG_CATALOG_LOCATION: join(dir, 'afile', 'mail'), DISK_LOG_CATALOG_LOCATION: join(dir, 'afile') }
  const p = problems(() => load(dir, ['--bogus', '--overlap', 'soon'], env))
  t.same(p, [
    'unknown option --bogus; see --help',
    'no OAuth token: set OAUTH_TOKEN_ARG (environment or .env) or pass --token',
    'the organisation id must be a positive integer, got "12ab" (ORGANIZATION_ID_ARG / --org)',
    '--overlap must be a duration like 30s, 2m, 12h or 90d, got "soon"',
    // Directories are judged last, without creating anything, since the configuration is already rejected.
    `the mail directory (--mail-dir) ${join(dir, 'afile', 'mail')} cannot be created: ${join(dir, 'afile')} is not a directory`,
    `the disk directory (--disk-dir) ${join(dir, 'afile')} is not a directory`,
  ])
})

t.test('real CLI: bad config exits 1 listing every problem on stderr, nothing on stdout, no token', async (t) => {
  const dir = t.testdir({ afile: 'x' })
  const env = { PATH: process.env.PATH ?? '', OAUTH_TOKEN_ARG: '', ORGANIZATION_ID_ARG: '1.5', MAIL_LOG_CATALOG_LOCATION: join(dir, 'afile', 'sub') }
  const r = await runCli(['--unknown-flag'], { env, cwd: dir })
  t.equal(r.code, 1)
  t.equal(r.stdout, '')
  t.equal(r.stderr, [
    'y360-audit: configuration problems:',
    '  - unknown option --unknown-flag; see --help',
    '  - no OAuth token: set OAUTH_TOKEN_ARG (environment or .env) or pass --token',
    '  - the organisation id must be a positive integer, got "1.5" (ORGANIZATION_ID_ARG / --org)',
    `  - the mail directory (--mail-dir) ${join(dir, 'afile', 'sub')} cannot be created: ${join(dir, 'afile')} is not a directory`,
    '',
  ].join('\n'))
  const r2 = await runCli(['--org', '5', '--mail-dir', 'm'], { env: { ...env, OAUTH_TOKEN_ARG: TOKEN, Y360_API_URL: 'http://api.example.org' }, cwd: dir })
  t.equal(r2.code, 1, 'plain http to a non-loopback host is refused before any request')
  t.match(r2.stderr, /--api-url must use https:/)
  t.notOk(r2.stderr.includes(TOKEN))
})

t.test('--help lists every option and never the token; --version prints the package version', async (t) => {
  const dir = t.testdir()
  const env = { PATH: process.env.PATH ?? '', OAUTH_TOKEN_ARG: TOKEN }
  const h = await runCli(['--help'], { env, cwd: dir })
  t.equal(h.code, 0)
  for (const o of OPTIONS) {
    t.ok(h.stdout.includes(`--${o.flag}`), `--${o.flag} listed`)
    if (o.env !== undefined) t.ok(h.stdout.includes(`env ${o.env}`), `${o.env} listed`)
    if (o.default !== undefined) t.ok(h.stdout.includes(`default ${o.default}`), `default of --${o.flag} listed`)
  }
  t.notOk(h.stdout.includes(TOKEN) || h.stderr.includes(TOKEN), 'no token')
  const v = await runCli(['--version'], { env, cwd: dir })
  t.equal(v.code, 0)
  t.equal(v.stdout, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version + '\n')
})

t.test('a .env others can read gives a warning (it holds the token)', async (t) => {
  const dir = t.testdir()
  mkdirSync(join(dir, 'm'))
  writeFileSync(join(dir, '.env'), `OAUTH_TOKEN_ARG=${TOKEN}\nORGANIZATION_ID_ARG=5\nMAIL_LOG_CATALOG_LOCATION=m\n`, { mode: 0o644 })
  t.same(load(dir, []).warnings, [`${join(dir, '.env')} is readable by other users and holds the token; run: chmod 600 ${join(dir, '.env')}`])
})

t.test('--help and --version load whatever else is wrong (the CLI prints them, exit 0)', async (t) => {
  const dir = t.testdir()
  t.equal(load(dir, ['--help', '--bogus', '--concurrency', '0']).help, true)
  t.equal(load(dir, ['--version', '--since', 'soon']).version, true)
})
