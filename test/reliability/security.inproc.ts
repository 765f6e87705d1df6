// Security. Guards: the token never appears in stdout, stderr, the debug log file, --help, error messages (also when a
// hostile server echoes it, or it is pasted into the wrong variable); https is required except for loopback; base
// names and extensions with /, \, .. or NUL are config errors (all reported at once, nothing created); files are 0640
// and new directories 0750 whatever the umask; a .env readable by others gives a warning; record content is data:
// hostile subjects land byte-exact and create nothing.
// The succeeding run of the token test is a real process (what leaves it on fd 1 and 2, crash-trace scrubbing
// included), and so are the umask runs; the failing runs, --help, the configuration checks and the record-content
// case run main() in this process (runMain), their outputs captured from the streams main writes to.
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, TOKEN, checkArchive, cliEnv, emulator, readArchive, runCli, collect, type CliResult, runMain, localServer, bare } from '../helpers.js'
import { exits } from './util.js'

/** Every file under `dir`, recursively (relative paths). */
function tree(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [`${join(rel, e.name)}/`, ...tree(dir, join(rel, e.name))] : [join(rel, e.name)]))
}

/** Every byte the run left behind: stdout, stderr and every file under `dir`. */
function everything(r: CliResult, dir: string): string {
  return [r.stdout, r.stderr, ...tree(dir).filter((p) => !p.endsWith('/')).map((p) => readFileSync(join(dir, p), 'latin1'))].join('\n')
}

t.test('the token never leaves: succeeding, failing and hostile runs, debug log file, --help', async (t) => {
  const emu = await emulator(t, { counts: { mail: 300, events: 300 }, days: 1, seed: 51, faults: { error5xx: 0.2, seed: 2 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), NEW_LOG_CATALOG_LOCATION: join(dir, 'events'), Y360_LOG_FILE: join(dir, 'logs', 'debug.log'), Y360_LOG_LEVEL: 'debug' })

  const ok = await runCli(['--lookback', '2d'], { env, cwd: dir })
  t.equal(ok.code, 0, exits(ok, 0, 'a succeeding run with retries and a debug log file'))
  const logs = tree(dir).filter((p) => p.startsWith('logs/') && p.endsWith('.log'))
  t.ok(logs.length > 0 && logs.some((p) => /retrying[\s\S]*mail: ok, fetched/.test(readFileSync(join(dir, p), 'utf8'))), `the debug log file holds the run's retries and summary (${logs.join(', ')})`)
  t.notOk(everything(ok, dir).includes(TOKEN), 'not in stdout, stderr, archive or debug log')

  const wrong = 'y0_wrong-token-fedcba9876543210'
  const denied = await runMain([], { env: { ...env, OAUTH_TOKEN_ARG: wrong }, cwd: dir })
  t.equal(denied.code, 3, exits(denied, 3, '401: exit 3'))
  t.match(denied.stderr, 'check OAUTH_TOKEN_ARG')
  t.notOk(everything(denied, dir).includes(wrong), 'a rejected token is not printed either')

  const swapped = await runMain(['--org', TOKEN], { env, cwd: dir })
  t.equal(swapped.code, 1, 'the token pasted as the org id: config error')
  t.match(swapped.stderr, 'the organisation id must be a positive integer, got "[REDACTED]"')
  t.notOk(everything(swapped, dir).includes(TOKEN))

  const help = await runMain(['--help'], { env, cwd: dir })
  t.equal(help.code, 0)
  t.match(help.stdout, 'OAUTH_TOKEN_ARG')
  t.notOk(help.stdout.includes(TOKEN) || help.stderr.includes(TOKEN), '--help shows no token')

  // A hostile or broken server that echoes the Authorization header into its error body.
  const server = await localServer(t, (req, res) => {
    res.writeHead(req.url?.includes('/events') ? 400 : 401, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ code: 16, message: `bad credentials: ${req.headers.authorization}` }))
  })
  const url = server.url
  const echoed = await runMain([], { env: { ...env, Y360_API_URL: url, Y360_CLOUD_API_URL: url }, cwd: dir })
  t.equal(echoed.code, 3, exits(echoed, 3, 'exit 3'))
  t.match(echoed.stderr, 'bad credentials: OAuth [REDACTED]', 'the echoed token is redacted in the message')
  t.notOk(everything(echoed, dir).includes(TOKEN), 'not in any output or file')
})

