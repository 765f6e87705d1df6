// y360-audit verify: passes on a good archive; on each kind of damage exits 7 naming file, line and kind;
// --sources narrows it; it streams (a 40 MB file checks under a 24 MB heap cap: a real process with that cap).
// The rest runs in-process (runMain).
import t from 'tap'
import { spawn } from 'node:child_process'
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, cliEnv, emulator, runMain, bare } from '../helpers.js'

const ts = (line: string): number => Date.parse((JSON.parse(line) as { date: string }).date)

t.test('verify: OK on a good archive, exit 7 naming file:line for each kind of damage', async (t) => {
  const emu = await emulator(t, { counts: { mail: 600, disk: 200 }, days: 3, seed: 51 })
  const root = t.testdir()
  const good = join(root, 'good')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(good, 'mail'), DISK_LOG_CATALOG_LOCATION: join(good, 'disk') })
  // Not sealed: this test is about the line checks; the damage below would also break seals (test/operator/seal.inproc.ts).
  t.equal((await runMain(['--lookback', '4d', '--no-seal'], { env, cwd: root })).code, 0)
  const ok = await runMain(['verify'], { env, cwd: root })
  t.equal(ok.code, 0, 'a good archive passes')
  const mailFiles = readdirSync(join(good, 'mail')).filter((n) => n.startsWith('mail_audit_')).sort()
  t.match(ok.stdout, new RegExp(`^mail: ${mailFiles.length} files, 600 records from \\S+ to \\S+: OK\\ndisk: \\d+ files, 200 records from \\S+ to \\S+: OK\\n$`))

  /** Copies the good archive, lets `damage` edit the lines of one mail day file, runs verify on the copy. */
  const damaged = async (name: string, fileIndex: number, damage: (lines: string[]) => string): Promise<{ code: number | null; stdout: string; file: string }> => {
    const dir = join(root, name)
    cpSync(good, dir, { recursive: true })
    const file = join(dir, 'mail', mailFiles[fileIndex])
    writeFileSync(file, damage(readFileSync(file, 'utf8').split('\n').slice(0, -1)))
    const r = await runMain(['verify'], { env: { ...env, MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), DISK_LOG_CATALOG_LOCATION: join(dir, 'disk') }, cwd: root })
    return { code: r.code, stdout: r.stdout, file }
  }
  const body = (lines: string[]): string => lines.map((l) => l + '\n').join('')

  const unparseable = await damaged('unparseable', 1, (ls) => body(ls.map((l, i) => (i === 4 ? l.slice(0, 40) : l))))
  t.equal(unparseable.code, 7)
  t.match(unparseable.stdout, `${unparseable.file}:5: unparseable: `)
  t.match(unparseable.stdout, /^mail: .*: 1 problem\(s\)$/m)
  t.match(unparseable.stdout, /^disk: .*: OK$/m, 'the other source is still checked')

  const noTs = await damaged('no-timestamp', 1, (ls) => body(ls.map((l, i) => (i === 6 ? JSON.stringify({ ...JSON.parse(l), date: undefined }) : l))))
  t.equal(noTs.code, 7)
  t.match(noTs.stdout, `${noTs.file}:7: no-timestamp: `)

  const order = await damaged('out-of-order', 1, (ls) => {
    const j = ls.findIndex((l) => ts(l) - ts(ls[2]) > 10 * 60_000) // > 10 minutes later: beyond the 2-minute tolerance
    ;[ls[2], ls[j]] = [ls[j], ls[2]]
    return body(ls)
  })
  t.equal(order.code, 7)
  t.match(order.stdout, `${order.file}:4: out-of-order: `)

  const dup = await damaged('duplicate', 1, (ls) => body([...ls.slice(0, 20), ls[19], ...ls.slice(20)]))
  t.equal(dup.code, 7)
  t.match(dup.stdout, `${dup.file}:21: duplicate: `)
  t.match(dup.stdout, /^mail: .*: 1 problem\(s\)$/m, 'exactly one problem')

  // wrong day: the first record of the next day's file appended to this day's file.
  let moved = ''
  const wrong = await damaged('wrong-day', 1, (ls) => {
    const next = readFileSync(join(good, 'mail', mailFiles[2]), 'utf8').split('\n')
    moved = next[0]
    return body([...ls, moved])
  })
  t.equal(wrong.code, 7)
  const n = readFileSync(wrong.file, 'utf8').split('\n').length - 1
  t.match(wrong.stdout, `${wrong.file}:${n}: wrong-day: ${new Date(ts(moved)).toISOString()} belongs to ${mailFiles[2].slice(11, 21)}`)

  const torn = await damaged('torn', mailFiles.length - 1, (ls) => body(ls).slice(0, -25))
  t.equal(torn.code, 7)
  const tornLines = readFileSync(torn.file, 'utf8').split('\n').length
  t.match(torn.stdout, `${torn.file}:${tornLines}: unparseable: `)
  t.match(torn.stdout, `${torn.file}:${tornLines}: torn-tail: the last line has no newline`)

  // A "line" of 2 MB (junk without newlines): reported with its place, the other files still checked, bounded memory.
  const junk = await damaged('junk', 0, (ls) => body(ls.slice(0, 2)) + 'A'.repeat(2 * 1024 * 1024) + '\n' + body(ls.slice(2)))
  t.equal(junk.code, 7)
  t.match(junk.stdout, `${junk.file}:3: unparseable: a line longer than 1048576 bytes; the rest of this file was not checked`)
  t.match(junk.stdout, /^mail: .*: 1 problem\(s\)$/m, 'the other mail files are clean')

  const narrowed = await runMain(['verify', '--sources', 'disk'], { env: { ...env, MAIL_LOG_CATALOG_LOCATION: join(root, 'torn', 'mail'), DISK_LOG_CATALOG_LOCATION: join(root, 'torn', 'disk') }, cwd: root })
  t.equal(narrowed.code, 0, '--sources disk skips the damaged mail archive')
  t.match(narrowed.stdout, /^disk: \d+ files, 200 records .*: OK\n$/)

  const missing = await runMain(['verify'], { env: { ...env, MAIL_LOG_CATALOG_LOCATION: join(root, 'nope') }, cwd: root })
  t.equal(missing.code, 1, 'a missing archive directory is a configuration error, not an empty OK')
  t.match(missing.stderr, /does not exist/)
})

t.test('verify streams: a 40 MB day file is checked under a 24 MB heap cap', async (t) => {
  const dir = t.testdir({ mail: {} })
  const pad = 'x'.repeat(4000)
  const start = Date.parse('2026-10-01T00:00:00Z')
  const lines: string[] = []
  for (let i = 0; i < 10_000; i++) lines.push(JSON.stringify({ eventType: 'message_seen', date: new Date(start + i * 1000).toISOString(), uniqId: String(i), pad }))
  writeFileSync(join(dir, 'mail', 'mail_audit_2026-10-01.json'), lines.join('\n') + '\n')
  lines.length = 0
  const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(...bare(process.execPath, ['--max-old-space-size=24', CLI, 'verify']), { cwd: dir, env: { PATH: process.env.PATH ?? '', TZ: 'UTC', MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), Y360_LOG_FILE: '' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
    child.on('close', (code) => resolve({ code, out, err }))
  })
  t.equal(r.err, '')
  t.equal(r.code, 0)
  t.equal(r.out, 'mail: 1 files, 10000 records from 2026-10-01T00:00:00.000Z to 2026-10-01T02:46:39.000Z: OK\n')
})
