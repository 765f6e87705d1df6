// Terminal output (issue 15). Guards: on a real terminal (script(1)) log lines are short (no field dumps) unless
// --log-level debug, colour is on unless NO_COLOR or TERM=dumb, TERM=dumb has no progress escapes; off a terminal,
// JSON lines carry level names; with stderr being the journal (JOURNAL_STREAM = its device:inode) each line starts
// with its syslog priority; "created directory" is info, so --quiet hides it.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, fstatSync, openSync, closeSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, cliEnv, emulator, runMain, bare } from '../helpers.js'

const hasScript = existsSync('/usr/bin/script')

/** Runs the CLI under a pseudo-terminal (util-linux script), returning everything the terminal showed. */
function underTty(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; screen: string }> {
  const cmd = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  return new Promise((resolve, reject) => {
    const child = spawn(...bare('script', ['-qfec', `stty cols 200 rows 40; ${cmd}`, '/dev/null'], env), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let screen = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (screen += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, screen }))
  })
}

t.test('a terminal: short lines, colour unless NO_COLOR / TERM=dumb, fields only at debug', { skip: hasScript ? false : 'util-linux script(1) not installed' }, async (t) => {
  const emu = await emulator(t, { counts: { mail: 400 }, days: 1, seed: 4 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), TERM: 'xterm' })
  const color = await underTty(['--lookback', '2d'], env, dir)
  t.equal(color.code, 0)
  t.match(color.screen, /\x1b\[32mINFO\x1b\[39m.*created directory /, 'coloured level')
  t.match(color.screen, /mail: ok, fetched \d+ in \d+ pages, wrote 400/, 'the summary line (fetched: 400 and the records of neighbours and re-read instants)')
  t.notMatch(color.screen, /^\s+(summary|files|dir|source): /m, 'no field lines under the messages')
  const plain = await underTty([], { ...env, NO_COLOR: '1' }, dir)
  t.equal(plain.code, 0)
  t.notMatch(plain.screen, /\x1b\[3\dm/, 'NO_COLOR: no colour')
  t.match(plain.screen, /INFO.*mail: ok, fetched \d+ in \d+ pages, wrote 0/)
  const dumb = await underTty([], { ...env, TERM: 'dumb' }, dir)
  t.equal(dumb.code, 0)
  t.notMatch(dumb.screen, /\x1b\[/, 'TERM=dumb: no escape at all (no colour, no progress redraw)')
  const debug = await underTty(['--log-level', 'debug'], { ...env, NO_COLOR: '1' }, dir)
  t.match(debug.screen, /^\s+summary: \{/m, '--log-level debug: the fields are shown')
})

t.test('off a terminal: JSON with level names; --quiet hides "created directory"', async (t) => {
  const emu = await emulator(t, { counts: { mail: 100 }, days: 1, seed: 5 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const r = await runMain(['--lookback', '2d'], { env, cwd: dir })
  t.equal(r.code, 0)
  const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: unknown; msg: string; summary?: unknown })
  t.same([...new Set(lines.map((l) => l.level))], ['info'], 'level names')
  t.same(lines[0], { level: 'info', time: (lines[0] as { time?: string }).time, dir: join(dir, 'mail'), msg: `created directory ${join(dir, 'mail')}` })
  // JSON lines are for machines (journald, Kubernetes logs): the summary line carries the summary object; a terminal
  // shows the line alone (above).
  const summary = lines.find((l) => l.summary !== undefined) as { msg: string; summary: { source: string; written: number } } | undefined
  t.match(summary, { msg: /^mail: ok, fetched \d+ in \d+ pages, wrote \d+/, summary: { source: 'mail', written: 100 } }, 'the summary object rides on the summary line')
  const quiet = await runMain(['--quiet'], { env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'other') }), cwd: dir })
  t.same([quiet.code, quiet.stderr], [0, ''], '--quiet: nothing, not even "created directory"')
})

t.test('stderr is the journal: each JSON line starts with its syslog priority', async (t) => {
  const emu = await emulator(t, { counts: { mail: 50 }, days: 1, seed: 6 })
  const dir = t.testdir()
  const file = join(dir, 'journal.txt')
  const fd = openSync(file, 'w')
  const st = fstatSync(fd)
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), JOURNAL_STREAM: `${st.dev}:${st.ino}` })
  const child = spawn(...bare(process.execPath, [CLI, '--lookback', '2d', '--types', 'message_teleported'], env), { cwd: dir, env, stdio: ['ignore', 'ignore', fd] })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  closeSync(fd)
  t.equal(code, 0)
  const lines = readFileSync(file, 'utf8').trim().split('\n')
  t.match(lines[0], /^<4>\{"level":"warn",.*"msg":"mail: event type \\"message_teleported\\" is not in the known list; sending it anyway"\}$/)
  t.ok(lines.slice(1).every((l) => /^<6>\{"level":"info",/.test(l)), 'info lines: <6>')
  // The same variable with another stderr (inherited by a child whose stderr was redirected): no prefix.
  const r = await runMain(['--lookback', '2d'], { env: { ...env, MAIL_LOG_CATALOG_LOCATION: join(dir, 'again') }, cwd: dir })
  t.match(r.stderr, /^\{"level":"info"/, 'not the journal: plain JSON')
})
