// The run's thread out of memory (the CLI started as `node dist/src/cli.js`, so the run is in a worker thread with a
// bounded heap): exit 70 and one line naming the limit and what to do, nothing on stdout; the next run, with the
// normal heap, completes the archive exactly. The heap is made too small through the CLI's test seam
// (Y360_TEST_WORKER_HEAP_MB; 4 MiB: the thread dies while loading, before its first request): the design keeps a run
// far under its 256 MiB, so no input of a test reaches it.
import t from 'tap'
import { join } from 'node:path'
import { EXIT_CODES } from '../../src/errors.js'
import { checkArchive, cliEnv, emulator, exact, readArchive, runCli } from '../helpers.js'

t.test('out of memory in the run\'s thread: exit 70 naming the limit; the next run completes the archive', async (t) => {
  const emu = await emulator(t, { counts: { mail: 2000 }, days: 1, seed: 51 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const oom = await runCli(['--lookback', '2d'], { env: { ...env, Y360_TEST_WORKER_HEAP_MB: '4' }, cwd: dir })
  t.equal(oom.code, EXIT_CODES.INTERNAL, `exit 70 (stderr: ${oom.stderr})`)
  t.match(oom.stderr, /^y360-audit: out of memory: the run's heap passed 4 MiB \(give node a larger --max-old-space-size to run it in the process instead\)$/m)
  t.equal(oom.stdout, '', 'nothing on stdout')
  const next = await runCli(['--lookback', '2d'], { env, cwd: dir })
  t.equal(next.code, 0, `the next run exits 0 (stderr: ${next.stderr})`)
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), exact(2000))
})
