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
