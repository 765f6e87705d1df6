// --watch: runs, sleeps --interval, runs again, one log line per cycle; SIGTERM/SIGINT stop it cleanly (143/130)
// with a consistent archive. Cycles are observed from the child's stderr lines; the test itself never sleeps.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { CLI, checkArchive, cliEnv, emulator, readArchive, runCli } from '../helpers.js'

/** Resolves with the stderr seen so far when `re` first matches it. */
function waitFor(child: ChildProcess, re: RegExp, seen: { text: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (re.test(seen.text)) {
        child.stderr?.off('data', check)
        child.off('exit', onExit)
        resolve(seen.text)
      }
    }
    const onExit = (): void => reject(new Error(`child exited before ${re}: ${seen.text}`))
    child.stderr?.on('data', check)
    child.once('exit', onExit)
    check()
  })
}

function start(args: string[], env: Record<string, string>, cwd: string): { child: ChildProcess; seen: { text: string }; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const seen = { text: '' }
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (seen.text += d))
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, seen, exit }
}

t.test('watch: several cycles, new records picked up, SIGTERM → exit 143 and an exact archive', async (t) => {
  const emu = await emulator(t, { counts: { mail: 2000 }, days: 2, seed: 31 })
  const dir = t.testdir()
  const mailDir = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mailDir })
  const { child, seen, exit } = start(['--watch', '--interval', '20ms', '--lookback', '3d'], env, dir)
  await waitFor(child, /cycle 1 done/, seen)
  const added = emu.inject('mail', 5)
  await waitFor(child, /cycle 4 done/, seen)
  child.kill('SIGTERM')
  t.equal(await exit, 143, 'SIGTERM: exit 143')
  const cycles = seen.text.split('\n').filter((l) => /cycle \d+ done/.test(l))
  t.ok(cycles.length >= 4, `${cycles.length} cycle lines`)
  t.match(cycles[0], /cycle 1 done: exit 0, 2000 records written in .*; next run in 20ms/)
  t.ok(cycles.slice(1).some((l) => /cycle \d+ done: exit 0, 5 records written/.test(l)), 'a later cycle wrote the 5 new records')
  t.equal(added.length, 5)
  t.match(seen.text, /SIGTERM: stopping/)
  t.same(checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail')), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 2005 })
  const v = await runCli(['verify'], { env, cwd: dir })
  t.equal(v.code, 0, 'verify passes after the stop')
  t.match(v.stdout, /mail: \d+ files, 2005 records .*: OK/)
})

t.test('watch: SIGINT → exit 130; --watch with --stdout streams each cycle', async (t) => {
  const emu = await emulator(t, { counts: { disk: 300 }, days: 1, seed: 32 })
  const dir = t.testdir()
  const env = cliEnv(emu)
  const { child, seen, exit } = start(['--watch', '--interval', '20ms', '--stdout', '--sources', 'disk', '--state-file', join(dir, 's.json'), '--lookback', '2d'], env, dir)
  let out = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d))
  await waitFor(child, /cycle 1 done/, seen)
  emu.inject('disk', 4)
  await waitFor(child, /cycle \d+ done: exit 0, 4 records written/, seen)
  child.kill('SIGINT')
  t.equal(await exit, 130, 'SIGINT: exit 130')
  t.equal(out.split('\n').filter((l) => l !== '').length, 304, 'every record once on stdout across cycles')
})
