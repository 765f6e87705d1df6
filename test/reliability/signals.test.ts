// Graceful stop. Guards: SIGTERM/SIGINT mid-run stop fetching, flush + fsync what was fetched, exit 143/130, release the
// lock; a second signal exits at once; either way the archive is a valid prefix (verify passes) and the next run
// completes it exactly. Signals are sent when the emulator has seen a given number of requests (no sleeps).
// The interrupted run is a real process (signals are the point); verify and the next run run in this process (runMain).
import t, { type Test } from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { checkArchive, cliEnv, emulator, readArchive, runMain } from '../helpers.js'
import { exits, prefixProblems, startCli, summaryOf, type LiveCli } from './util.js'

/** The request at which the signal is sent: past the first round trip (two probe slices) and the first windows written. */
const SIGNAL_AT = 20
/** Windows fetched at once: the most requests that can be on their way when the stop is set. */
const CONCURRENCY = 2

async function interrupted(t: Test, sig: 'SIGTERM' | 'SIGINT', twice: boolean, want: number): Promise<void> {
  let live: LiveCli | undefined
  let at = 0
  const emu = await emulator(t, {
    counts: { mail: 3000 }, days: 2, seed: 21, faults: { latencyMs: 10 },
    onRequest: (n) => {
      if (n === SIGNAL_AT && live !== undefined) {
        at = n
        live.child.kill(sig)
      }
    },
  })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  live = startCli(['--lookback', '3d', '--concurrency', String(CONCURRENCY), '--max-pages', '3'], { env, cwd: dir })
  // The child logs the line once its stop signal is set: any request the emulator sees later was sent before that (at
  // most one per window in flight) or is a request the stop failed to prevent. How many requests reach the emulator
  // between the kill and the line depends on the machine's load, so the bound counts from the line.
  const stopping = live.waitLine(new RegExp(`${sig}: stopping`)).then(() => emu.stats().requests)
  if (twice) {
    await stopping
    live.child.kill(sig)
  }
  const r = await live.done
  const atLine = await stopping
  t.equal(at, SIGNAL_AT, 'the signal was sent mid-run')
  t.equal(r.code, want, exits(r, want, `exit ${want}`))
  t.match(r.stderr, `${sig}: stopping; finishing the write in progress`)
  if (!twice) {
    t.match(summaryOf(r, 'mail'), { ok: false, code: 'INTERRUPTED' })
    t.notOk(existsSync(join(mail, '.y360-audit.lock')), 'the lock is released')
  }
  const requests = emu.stats().requests
  t.ok(requests <= atLine + CONCURRENCY, `fetching stopped (${atLine} requests when the child said so, ${requests} in all)`)

  const partial = readArchive(mail, 'mail_audit') // throws on a torn line
  t.ok(partial.lines.length > 0 && partial.lines.length < 3000, `a part was flushed (${partial.lines.length} records)`)
  t.same(prefixProblems('mail', partial, emu.truth('mail')), [], 'what is on disk is a valid prefix')
  const v = await runMain(['verify'], { env, cwd: dir })
  t.equal(v.code, 0, exits(v, 0, 'verify passes on the interrupted archive'))

  emu.setFaults({ latencyMs: 0 }) // the latency only keeps the child from running ahead of its signal
  const next = await runMain([], { env, cwd: dir })
  t.equal(next.code, 0, exits(next, 0, 'the next run exits 0'))
  t.same(checkArchive('mail', readArchive(mail, 'mail_audit'), emu.truth('mail')), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 3000 })
}

t.test('SIGTERM mid-run: flush, exit 143, next run completes', (t) => interrupted(t, 'SIGTERM', false, 143))
t.test('SIGINT mid-run: flush, exit 130, next run completes', (t) => interrupted(t, 'SIGINT', false, 130))
t.test('a second SIGINT exits at once; the archive is still a valid prefix', (t) => interrupted(t, 'SIGINT', true, 130))