t.test('https is required except for loopback; every problem is reported at once', async (t) => {
  const dir = t.testdir()
  const base = { PATH: process.env.PATH ?? '', OAUTH_TOKEN_ARG: TOKEN, ORGANIZATION_ID_ARG: '1', MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), Y360_LOG_FILE: '' }
  const r = await runMain(['--api-url', 'http://api360.yandex.net', '--cloud-api-url', 'http://127.0.0.1.evil.example'], { env: base, cwd: dir })
  t.equal(r.code, 1)
  t.match(r.stderr, '--api-url must use https: (plain http: is allowed only for loopback addresses), got http://api360.yandex.net')
  t.match(r.stderr, '--cloud-api-url must use https: (plain http: is allowed only for loopback addresses), got http://127.0.0.1.evil.example')
  const r2 = await runMain(['--api-url', 'ftp://api360.yandex.net', '--cloud-api-url', `https://user:${TOKEN}@cloud-api.yandex.net`], { env: base, cwd: dir })
  t.equal(r2.code, 1)
  t.match(r2.stderr, '--api-url must be an https: URL, got ftp:')
  t.match(r2.stderr, '--cloud-api-url must not contain credentials')
  t.notOk(r2.stderr.includes(TOKEN))
  for (const local of ['http://127.0.0.1:9', 'http://localhost:9', 'http://[::1]:9']) {
    const r3 = await runMain(['--api-url', local, '--cloud-api-url', local, '--retries', '0', '--lookback', '1h'], { env: base, cwd: dir })
    t.notMatch(r3.stderr, /must use https/, `${local} is allowed`)
    t.equal(r3.code, 4, `${local}: allowed, then the API is unreachable (exit 4)`)
  }
})

t.test('base names and extensions with /, \\, .. or NUL are config errors, all at once; nothing is created', async (t) => {
  const dir = t.testdir({ '.env': 'LOG_FILE_EXTENSION="js\0n"\n' })
  const env = { PATH: process.env.PATH ?? '', OAUTH_TOKEN_ARG: TOKEN, ORGANIZATION_ID_ARG: '1', Y360_LOG_FILE: '', MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), DISK_LOG_CATALOG_LOCATION: join(dir, 'disk'), NEW_LOG_CATALOG_LOCATION: join(dir, 'events'), MAIL_LOG_FILE_BASE_NAME: '../../etc/passwd', DISK_LOG_FILE_BASE_NAME: 'a\\b', NEW_LOG_FILE_BASE_NAME: '..' }
  const r = await runMain([], { env, cwd: dir })
  t.equal(r.code, 1, exits(r, 1, 'exit 1'))
  for (const bad of ['"../../etc/passwd"', '"a\\b"', '".."', '"js\\0n"']) t.match(r.stderr, `${bad} must be a plain file name part (no /, \\, .. or NUL)`)
  const r2 = await runMain(['--mail-base', 'x/y'], { env: { ...env, MAIL_LOG_FILE_BASE_NAME: 'ok', DISK_LOG_FILE_BASE_NAME: 'ok2', NEW_LOG_FILE_BASE_NAME: 'ok3' }, cwd: dir })
  t.match(r2.stderr, '"x/y" must be a plain file name part')
  t.same(tree(dir).filter((p) => p !== '.env'), [], 'no directory or file was created')
})

