// The emulator CLI as a child process: ready line, one request, SIGTERM → exit 0; bad flags → 1.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { emulatorMain, parseEmulatorArgs } from '../../src/emulator/cli.js'
import { ROOT, bare } from '../helpers.js'

// The built bin (what the package ships; `npm test` builds first): under tap's TypeScript loader the .ts entry took
// 10 s to start on a busy machine. From ROOT: this file also runs compiled, as dist/test/emulator/cli.inproc.js.
const BIN = join(ROOT, 'dist/src/emulator/bin.js')

t.test('bin: ready line, serves, exits 0 on SIGTERM', async (t) => {
  const child = spawn(...bare(process.execPath, [BIN, '--token', 'T', '--org', '77', '--mail', '50', '--seed', '3', '--faults', '{"latencyMs":1}']), { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  // The ready line, or the child's end (then the test fails at once instead of at tap's timeout).
  await new Promise<void>((resolve, reject) => {
    const onData = (d: string): void => {
      out += d
      if (out.includes('\n')) {
        child.stdout.off('data', onData)
        resolve()
      }
    }
    child.stdout.on('data', onData)
    child.once('exit', (code, signal) => reject(new Error(`the emulator ended (${code ?? signal}) before its ready line; stderr:\n${err}`)))
  })
  const ready = JSON.parse(out.split('\n')[0])
  t.same(Object.keys(ready), ['url', 'org', 'token'])
  t.equal(ready.org, 77)
  t.equal(ready.token, 'T')
  const res = await request(`${ready.url}/security/v1/org/77/audit_log/mail?pageSize=100`, { headers: { authorization: 'OAuth T' } })
  t.equal(res.statusCode, 200)
  t.equal(((await res.body.json()) as any).events.length, 50)
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 0)
  t.equal(out.trim().split('\n').length, 1, 'exactly one line on stdout')
})

t.test('flag parsing', async (t) => {
  const o = parseEmulatorArgs(['--mail', '10', '--live-rate', '300/m', '--late-fraction', '0.1', '--late-max', '30', '--end', '2025-06-15T00:00:00Z', '--switches', '{"pageDepthCap":5}'])
  if (typeof o !== 'object' || Array.isArray(o)) throw new Error('expected options')
  t.same(o.counts, { mail: 10, disk: 0, events: 0 })
  t.same(o.live, { ratePerSec: 5, lateFraction: 0.1, lateMaxSeconds: 30 })
  t.equal(o.end, Date.UTC(2025, 5, 15))
  t.same(o.switches, { pageDepthCap: 5 })
  t.equal(parseEmulatorArgs(['--help']), 'help')
  const bad = parseEmulatorArgs(['--mail', 'x', '--live-rate', 'fast', '--faults', '{'])
  t.ok(Array.isArray(bad) && bad.length === 3)
  t.ok(Array.isArray(parseEmulatorArgs(['--bogus'])))
})

t.test('emulatorMain: unknown flag → 1 with a message on stderr; bad faults → 1', async (t) => {
  const errs: string[] = []
  const orig = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((s: string) => { errs.push(String(s)); return true }) as typeof process.stderr.write
  try {
    t.equal(await emulatorMain(['--nope']), 1)
    t.equal(await emulatorMain(['--faults', '{"stall":5}']), 1)
  } finally {
    process.stderr.write = orig
  }
  t.match(errs.join(''), /nope/)
  t.match(errs.join(''), /stall/)
})
