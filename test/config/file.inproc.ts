// src/config/file.ts and the plan of src/config.ts in-process: a config file of several organisations is judged whole,
// every problem placed in its entry, through the option rows' own parsers; two organisations never write one directory.
import t from 'tap'
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { readPlan } from '../../src/config.js'
import { localServer, ROOT, runMain } from '../helpers.js'

const NOW = Date.UTC(2026, 10, 20, 12)

function plan(dir: string, file: object, argv: string[] = [], env: NodeJS.ProcessEnv = {}) {
  writeFileSync(join(dir, 'orgs.json'), JSON.stringify(file))
  return readPlan({ argv: ['--config', 'orgs.json', '--no-log-file', ...argv], env, cwd: dir, now: () => NOW })
}

t.test('every problem of the whole file, each with its entry; unknown keys with "did you mean"; nothing created, no request', async (t) => {
  const dir = t.testdir({ afile: '' })
  const api = await localServer(t, (_req, res) => res.end('{}'))
  const file = {
    concurency: 4,
    lookback: '8d',
    'api-url': api.url,
    'cloud-api-url': api.url,
    orgs: [
      { org: 1, token: 'T', 'mail-dir': 'a/mail' },
      { org: 2, token: 'T', 'mail-dir': 'afile/x' },
      { org: 'two', token: 'T', mail_dir: 'c/mail', lookback: '15' },
      { token: 'T', 'mail-dir': 'd/mail', 'log-level': 'debug' },
      { org: 5, token: 'T', 'mail-dir': 'a/mail', stdout: true, types: { a: 1 } },
      'x',
    ],
  }
  const { problems } = plan(dir, file)
  t.same(problems.map((p) => p.message), [
    'concurency: unknown key; did you mean "concurrency"? (keys are the long option names without --; see --help)',
    'orgs[2].mail_dir: unknown key; did you mean "mail-dir"? (keys are the long option names without --; see --help)',
    'orgs[3].log-level: a setting of the whole process (one log, summary, metrics file and request pacing for every organisation): set it at the top level of the file',
    'orgs[4].stdout: not with several organisations (their records would mix on one stdout): give each its own --syslog, or run them one by one',
    'orgs[4].types: must be a string (the text given on the command line), a number or a list, got {"a":1}',
    'orgs[5]: must be an object of options, got "x"',
    `orgs[1].mail-dir: the mail directory (--mail-dir) ${dir}/afile/x cannot be created: ${dir}/afile is not a directory`,
    'orgs[2].org: the organisation id must be a positive integer, got "two" (ORGANIZATION_ID_ARG / --org)',
    'orgs[2].lookback: --lookback 15 has no unit (the Python script read minutes, earlier versions of this tool seconds): write 15m, 900s or 15s; accepted: 500ms, 30s, 15m, 12h, 90d, 1w',
    'orgs[2]: no source to run: give at least one of "mail-dir", "disk-dir", "events-dir"',
    'orgs[3]: no organisation id: give "org" in the entry',
    `orgs[4]: writes ${dir}/a/mail, as orgs[0] does (archive day files, marks, state and its lock .y360-audit.lock): give each organisation directories (and a state file directory) of its own`,
  ])
  // The real command: exit 1 before any request or disk write.
  const r = await runMain(['--config', 'orgs.json', '--no-log-file'], { env: { PATH: '' }, cwd: dir })
  t.equal(r.code, 1)
  t.match(r.stderr, /^y360-audit: configuration problems:\n {2}- concurency: unknown key/)
  t.equal(r.stderr.split('\n').filter((l) => l.startsWith('  - ')).length, 12, 'every problem listed')
  t.equal(api.requests(), 0, 'no request')
  t.notOk(existsSync(join(dir, 'a')), 'no directory created')
})

t.test('values: the rows\' parsers; numbers, lists and null; relative paths against the file; flags over entries over defaults', async (t) => {
  const dir = t.testdir({ conf: {} })
  const file = {
    lookback: '8d', types: ['message_seen', 'message_forward'], 'token-file': 'token', concurrency: 2,
    orgs: [
      { org: 7, 'mail-dir': 'seven' },
      { org: 8, 'mail-dir': '/abs/eight', lookback: '2d', types: null, concurrency: '3' },
    ],
  }
  writeFileSync(join(dir, 'conf/token'), 'T\n', { mode: 0o600 })
  writeFileSync(join(dir, 'conf/orgs.json'), JSON.stringify(file))
  const { plan: p, problems } = readPlan({ argv: ['--config', 'conf/orgs.json', '--no-log-file', '--max-pages', '5'], env: {}, cwd: dir, now: () => NOW })
  t.same(problems, [])
  t.equal(p.file, join(dir, 'conf/orgs.json'))
  const [a, b] = p.orgs.map((o) => o.config)
  t.same(p.orgs.map((o) => [o.where, o.name]), [['orgs[0]', '7'], ['orgs[1]', '8']])
  t.same([a.org, a.sources[0].dir, a.lookbackMs, a.filters.types, a.concurrency, a.maxPages, a.token], [7, join(dir, 'conf/seven'), 8 * 86_400_000, ['message_seen', 'message_forward'], 2, 5, 'T'])
  t.same([b.org, b.sources[0].dir, b.lookbackMs, b.filters.types, b.concurrency, b.maxPages], [8, '/abs/eight', 2 * 86_400_000, undefined, 3, 5], 'the entry wins over the defaults, null unsets one, the flag applies to all')
})

