// Debug log file: get_audit_logs.log in the working directory by default, --log-file PATH, --no-log-file;
// rotated like the Python script (1 MB, 5 backups: .1 … .5); the token never reaches it. In-process (runMain).
import t from 'tap'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createLogger } from '../../src/log.js'
import { RotatingLogFile } from '../../src/logfile.js'
import { cliEnv, emulator, runMain } from '../helpers.js'

t.test('default get_audit_logs.log in the cwd, debug lines, token redacted; --log-file; --no-log-file', async (t) => {
  const emu = await emulator(t, { counts: { mail: 200 }, days: 2 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  delete (env as Record<string, string | undefined>).Y360_LOG_FILE
  const r = await runMain(['--lookback', '3d'], { env, cwd: dir })
  t.equal(r.code, 0)
  t.same(readdirSync(dir).filter((n) => n.includes('log')).sort(), ['get_audit_logs.log'], 'exactly the Python script\'s file name')
  const text = readFileSync(join(dir, 'get_audit_logs.log'), 'utf8')
  t.match(text, /"level":"debug",.*"msg":"mail: fetched [^"]*: \d+ pages, \d+ records"/, "debug lines (one per window) are in the file")
  t.match(text, /mail: ok, fetched 200/)
  t.equal(statSync(join(dir, 'get_audit_logs.log')).mode & 0o777, 0o640)
  t.notOk(text.includes(emu.token))

  const r2 = await runMain(['--log-file', 'logs/debug.log'], { env, cwd: dir })
  t.equal(r2.code, 0)
  t.match(readFileSync(join(dir, 'logs', 'debug.log'), 'utf8'), /mail: ok/)

  const dir3 = t.testdir()
  const r3 = await runMain(['--no-log-file', '--mail-dir', join(dir3, 'mail'), '--lookback', '1d'], { env, cwd: dir3 })
  t.equal(r3.code, 0)
  t.same(readdirSync(dir3), ['mail'], 'no log file at all')
})

t.test('RotatingLogFile: rotates before passing maxBytes, keeps `keep` backups, newest in .1', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'get_audit_logs.log')
  const f = new RotatingLogFile({ path, maxBytes: 100, keep: 5 })
  const line = (i: number): string => `line ${String(i).padStart(3, '0')} ${'x'.repeat(30)}\n` // 40 bytes
  for (let i = 0; i < 40; i++) f.write(line(i))
  f.end()
  t.same(readdirSync(dir).sort(), ['get_audit_logs.log', 'get_audit_logs.log.1', 'get_audit_logs.log.2', 'get_audit_logs.log.3', 'get_audit_logs.log.4', 'get_audit_logs.log.5'])
  // 2 lines (80 bytes) per file: the current file has lines 38-39, .1 has 36-37, … .5 has 28-29
  t.equal(readFileSync(path, 'utf8'), line(38) + line(39))
  t.equal(readFileSync(path + '.1', 'utf8'), line(36) + line(37))
  t.equal(readFileSync(path + '.5', 'utf8'), line(28) + line(29))
  for (const n of readdirSync(dir)) t.ok(statSync(join(dir, n)).size <= 100, `${n} within maxBytes`)
  const again = new RotatingLogFile({ path, maxBytes: 100, keep: 5 })
  again.write(line(40))
  again.end()
  t.equal(readFileSync(path + '.1', 'utf8'), line(38) + line(39), 'a new process continues the same rotation')
  t.equal(readFileSync(path, 'utf8'), line(40))
})

t.test('createLogger: the token is scrubbed from the file and stderr whatever path it took', async (t) => {
  const dir = t.testdir()
  const token = 'y0_secret-token-0123456789'
  let err = ''
  const { log, close } = await createLogger({ level: 'info', pretty: false, file: { path: join(dir, 'f.log'), maxBytes: 1 << 20, keep: 5 }, secrets: [token], stderr: { write: (s: string) => (err += s) } as unknown as NodeJS.WritableStream })
  log.info({ token }, `message with ${token} inside`)
  log.debug({ headers: { authorization: `OAuth ${token}` }, url: `http://x/?t=${token}` }, 'debug only')
  await close()
  const file = readFileSync(join(dir, 'f.log'), 'utf8')
  t.notOk(file.includes(token))
  t.notOk(err.includes(token))
  t.match(file, /message with \[REDACTED\] inside/)
  t.match(file, /"authorization":"\[REDACTED\]"/)
  t.match(file, /debug only/)
  t.notMatch(err, /debug only/, 'stderr at info')
  t.ok(existsSync(join(dir, 'f.log')))
})

t.test('createLogger: a line no destination takes is not built (its fields are never read); with a log file, debug lines are', async (t) => {
  const dir = t.testdir()
  let reads = 0
  const fields = { get window(): string { reads++; return 'w' } }
  let err = ''
  const stderr = { write: (s: string) => (err += s) } as unknown as NodeJS.WritableStream
  const quiet = await createLogger({ level: 'warn', pretty: false, secrets: [], stderr })
  quiet.log.debug(fields, 'per-window line')
  quiet.log.info(fields, 'info line')
  quiet.log.warn(fields, 'a warning')
  await quiet.close()
  t.equal(reads, 1, 'only the warning was built')
  t.match(err, /"level":"warn",.*"window":"w".*"msg":"a warning"/)
  t.notMatch(err, /per-window|info line/)
  const filed = await createLogger({ level: 'warn', pretty: false, file: { path: join(dir, 'f.log'), maxBytes: 1 << 20, keep: 5 }, secrets: [], stderr })
  filed.log.debug(fields, 'per-window line')
  await filed.close()
  t.equal(reads, 2, 'the file takes debug lines: built')
  t.match(readFileSync(join(dir, 'f.log'), 'utf8'), /"window":"w".*per-window line/)
})
