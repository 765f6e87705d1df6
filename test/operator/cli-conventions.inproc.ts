// CLI conventions (issue 15). Guards: -h/--help, -V/--version and `help [command]` for every command; the command
// found before or after the options; "did you mean" for a mistyped option; a duration without a unit refused showing
// the accepted forms; every output file's directory judged before the first request (and created); `-` for stdout;
// `verify | head` ends with exit 0 and no trace; verify --json with problem counts true beyond the listed 1000.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, cliEnv, collect, emulator, runCli, runMain, bare } from '../helpers.js'
import { helpText } from '../../src/options.js'
import { verifyHelp } from '../../src/verify.js'
import { reconcileHelp } from '../../src/reconcile.js'
import { demoHelp } from '../../src/demo.js'
import { version } from '../../src/main.js'

const V = version()

t.test('help and version, for every command and in every position', async (t) => {
  const cwd = t.testdir()
  const env = { PATH: process.env.PATH ?? '' }
  const fetchHelp = helpText(V) + '\n'
  for (const args of [['-h'], ['--help'], ['help'], ['help', 'fetch'], ['fetch', '-h'], ['--no-log-file', '--help']]) {
    t.same(await runMain(args, { env, cwd }), { code: 0, signal: null, stdout: fetchHelp, stderr: '' }, `${args.join(' ')}: the fetch help`)
  }
  for (const args of [['verify', '--help'], ['help', 'verify'], ['--help', 'verify'], ['verify', '-h']]) {
    t.same(await runMain(args, { env, cwd }), { code: 0, signal: null, stdout: verifyHelp(V) + '\n', stderr: '' }, `${args.join(' ')}: the verify help`)
  }
  t.match(verifyHelp(V), /--mail-dir <v>[\s\S]*--timezone <v>[\s\S]*--json/, 'verify help lists what verify reads')
  for (const args of [['reconcile', '--help'], ['help', 'reconcile']]) {
    t.same(await runMain(args, { env, cwd }), { code: 0, signal: null, stdout: reconcileHelp(V) + '\n', stderr: '' }, `${args.join(' ')}: the reconcile help`)
  }
  t.match(reconcileHelp(V), /--since <v>[\s\S]*--dry-run[\s\S]*Exit codes: 0 nothing missing, 10 records were missing/, 'reconcile help: its options and exit codes')
  for (const args of [['demo', '--help'], ['help', 'demo']]) t.same(await runMain(args, { env, cwd }), { code: 0, signal: null, stdout: demoHelp(V) + '\n', stderr: '' }, `${args.join(' ')}: the demo help`)
  for (const args of [['-V'], ['--version'], ['verify', '-V'], ['demo', '--version']]) t.same(await runMain(args, { env, cwd }), { code: 0, signal: null, stdout: `${V}\n`, stderr: '' }, `${args.join(' ')}: the version`)
  const emu = await runCli(['help', 'emulator'], { env, cwd })
  t.equal(emu.code, 0)
  t.match(emu.stdout, /^Usage: y360-audit emulator \[options\]\n/, 'help emulator: the emulator help')
  const unknown = await runMain(['help', 'fetchh'], { env, cwd })
  t.same(unknown, { code: 1, signal: null, stdout: '', stderr: 'y360-audit: no command "fetchh"; commands: fetch, verify, reconcile, demo, emulator (y360-audit help <command>)\n' })
})

t.test('the command after options; a value that spells a command stays a value', async (t) => {
  const dir = t.testdir()
  mkdirSync(join(dir, 'mail'))
  writeFileSync(join(dir, 'mail', 'mail_audit_2026-11-20.json'), '{"date":"2026-11-20T10:00:00.000Z","eventType":"message_seen"}\n')
  const env = { PATH: process.env.PATH ?? '', MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }
  const after = await runMain(['--no-log-file', 'verify'], { env, cwd: dir })
  t.same(after, { code: 0, signal: null, stdout: 'mail: 1 files, 1 records from 2026-11-20T10:00:00.000Z to 2026-11-20T10:00:00.000Z: OK\n', stderr: '' }, '--no-log-file verify runs verify')
  const before = await runMain(['verify', '--no-log-file'], { env, cwd: dir })
  t.same(before, after, 'the same as verify --no-log-file')
  // `verify` is the value of --mail-base here: no command named, so fetch runs (and says what it lacks).
  const value = await runMain(['--mail-base', 'verify'], { env, cwd: dir })
  t.equal(value.code, 1)
  t.match(value.stderr, /no OAuth token/, 'fetch ran: the word was a value')
})

