// Secrets (issue 13, point 2). Guards: a server that echoes the Authorization header into 401/400/500 bodies (JSON,
// plain text URL-encoded) and into records set aside as rejected leaves the token, in none of its forms (raw,
// JSON-escaped once or twice, URL-encoded), in stderr, the debug log, --summary-json, --metrics-file, the state file or
// `.rejected`, also for a token with `\` and `"`; a token that cannot be an HTTP header value is CONFIG_INVALID with
// no request made; the token is read from --token-file or systemd's $CREDENTIALS_DIRECTORY/y360-token (one trailing
// newline trimmed, a warning when others can read it).
import t, { type Test } from 'tap'
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { secretForms, scrubSecrets } from '../../src/secrets.js'
import { headerProblem } from '../../src/config/token.js'
import { cliEnv, emulator, readArchive, runCli, runMain, TOKEN, type CliResult, localServer } from '../helpers.js'

// A token with the characters that escape differently in JSON and in URLs.
const NASTY = 'y0_AQ\\Ab"c%2F d/+=&_0123456789'

t.test('secretForms and scrubSecrets: raw, JSON-escaped once and twice, URL-encoded', async (t) => {
  t.same(secretForms(NASTY).sort(), [
    NASTY,
    'y0_AQ\\\\Ab\\"c%2F d/+=&_0123456789',
    'y0_AQ\\\\\\\\Ab\\\\\\"c%2F d/+=&_0123456789',
    'y0_AQ%5CAb%22c%252F%20d%2F%2B%3D%26_0123456789',
    'y0_AQ%5cAb%22c%252F%20d%2f%2b%3d%26_0123456789',
  ].sort())
  const doc = JSON.stringify({ msg: `OAuth ${NASTY}`, nested: JSON.stringify({ m: NASTY }), url: `?t=${encodeURIComponent(NASTY)}` })
  t.equal(scrubSecrets(doc, [NASTY]), JSON.stringify({ msg: 'OAuth [REDACTED]', nested: JSON.stringify({ m: '[REDACTED]' }), url: '?t=[REDACTED]' }))
  t.equal(scrubSecrets('abc abc', ['abc']), 'abc abc', 'secrets under 4 characters are not scrubbed')
  t.equal(scrubSecrets('x', [undefined, '']), 'x')
})

t.test('headerProblem: what Node cannot send as a header value, named without the token', async (t) => {
  t.equal(headerProblem(NASTY), undefined)
  t.equal(headerProblem('y0_ünïcödé-latin1'), undefined, 'Latin-1 is sendable')
  t.match(headerProblem('y0_токен'), 'holds a character outside Latin-1 (U+0442)')
  t.match(headerProblem('y0_a\nb'), 'holds a line break')
  t.match(headerProblem('y0_a\x01b'), 'holds a control character (U+0001)')
})

/** Every form of `secret` found in `text`. */
function leaks(text: string, secret: string): string[] {
  return secretForms(secret).filter((f) => text.includes(f))
}

/** Every file under `dir` (recursively) with its content. */
function files(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.set(join(e.parentPath, e.name), readFileSync(join(e.parentPath, e.name), 'latin1'))
  return out
}

/** A server that puts the Authorization header it receives into everything it answers. */
function echoServer(t: Test, mode: 'mixed' | '401'): Promise<{ url: string; requests: () => number }> {
  return localServer(t, (req, res) => {
    const auth = req.headers.authorization ?? ''
    const url = req.url ?? ''
    if (mode === '401') {
      res.writeHead(401, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ code: 16, message: `bad credentials: ${auth}` }))
    }
    if (url.includes('/audit_log/mail')) {
      // A page whose records lack a usable date: set aside in .rejected, with the header in them.
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ events: [{ date: 'never', echo: auth, nested: JSON.stringify({ auth }) }], nextPageToken: null }))
    }
    if (url.includes('/audit_log/disk')) {
      res.writeHead(500, { 'content-type': 'text/plain' })
      return void res.end(`upstream failed for token=${encodeURIComponent(auth)} raw=${auth}`)
    }
    res.writeHead(400, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: 'bad_request', description: `header was ${JSON.stringify({ authorization: auth })}` }))
  })
}

