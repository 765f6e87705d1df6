// HostLimiter: request spacing for --max-rps and the shared pause after a 429, on an injected clock (no real waiting).
import t from 'tap'
import { HostLimiter, Limiters } from '../../src/sources/limiter.js'

function fakeClock(): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let at = 1_000_000
  const slept: number[] = []
  return {
    now: () => at,
    sleep: async (ms: number) => {
      slept.push(ms)
      at += ms
    },
    slept,
  }
}

t.test('unlimited: no waiting at all', async (t) => {
  const c = fakeClock()
  const l = new HostLimiter({ maxRps: 0, now: c.now, sleep: c.sleep })
  for (let i = 0; i < 50; i++) await l.acquire()
  t.same(c.slept, [])
})

t.test('--max-rps 4 spaces requests 250 ms apart', async (t) => {
  const c = fakeClock()
  const l = new HostLimiter({ maxRps: 4, now: c.now, sleep: c.sleep })
  const start = c.now()
  for (let i = 0; i < 5; i++) await l.acquire()
  t.same(c.slept, [250, 250, 250, 250])
  t.equal(c.now() - start, 1000, '5 requests take 1 s at 4/s')
})

t.test('a 429 pause holds every caller of the host, and never shortens', async (t) => {
  const c = fakeClock()
  const l = new HostLimiter({ maxRps: 0, now: c.now, sleep: c.sleep })
  l.pause(3000)
  l.pause(1000) // a shorter pause told later does not cut the first one
  await l.acquire()
  t.same(c.slept, [3000])
  await l.acquire()
  t.same(c.slept, [3000], 'after the pause requests flow again')
})

t.test('one limiter per host, shared by every source on it', async (t) => {
  const ls = new Limiters({ maxRps: 1 })
  t.equal(ls.for('https://api360.yandex.net/security/v1/org/1/audit_log/mail'), ls.for('https://api360.yandex.net/security/v1/org/1/audit_log/disk'))
  t.not(ls.for('https://api360.yandex.net/x'), ls.for('https://cloud-api.yandex.net/x'))
})

/** A discrete-event clock: sleeps are timers that fire in time order as the test advances; nothing waits for real. */
function eventClock(): { now: () => number; sleep: (ms: number) => Promise<void>; elapse: (ms: number) => Promise<void>; runUntil: (t: number) => Promise<void> } {
  let at = 0
  const timers: { due: number; fire: () => void }[] = []
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r))
  const elapse = (ms: number): Promise<void> => new Promise<void>((fire) => {
    timers.push({ due: at + ms, fire })
    timers.sort((a, b) => a.due - b.due)
  })
  return {
    now: () => at,
    sleep: elapse,
    elapse,
    runUntil: async (end) => {
      for (let i = 0; i < 4; i++) await tick()
      while (timers.length > 0 && timers[0].due <= end) {
        const next = timers.shift() as { due: number; fire: () => void }
        at = Math.max(at, next.due)
        next.fire()
        for (let i = 0; i < 4; i++) await tick()
      }
      at = end
    },
  }
}

// Issue 14: against a server limited to R requests/s (a sliding 1 s window, 429 with Retry-After 1 s), 8 workers
// sharing one limiter get at most 5% 429s after the first seconds and keep at least 90% of R.
t.test('adaptive rate: a host limited to R/s gets few 429s and most of R', async (t) => {
  for (const R of [20, 100]) {
    const c = eventClock()
    const l = new HostLimiter({ maxRps: 0, now: c.now, sleep: c.sleep })
    const window: number[] = []
    let ok = 0
    let limited = 0
    let okAfter = 0
    let limitedAfter = 0
    const LATENCY = 30
    const worker = async (): Promise<void> => {
      for (;;) {
        await l.acquire()
        const now = c.now()
        while (window.length > 0 && window[0] <= now - 1000) window.shift()
        const rejected = window.length >= R
        if (!rejected) window.push(now)
        await c.elapse(LATENCY) // simulated time: the event clock fires it, nothing waits
        const late = now >= 5000
        if (rejected) {
          limited++
          if (late) limitedAfter++
          l.pause(1000)
        } else {
          ok++
          if (late) okAfter++
        }
        if (c.now() >= 45_000) return
      }
    }
    const workers = Array.from({ length: 8 }, worker)
    await c.runUntil(46_000)
    await Promise.all(workers)
    const share = limitedAfter / (okAfter + limitedAfter)
    const rate = okAfter / 40
    t.ok(share <= 0.05, `R=${R}: ${limitedAfter} of ${okAfter + limitedAfter} requests after the first 5 s got 429 (${(share * 100).toFixed(1)}%)`)
    t.ok(rate >= 0.9 * R, `R=${R}: ${rate.toFixed(1)} requests/s accepted after the first 5 s (≥ 90% of ${R})`)
    t.ok(limited > 0 && ok > 0, 'the limit was found')
  }
})

t.test('--max-rps stays a hard cap under the adaptive rate', async (t) => {
  const c = fakeClock()
  const l = new HostLimiter({ maxRps: 2, now: c.now, sleep: c.sleep })
  t.equal(l.rate, 2)
  l.pause(0)
  t.ok(l.rate <= 2)
})
