// --watch against a rate-limited host: what one cycle learnt of the host's rate (its 429s) paces the next cycles from
// their first request (one limiter per host for the whole command), so only the first cycle meets the limit. The run,
// the emulator and the --interval wait share one fake clock that moves only when the run waits: no real time passes.
import t from 'tap'
import { join } from 'node:path'
import { checkArchive, cliEnv, emulator, exact, fakeTimer, readArchive, runMain } from '../helpers.js'

t.test('--watch: the rate a cycle learnt from 429s paces the next cycles, which meet no 429', async (t) => {
  const timer = fakeTimer(Date.parse('2026-06-15T12:00:00.000Z'))
  const emu = await emulator(t, { counts: { mail: 3000 }, days: 1, seed: 41, clock: timer.now, faults: { rateLimitRps: 4, retryAfterSeconds: 1 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const stop = new AbortController()
  const at: { refused: number; requests: number }[] = []
  const r = await runMain(['--watch', '--interval', '10m', '--lookback', '2d'], {
    env, cwd: dir, now: timer.now, timer, signal: stop.signal,
    onStderr: (stderr) => {
      const done = stderr.match(/cycle \d+ done/g)?.length ?? 0
      while (at.length < done) {
        at.push({ refused: emu.stats().faultsInjected.rateLimited, requests: emu.requests().length })
        // New records for the next cycle, stamped within the 10 minutes it waits: a few pages' worth to ask for.
        if (at.length < 3) for (let m = 1; m <= 5; m++) emu.inject('mail', 100, { at: timer.now() + m * 60_000 })
      }
      if (done === 3) stop.abort()
    },
  })
  t.equal(r.code, 130, 'stopped after the third cycle like SIGINT (exit 130)')
  t.equal(at.length, 3, 'three cycles ran')
  t.ok(at[0].refused >= 1, `the first cycle met the host's limit (${at[0].refused} 429s) and learnt it`)
  for (const c of [1, 2]) {
    const requests = at[c].requests - at[c - 1].requests
    t.ok(requests > 4, `cycle ${c + 1} asked the API more than the 4 requests a second the host allows (${requests})`)
    t.equal(at[c].refused - at[c - 1].refused, 0, `cycle ${c + 1}: no 429, paced by the rate learnt before`)
  }
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), exact(3000 + 2 * 500))
})
