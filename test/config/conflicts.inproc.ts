// Configuration that would turn the tool against its own files (issue 13, point 5). Guards: two sources that would
// write the same files (same directory after resolving links, same base name) are refused, naming both; a rejected
// configuration creates nothing on disk (no archive directory, no log directory, no log file), an unusable --log-file
// included; a valid one with a log file in a new directory creates that directory only then.
import t from 'tap'
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cliEnv, emulator, runMain, TOKEN } from '../helpers.js'

/** Every path under `dir`, recursively, sorted (directories end with /). */
function tree(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true }).map((e) => `${join(e.parentPath, e.name).slice(dir.length + 1)}${e.isDirectory() ? '/' : ''}`).sort()
}

const env = (dir: string, extra: Record<string, string> = {}): Record<string, string> => ({ PATH: process.env.PATH ?? '', OAUTH_TOKEN_ARG: TOKEN, ORGANIZATION_ID_ARG: '1', Y360_API_URL: 'http://127.0.0.1:9', Y360_CLOUD_API_URL: 'http://127.0.0.1:9', Y360_LOG_FILE: '', ...extra })

t.test('two sources writing the same files are refused naming both; nothing is created', async (t) => {
  const dir = t.testdir({ real: {} })
  symlinkSync(join(dir, 'real'), join(dir, 'alias'))
  const r = await runMain(['--mail-base', 'audit', '--disk-base', 'audit'], { env: env(dir, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'real'), DISK_LOG_CATALOG_LOCATION: join(dir, 'alias/') }), cwd: dir })
  t.equal(r.code, 1)
  t.equal(r.stderr, `y360-audit: configuration problems:\n  - the mail and disk sources would write the same files (${join(dir, 'alias')}/audit_<day>.json): give them different directories (--mail-dir, --disk-dir) or base names (--mail-base, --disk-base)\n`)

  const missing = await runMain([], { env: env(dir, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'new', 'x'), NEW_LOG_CATALOG_LOCATION: join(dir, 'new', '.', 'x'), NEW_LOG_FILE_BASE_NAME: 'mail_audit' }), cwd: dir })
  t.equal(missing.code, 1, 'two spellings of a directory that does not exist yet')
  t.match(missing.stderr, 'the mail and events sources would write the same files')
  t.same(tree(dir), ['alias', 'real/'], 'nothing created by either refused run')

  const ok = await runMain(['--mail-base', 'audit', '--disk-base', 'audit2', '--retries', '0', '--lookback', '1h'], { env: env(dir, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'real'), DISK_LOG_CATALOG_LOCATION: join(dir, 'alias') }), cwd: dir })
  t.notMatch(ok.stderr, 'would write the same files', 'different base names in one directory are fine')
})

t.test('a rejected configuration creates nothing: no archive directory, no log directory, no log file', async (t) => {
  const dir = t.testdir({ 'a-file': 'x' })
  const cases: [string, string[], Record<string, string>, string][] = [
    ['a bad option beside a new log file', ['--concurrency', '0'], { Y360_LOG_FILE: join(dir, 'logs', 'debug.log') }, '--concurrency must be an integer from 1 to 32, got "0"'],
    ['a log file under a regular file', [], { Y360_LOG_FILE: join(dir, 'a-file', 'logs', 'debug.log') }, `cannot create the debug log file ${join(dir, 'a-file', 'logs', 'debug.log')}: the debug log directory ${join(dir, 'a-file', 'logs')} cannot be created: ${join(dir, 'a-file')} is not a directory; fix --log-file / Y360_LOG_FILE or pass --no-log-file`],
    ['a log file that is a directory', [], { Y360_LOG_FILE: dir }, `the debug log file ${dir} is not a regular file; fix --log-file / Y360_LOG_FILE or pass --no-log-file`],
  ]
  for (const [what, args, extra, message] of cases) {
    const r = await runMain(args, { env: env(dir, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'archive', 'mail'), ...extra }), cwd: dir })
    t.equal(r.code, 1, what)
    t.equal(r.stderr, `y360-audit: configuration problems:\n  - ${message}\n`, what)
    t.same(tree(dir), ['a-file'], `${what}: nothing created`)
  }
  symlinkSync('/etc/passwd', join(dir, 'link.log'))
  const l = await runMain([], { env: env(dir, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'archive', 'mail'), Y360_LOG_FILE: join(dir, 'link.log') }), cwd: dir })
  t.equal(l.code, 1)
  t.match(l.stderr, `the debug log file ${join(dir, 'link.log')} is a symbolic link (never followed)`)
  t.same(tree(dir), ['a-file', 'link.log'], 'a link planted on the log file: refused, nothing created')
})

t.test('a valid configuration creates the log file\'s own directory, then the archive directories', async (t) => {
  const emu = await emulator(t, { counts: { mail: 5 }, days: 1 })
  const dir = t.testdir()
  mkdirSync(join(dir, 'x'))
  writeFileSync(join(dir, 'x', 'keep'), '')
  const r = await runMain(['--lookback', '2d'], { env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'archive', 'mail'), Y360_LOG_FILE: join(dir, 'logs', 'debug.log') }), cwd: dir })
  t.equal(r.code, 0, r.stderr)
  // The day files and the seals of the closed ones (which exist depends on the time of day).
  t.same(tree(dir).filter((p) => !/mail_audit_\d{4}-\d\d-\d\d\.json$|mail_audit\.manifest\.jsonl$/.test(p)), ['archive/', 'archive/mail/', 'logs/', 'logs/debug.log', 'x/', 'x/keep'])
})
