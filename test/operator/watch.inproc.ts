// --watch: runs, sleeps --interval, runs again, one log line per cycle; SIGTERM/SIGINT stop it cleanly (143/130)
// with a consistent archive: real processes (signals). Cycles are observed from the child's stderr lines; the test
// itself never sleeps.
import t from 'tap'
import { join } from 'node:path'
import { checkArchive, cliEnv, emulator, exact, readArchive, runMain, startCli } from '../helpers.js'

t.test('watch: several cycles, new records picked up, SIGTERM → exit 143 and an exact archive', async (t) => {
  const emu = await emulator(t, { counts: { mail: 300 }, days: 2, seed: 31 })
  const dir = t.testdir()
  const mailDir = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mailDir })
  const live = startCli(['--watch', '--interval', '20ms', '--lookback', '3d'], { env, cwd: dir })
  await live.waitLine(/cycle 1 done/)
  const added = emu.inject('mail', 5)
  await live.waitLine(/cycle 4 done/)
  live.child.kill('SIGTERM')
  const end = await live.done
  t.equal(end.code, 143, 'SIGTERM: exit 143')
  const cycles = end.stderr.split('\n').filter((l) => /cycle \d+ done/.test(l))
  t.ok(cycles.length >= 4, `${cycles.length} cycle lines`)
  t.match(cycles[0], /cycle 1 done: exit 0, 300 records written in .*; next run in 20ms/)
  t.ok(cycles.slice(1).some((l) => /cycle \d+ done: exit 0, 5 records written/.test(l)), 'a later cycle wrote the 5 new records')
  t.equal(added.length, 5)
  t.match(end.stderr, /SIGTERM: stopping/)
  t.same(checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail')), exact(305))
  const v = await runMain(['verify'], { env, cwd: dir })
  t.equal(v.code, 0, 'verify passes after the stop')
  t.match(v.stdout, /mail: \d+ files, 305 records .*: OK/)
})

t.test('watch: SIGINT → exit 130; --watch with --stdout streams each cycle', async (t) => {
  const emu = await emulator(t, { counts: { disk: 300 }, days: 1, seed: 32 })
  const dir = t.testdir()
  const env = cliEnv(emu)
  const live = startCli(['--watch', '--interval', '20ms', '--stdout', '--sources', 'disk', '--state-file', join(dir, 's.json'), '--lookback', '2d'], { env, cwd: dir })
  await live.waitLine(/cycle 1 done/)
  emu.inject('disk', 4)
  await live.waitLine(/cycle \d+ done: exit 0, 4 records written/)
  live.child.kill('SIGINT')
  const end = await live.done
  t.equal(end.code, 130, 'SIGINT: exit 130')
  t.equal(end.stdout.split('\n').filter((l) => l !== '').length, 304, 'every record once on stdout across cycles')
})