t.test('two organisations never write one directory; one organisation twice needs names', async (t) => {
  const dir = t.testdir({ a: {} })
  symlinkSync(join(dir, 'a'), join(dir, 'link'))
  const twice = plan(dir, { token: 'T', orgs: [{ org: 7, 'mail-dir': 'a/mail' }, { org: 7, 'mail-dir': 'b/mail' }, { org: 9, 'mail-dir': 'link/mail', 'events-dir': 'c' }] })
  t.same(twice.problems.map((p) => p.message), [
    'orgs[1]: the name "7" is also that of orgs[0] (an organisation\'s name is its "name", else its "org"): give one of them a distinct "name"',
    `orgs[2]: writes ${dir}/link/mail, as orgs[0] does (archive day files, marks, state and its lock .y360-audit.lock): give each organisation directories (and a state file directory) of its own`,
  ], 'the same directory through a symbolic link too')
  mkdirSync(join(dir, 'a/mail'))
  const named = plan(dir, { token: 'T', orgs: [{ org: 7, name: 'seven-all', 'mail-dir': 'a/mail' }, { org: 7, name: 'seven-seen', 'mail-dir': 'b/mail', types: 'message_seen' }, { org: 7, name: 'bad name!', 'mail-dir': 'c' }] })
  t.same(named.problems.map((p) => p.message), ['orgs[2].name: a name of letters, digits, \'.\', \'_\' or \'-\' (at most 64, it labels the summary and the metrics), got "bad name!"'])
  const state = plan(dir, { token: 'T', syslog: 'tcp://127.0.0.1:514', sources: 'mail', orgs: [{ org: 1, 'state-file': 's/one.json' }, { org: 2, 'state-file': 's/two.json' }] })
  t.same(state.problems.map((p) => p.message), [`orgs[1]: writes ${dir}/s, as orgs[0] does (archive day files, marks, state and its lock .y360-audit.lock): give each organisation directories (and a state file directory) of its own`], 'state files share their directory\'s lock')
})

t.test('the file itself: not there, not JSON, no orgs; a token read once for all from the systemd credential', async (t) => {
  const dir = t.testdir()
  mkdirSync(join(dir, 'creds'))
  writeFileSync(join(dir, 'creds/y360-token'), 'T\n', { mode: 0o600 })
  const missing = readPlan({ argv: ['--config', 'nope.json'], env: {}, cwd: dir, now: () => NOW })
  t.match(missing.problems.map((p) => p.message), [/^cannot read the config file \(--config\) .*nope\.json: ENOENT/])
  writeFileSync(join(dir, 'bad.json'), '{"orgs": [}')
  t.match(readPlan({ argv: ['--config', 'bad.json'], env: {}, cwd: dir, now: () => NOW }).problems.map((p) => p.message), [/bad\.json: not JSON: /])
  t.same(plan(dir, { orgs: [] }).problems.map((p) => p.message), [`${dir}/orgs.json: "orgs" must be a non-empty list of organisations: "orgs": [ { "org": 123456, "token-file": …, "mail-dir": … }, … ]`])
  const creds = plan(dir, { orgs: [{ org: 1, 'mail-dir': 'a' }, { org: 2, 'mail-dir': 'b' }] }, [], { CREDENTIALS_DIRECTORY: join(dir, 'creds'), OAUTH_TOKEN_ARG: 'not-read' })
  t.same(creds.problems, [])
  t.same(creds.plan.orgs.map((o) => o.config.token), ['T', 'T'])
  t.same(creds.plan.warnings, [`with --config the environment is not read for options: ignoring OAUTH_TOKEN_ARG (set them in ${dir}/orgs.json)`])
  const none = plan(dir, { orgs: [{ org: 1, 'mail-dir': 'a' }] })
  t.same(none.problems.map((p) => p.message), ['orgs[0]: no OAuth token: give "token-file" (or "token") in the entry or at the top level of the file'])
})

t.test('the README\'s config files (Many organisations, the Kubernetes ConfigMap) are valid', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Many organisations (`--config`)'))
  const example = section.slice(section.indexOf('```json\n') + 8, section.indexOf('```', section.indexOf('```json\n') + 8))
  const recipe = readme.slice(readme.indexOf('### Many organisations: systemd and Kubernetes'))
  const configMap = recipe.slice(recipe.indexOf('orgs.json: |\n') + 13, recipe.indexOf('---', recipe.indexOf('orgs.json: |\n'))).replace(/^ {4}/gm, '')
  for (const [name, text] of [['example', example], ['configmap', configMap]]) {
    const dir = t.testdir()
    // The absolute paths of the examples, moved into the test's directory.
    const moved = text.replace(/"\/(var|run|data)\//g, `"${dir}/$1/`)
    for (const m of moved.matchAll(/"token-file": "([^"]+)"/g)) {
      mkdirSync(dirname(m[1]), { recursive: true })
      writeFileSync(m[1], 'T\n', { mode: 0o600 })
    }
    writeFileSync(join(dir, 'orgs.json'), moved)
    const r = readPlan({ argv: ['--config', 'orgs.json', '--no-log-file'], env: {}, cwd: dir, now: () => NOW })
    t.same(r.problems, [], `${name}: no problem`)
    t.ok(r.plan.orgs.length >= 2, `${name}: ${r.plan.orgs.map((o) => o.name).join(', ')}`)
  }
})

t.test('a token pasted into another organisation\'s key is scrubbed from the problems', async (t) => {
  const dir = t.testdir()
  const secret = 'y0_AgAAAA-secret-of-org-one-0123456789'
  const r = plan(dir, { orgs: [{ org: 1, token: secret, 'mail-dir': 'a' }, { org: secret, token: 'y0_other-token-0123456789abc', 'mail-dir': 'b' }] })
  t.same(r.problems.map((p) => p.message), ['orgs[1].org: the organisation id must be a positive integer, got "[REDACTED]" (ORGANIZATION_ID_ARG / --org)'])
})