function baseEnv(url: string, dir: string, token: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '', TZ: 'UTC', OAUTH_TOKEN_ARG: token, ORGANIZATION_ID_ARG: '123', Y360_API_URL: url, Y360_CLOUD_API_URL: url,
    Y360_RETRY_DELAY: '5ms', Y360_RETRIES: '2', Y360_LOG_FILE: join(dir, 'logs', 'debug.log'), Y360_LOG_LEVEL: 'debug',
  }
}

function noLeak(t: Test, r: CliResult, dir: string, token: string, what: string): void {
  const found = [...files(dir)].flatMap(([p, text]) => leaks(text, token).map((f) => `${p}: ${JSON.stringify(f)}`))
  found.push(...leaks(r.stderr, token).map((f) => `stderr: ${JSON.stringify(f)}`), ...leaks(r.stdout, token).map((f) => `stdout: ${JSON.stringify(f)}`))
  t.same(found, [], `${what}: the token is in no file the run left, nor in stderr or stdout`)
}

for (const token of [TOKEN, NASTY]) {
  t.test(`an echoing server (token ${JSON.stringify(token)}): archive run, then a --stdout run with a state file`, async (t) => {
    const srv = await echoServer(t, 'mixed')
    const dir = t.testdir()
    const env = { ...baseEnv(srv.url, dir, token), MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), DISK_LOG_CATALOG_LOCATION: join(dir, 'disk'), NEW_LOG_CATALOG_LOCATION: join(dir, 'events') }
    const outs = ['--summary-json', join(dir, 'out', 'summary.json'), '--metrics-file', join(dir, 'out', 'y360.prom')]
    mkdirSync(join(dir, 'out'))
    const r = await runCli(['--lookback', '1h', ...outs], { env, cwd: dir })
    t.equal(r.code, 4, `disk kept failing: exit 4 (events refused: 3, mail: rejected records)\n${r.stderr}`)
    const summary = JSON.parse(readFileSync(join(dir, 'out', 'summary.json'), 'utf8')) as { sources: { source: string; code?: string; error?: string; rejected: number }[] }
    t.same(summary.sources.map((s) => [s.source, s.code, s.rejected]), [['mail', undefined, 1], ['disk', 'API_UNAVAILABLE', 0], ['events', 'BAD_REQUEST', 0]])
    t.match(summary.sources[1].error, 'token=OAuth%20[REDACTED] raw=OAuth [REDACTED]', 'the URL-encoded and raw echoes are redacted in place')
    t.match(summary.sources[2].error, 'header was {"authorization":"OAuth [REDACTED]"}', 'so is the JSON-escaped one')
    const rejected = readFileSync(join(dir, 'mail', 'mail_audit.rejected'), 'utf8')
    t.match(rejected, /"echo":"OAuth \[REDACTED\]","nested":"\{\\"auth\\":\\"OAuth \[REDACTED\]\\"\}"/, '.rejected keeps the record, not the token')
    t.ok(readFileSync(join(dir, 'logs', 'debug.log'), 'utf8').includes('retrying'), 'the debug log holds the retries (with the echoed text)')
    noLeak(t, r, dir, token, 'archive run')

    mkdirSync(join(dir, 'state')) // the state file's directory is not created by the tool
    const s = await runCli(['--stdout', '--sources', 'mail', '--state-file', join(dir, 'state', 'cursor.json'), '--lookback', '1h', ...outs], { env: { ...env, MAIL_LOG_CATALOG_LOCATION: '' }, cwd: dir })
    t.equal(s.code, 0, s.stderr)
    t.same(readdirSync(join(dir, 'state')).filter((n) => !n.startsWith('.')), ['cursor.json'], 'the state file was written')
    noLeak(t, s, dir, token, 'stdout run')
  })
}

t.test('a 401 echoing the token: exit 3, nothing leaks', async (t) => {
  const srv = await echoServer(t, '401')
  const dir = t.testdir()
  const env = { ...baseEnv(srv.url, dir, NASTY), MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }
  const r = await runCli(['--summary-json', join(dir, 'summary.json'), '--metrics-file', join(dir, 'y360.prom')], { env, cwd: dir })
  t.equal(r.code, 3, r.stderr)
  t.match(r.stderr, 'the API rejected the token (401: bad credentials: OAuth [REDACTED])')
  noLeak(t, r, dir, NASTY, '401')
})