t.test('files are 0640 and new directories 0750 whatever the umask; a world-readable .env warns', async (t) => {
  for (const umask of ['077', '000']) {
    const emu = await emulator(t, { counts: { mail: 200 }, days: 1, seed: 52, faults: { missingTimestamp: 0.05 } })
    const dir = t.testdir({ '.env': `OAUTH_TOKEN_ARG=${TOKEN}\n` })
    writeFileSync(join(dir, '.env'), `OAUTH_TOKEN_ARG=${TOKEN}\n`, { mode: 0o644 })
    const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'archive', 'mail'), Y360_LOG_FILE: '' })
    delete (env as Record<string, string | undefined>).OAUTH_TOKEN_ARG // from .env
    const r = await collect(spawn(...bare('sh', ['-c', `umask ${umask}; exec "$0" "$@"`, process.execPath, CLI, '--lookback', '2d'], env), { cwd: dir, env }))
    t.equal(r.code, 0, exits(r, 0, `umask ${umask}: exit 0`))
    t.match(r.stderr, `${join(dir, '.env')} is readable by other users and holds the token; run: chmod 600 ${join(dir, '.env')}`)
    t.notOk(r.stderr.includes(TOKEN))
    const mail = join(dir, 'archive', 'mail')
    t.equal(statSync(mail).mode & 0o777, 0o750, `umask ${umask}: the created directory is 0750`)
    const files = readdirSync(mail).filter((n) => !n.startsWith('.'))
    t.ok(files.some((n) => n.endsWith('.rejected')) && files.filter((n) => n.endsWith('.json')).length >= 1, files.join(' '))
    for (const f of files) t.equal(statSync(join(mail, f)).mode & 0o777, 0o640, `umask ${umask}: ${f} is 0640`)
  }
})

t.test('record content is data: path-like and control-character subjects land byte-exact and create nothing', async (t) => {
  const day = new Date(Date.now() - 3_600_000).toISOString().slice(0, 10)
  const subjects = ['../../etc/passwd', '/etc/shadow', '..\\..\\windows\\system32', 'nul\u0000byte', '\u001b[31mred\u001b[0m\r\nINFO: forged log line', '\u2028\u2029 line separators', 'quote " and \\ backslash', '{"eventType":"forged"}\n{"x":1}', '$(rm -rf /) `id` ${PATH}', 'Отчёт 📎 \ud83d\ude00', 'x'.repeat(20_000)]
  const recs = subjects.map((subject, i) => ({ eventType: 'message_receive', date: `${day}T00:00:0${i % 10}.${String(100 + i).padStart(3, '0')}Z`, orgId: 123, userUid: '1130000000000001', userLogin: 'a@example.org', userName: 'A', requestId: '', uniqId: String(9000 + i), source: 'imap', mid: String(i), folderName: subject, folderType: 'user', labels: [subject], msgId: `<${i}@x>`, subject, from: 'b@example.org', to: 'a@example.org', cc: '', bcc: '', clientIp: '203.0.113.1' }))
  const data = t.testdir({ 'mail.ndjson': recs.map((r) => JSON.stringify(r)).join('\n') + '\n' })
  const emu = await emulator(t, { datasets: { mail: join(data, 'mail.ndjson') } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), Y360_LOG_FILE: '' })
  const r = await runMain(['--since', `${day}T00:00:00Z`, '--no-log-file'], { env, cwd: dir })
  t.equal(r.code, 0, exits(r, 0, 'exit 0'))
  const archive = readArchive(join(dir, 'mail'), 'mail_audit')
  t.same(checkArchive('mail', archive, recs), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: recs.length })
  const byId = new Map(recs.map((x) => [x.uniqId, JSON.stringify(x)]))
  t.same(archive.lines, archive.lines.map((l) => byId.get((JSON.parse(l) as { uniqId: string }).uniqId)), 'each line is byte-exact the record as the API sent it')
  t.same(tree(dir).filter((p) => !p.startsWith('mail/.')), ['mail/', `mail/mail_audit_${day}.json`], 'nothing but the day file was created')
  t.notOk(r.stderr.includes('\u001b') || r.stderr.includes('forged log line'), 'record content does not reach the log')
})