t.test('did you mean; durations need a unit', async (t) => {
  const cwd = t.testdir()
  const env = { PATH: process.env.PATH ?? '', OAUTH_TOKEN_ARG: 'tok-abcdef', ORGANIZATION_ID_ARG: '1', MAIL_LOG_CATALOG_LOCATION: join(cwd, 'mail') }
  const r = await runMain(['--mail-dri', 'x', '--intreval', '15m', '--bogus', '--interval', '15', '--lookback', '30', '--overlap', '0'], { env, cwd })
  t.same(r, {
    code: 1, signal: null, stdout: '',
    stderr: [
      'y360-audit: configuration problems:',
      '  - unknown option --mail-dri; did you mean --mail-dir? see --help',
      '  - unexpected argument "x"; see --help',
      '  - unknown option --intreval; did you mean --interval? see --help',
      '  - unexpected argument "15m"; see --help',
      '  - unknown option --bogus; see --help',
      '  - --lookback 30 has no unit (the Python script read minutes, earlier versions of this tool seconds): write 30m, 1800s or 30s; accepted: 500ms, 30s, 15m, 12h, 90d, 1w',
      '  - --interval 15 has no unit (the Python script read minutes, earlier versions of this tool seconds): write 15m, 900s or 15s; accepted: 500ms, 30s, 15m, 12h, 90d, 1w',
      '',
    ].join('\n'),
  }, 'every problem at once; --overlap 0 needs no unit')
  t.notOk(existsSync(join(cwd, 'mail')), 'nothing created')
})

t.test('output files: judged before the first request, their directories created; - is stdout', async (t) => {
  const emu = await emulator(t, { counts: { mail: 200 }, days: 1, seed: 9 })
  const dir = t.testdir()
  writeFileSync(join(dir, 'afile'), '')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const bad = await runMain(['--lookback', '2d', '--summary-json', join(dir, 'afile/s.json'), '--metrics-file', dir, '--log-file', join(dir, 'afile/x.log')], { env, cwd: dir })
  t.same(bad, {
    code: 1, signal: null, stdout: '',
    stderr: [
      'y360-audit: configuration problems:',
      `  - the directory of --summary-json ${dir}/afile is not a directory`,
      `  - --metrics-file ${dir} is a directory; give a file name`,
      `  - cannot create the debug log file ${dir}/afile/x.log: the debug log directory ${dir}/afile is not a directory; fix --log-file / Y360_LOG_FILE or pass --no-log-file`,
      '',
    ].join('\n'),
  })
  t.equal(emu.stats().requests, 0, 'no request was made')
  t.notOk(existsSync(join(dir, 'mail')), 'no archive directory created')

  const ok = await runMain(['--lookback', '2d', '--summary-json', '-', '--metrics-file', join(dir, 'new/deeper/y360.prom'), '--log-file', join(dir, 'logs/y.log')], { env, cwd: dir })
  t.equal(ok.code, 0)
  const doc = JSON.parse(ok.stdout) as { version: number; sources: { source: string; written: number }[] }
  t.same(doc.sources.map((s) => [s.source, s.written]), [['mail', 200]], '--summary-json -: the document on stdout')
  t.ok(existsSync(join(dir, 'new/deeper/y360.prom')) && existsSync(join(dir, 'logs/y.log')), 'missing directories were created')
  t.notOk(existsSync(join(dir, '-')), 'no file named -')

  const mixed = await runMain(['--stdout', '--sources', 'mail', '--summary-json', '-'], { env, cwd: dir })
  t.equal(mixed.code, 1)
  t.match(mixed.stderr, '--summary-json - would mix with the records --stdout writes there; give it a file')
})

t.test('verify | head: exit 0, no trace; verify --json counts every problem', async (t) => {
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  mkdirSync(mail)
  // 2507 unparseable lines: more than the 1000 listed.
  writeFileSync(join(mail, 'mail_audit_2026-11-20.json'), 'not json\n'.repeat(2507))
  const env = { PATH: process.env.PATH ?? '', MAIL_LOG_CATALOG_LOCATION: mail }
  const child = spawn(...bare('sh', ['-c', `'${process.execPath}' '${CLI}' verify | head -n 2`], env), { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] })
  child.stdin.end()
  const shown = await collect(child)
  t.equal(shown.stdout, `mail: 1 files, 0 records: 2507 problem(s) (the first 1000 listed)\n  ${mail}/mail_audit_2026-11-20.json:1: unparseable: not json\n`)
  const piped = spawn(...bare('sh', ['-c', `'${process.execPath}' '${CLI}' verify 2>err.txt | head -n 1 >/dev/null; true`], env), { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] })
  piped.stdin.end()
  await collect(piped)
  t.equal(readFileSync(join(dir, 'err.txt'), 'utf8'), '', 'no EPIPE trace on stderr')
  // The reader gone before verify writes at all (its end of the pipe closed at once): every write meets EPIPE.
  const early = spawn(...bare(process.execPath, [CLI, 'verify'], env), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  early.stdout.destroy()
  let err = ''
  early.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  const exit = await new Promise<number | null>((resolve) => early.on('close', (c) => resolve(c)))
  t.same({ exit, err }, { exit: 0, err: '' }, 'verify with its reader gone: exit 0, nothing on stderr')

  const json = await runMain(['verify', '--json'], { env, cwd: dir })
  t.equal(json.code, 7)
  const doc = JSON.parse(json.stdout) as { ok: boolean; problemCount: number; sources: { source: string; problemCount: number; byKind: Record<string, number>; problems: unknown[] }[] }
  t.same([doc.ok, doc.problemCount, doc.sources[0].problemCount, doc.sources[0].byKind, doc.sources[0].problems.length], [false, 2507, 2507, { unparseable: 2507 }, 1000])
  t.equal(json.stdout.split('\n').length, 2, 'one JSON document, one line')
})