t.test('a token that cannot be a header value: exit 1, no request, the token not shown', async (t) => {
  const srv = await echoServer(t, '401')
  const dir = t.testdir()
  for (const [token, why] of [['y0_токен-0123456789', 'a character outside Latin-1 (U+0442)'], ['y0_abc\u0007def-0123', 'a control character (U+0007)']]) {
    const r = await runCli([], { env: { ...baseEnv(srv.url, dir, token), MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), Y360_LOG_FILE: '' }, cwd: dir })
    t.equal(r.code, 1)
    t.equal(r.stderr, `y360-audit: configuration problems:\n  - the token (--token / OAUTH_TOKEN_ARG) holds ${why}, which cannot be sent in an HTTP header; copy the token again (only the token, on one line)\n`)
  }
  const file = join(dir, 'token')
  writeFileSync(file, 'y0_first-line\ny0_second-line\n', { mode: 0o600 })
  const r = await runCli(['--token-file', file], { env: { ...baseEnv(srv.url, dir, ''), MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), Y360_LOG_FILE: '' }, cwd: dir })
  t.equal(r.code, 1)
  t.equal(r.stderr, `y360-audit: configuration problems:\n  - the token in ${file} holds a line break, which cannot be sent in an HTTP header; copy the token again (only the token, on one line)\n`)
  t.equal(srv.requests(), 0, 'not one request was made')
  t.same(readdirSync(dir).sort(), ['token'], 'nothing was created')
})

// In this process: reading the token is configuration; no process-level output is under test here.
t.test('--token-file, Y360_TOKEN_FILE and $CREDENTIALS_DIRECTORY/y360-token', async (t) => {
  const emu = await emulator(t, { counts: { mail: 20 }, days: 1 })
  const dir = t.testdir()
  const env = { ...cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }), OAUTH_TOKEN_ARG: '' }
  const file = join(dir, 'token')
  writeFileSync(file, `${emu.token}\n`, { mode: 0o600 })
  chmodSync(file, 0o600)
  const a = await runMain(['--token-file', file, '--lookback', '2d'], { env, cwd: dir })
  t.equal(a.code, 0, `the trailing newline is trimmed: the emulator accepts the token\n${a.stderr}`)
  t.notMatch(a.stderr, 'readable by every user')
  t.equal(readArchive(join(dir, 'mail'), 'mail_audit').lines.length, 20)

  chmodSync(file, 0o644)
  const b = await runMain([], { env: { ...env, Y360_TOKEN_FILE: file }, cwd: dir })
  t.equal(b.code, 0, b.stderr)
  t.match(b.stderr, `${file} is readable by every user and holds the token; run: chmod o-r ${file} (0400, or 0440 for a group such as a Kubernetes fsGroup)`)
  chmodSync(file, 0o440)
  const g = await runMain([], { env: { ...env, Y360_TOKEN_FILE: file }, cwd: dir })
  t.equal(g.code, 0, g.stderr)
  t.notMatch(g.stderr, 'readable by every user', 'group-readable (a Kubernetes Secret with fsGroup) is fine')

  const creds = join(dir, 'creds')
  mkdirSync(creds)
  writeFileSync(join(creds, 'y360-token'), emu.token, { mode: 0o400 })
  const c = await runMain([], { env: { ...env, CREDENTIALS_DIRECTORY: creds }, cwd: dir })
  t.equal(c.code, 0, `the systemd credential is read when no token is given\n${c.stderr}`)

  const both = await runMain(['--token-file', file], { env: { ...env, OAUTH_TOKEN_ARG: emu.token }, cwd: dir })
  t.equal(both.code, 1)
  t.equal(both.stderr, 'y360-audit: configuration problems:\n  - both a token (--token / OAUTH_TOKEN_ARG) and a token file (--token-file / Y360_TOKEN_FILE) are set: keep one\n')

  const missing = await runMain(['--token-file', join(dir, 'nope')], { env, cwd: dir })
  t.equal(missing.code, 1)
  t.match(missing.stderr, `cannot read the token file (--token-file / Y360_TOKEN_FILE) ${join(dir, 'nope')}: ENOENT`)
  t.notOk(a.stderr.includes(emu.token) || b.stderr.includes(emu.token) || c.stderr.includes(emu.token))
})
