// The Kubernetes case (issue 13, point 4), as far as this machine allows: a run under another host name (a pod, in a
// UTS namespace: `unshare -u`, root only) is SIGKILLed while holding the archive lock; the next run, on this host,
// refuses the lock while it is fresh (exit 6, naming the other host and --lock-stale) and takes it over once it has not
// been refreshed for longer than --lock-stale, with a warning naming the old holder, then completes the archive. The
// lock's age is set with utimes (what a dead holder's lock looks like after --lock-stale), not by waiting.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, EXACT, checkArchive, cliEnv, collect, emulator, readArchive, runCli, bare } from '../helpers.js'

const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['-u', 'true']).status === 0

t.test('a lock left by a SIGKILLed run under another host name is taken over once stale', { skip: canUnshare ? false : 'needs root and unshare -u' }, async (t) => {
  const emu = await emulator(t, { counts: { mail: 400 }, days: 2, seed: 13, faults: { latencyMs: 150 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const lock = join(dir, 'mail', '.y360-audit.lock')
  const pod = spawn(...bare('unshare', ['-u', 'sh', '-c', 'hostname other-pod && exec "$0" "$@"', process.execPath, CLI, '--lookback', '3d', '--concurrency', '1']), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const done = collect(pod as unknown as Parameters<typeof collect>[0])
  // Killed once it holds the lock and fetches (the lock is taken before any fetch): like an OOM kill or an eviction.
  await new Promise<void>((resolve, reject) => {
    let seen = ''
    pod.stderr.on('data', (d: Buffer) => {
      seen += d.toString()
      if (/fetching from/.test(seen)) resolve()
    })
    pod.on('close', () => reject(new Error(`the pod run ended before being killed:\n${seen}`)))
  })
  pod.kill('SIGKILL')
  const killed = await done
  t.equal(killed.signal, 'SIGKILL')
  t.ok(existsSync(lock), `the killed run left its lock\n${killed.stderr}`)
  const held = JSON.parse(readFileSync(lock, 'utf8')) as { host: string; pid: number }
  t.equal(held.host, 'other-pod', 'written under the pod\'s host name')

  const fresh = await runCli(['--lookback', '3d', '--lock-stale', '2m'], { env, cwd: dir })
  t.equal(fresh.code, 6, `a fresh lock of another host is respected: exit 6\n${fresh.stderr}`)
  t.match(fresh.stderr, 'another host: taken over once it is not refreshed for --lock-stale 120s')

  const past = (Date.now() - 150_000) / 1000 // last refreshed 2.5 minutes ago: its holder is gone
  utimesSync(lock, past, past)
  const taken = await runCli(['--lookback', '3d', '--lock-stale', '2m'], { env, cwd: dir })
  t.equal(taken.code, 0, taken.stderr)
  t.match(taken.stderr, /taking over the stale lock .*other-pod/, 'the warning names the old holder')
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), { ...EXACT, total: 400 }, 'the archive is complete and exact')
  t.notOk(existsSync(lock), 'released at the end')
})
