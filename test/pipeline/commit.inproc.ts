// The archive output's commit: every source is sealed (side by side), each reported in the sources' order; when
// sealing fails for several, the first failure in that order is the run's (logged by run, its exit code), the others
// are logged with their source, and the sources that sealed are reported as sealed.
import t, { type Test } from 'tap'
import { PassThrough } from 'node:stream'
import { join } from 'node:path'
import { loadConfig } from '../../src/config.js'
import { EXIT_CODES, Y360Error } from '../../src/errors.js'
import { createLogger } from '../../src/log.js'
import { ArchiveOutput } from '../../src/pipeline/outputs/archive.js'
import { run } from '../../src/pipeline/run.js'
import type { BeforeSealRequest } from '../../src/pipeline/seal.js'
import { emulator } from '../helpers.js'

const NOW = Date.UTC(2026, 10, 20, 12, 0, 0)

interface Logged { level: string; msg: string; source?: string; code?: string }

/** A first run of mail and disk over 3 closed days whose re-check hook throws for the sources in `failing`. */
async function sealing(t: Test, failing: readonly string[]): Promise<{ exitCode: number; lines: Logged[]; hooked: string[]; sealed: Record<string, number> }> {
  const emu = await emulator(t, { counts: { mail: 300, disk: 200 }, days: 3, seed: 5, end: NOW - 3 * 3_600_000 * 24 + 3_600_000, clock: () => NOW })
  const dir = t.testdir()
  const out = new PassThrough()
  let text = ''
  out.setEncoding('utf8').on('data', (d: string) => (text += d))
  const { log, close } = await createLogger({ level: 'info', pretty: false, secrets: [], stderr: out })
  const argv = ['--token', emu.token, '--org', String(emu.org), '--api-url', emu.url, '--retry-delay', '5ms', '--no-log-file', '--lookback', '5d', '--mail-dir', join(dir, 'mail'), '--disk-dir', join(dir, 'disk')]
  const cfg = loadConfig({ argv, env: {}, cwd: dir, now: () => NOW })
  const hooked: string[] = []
  const beforeSeal = async (req: BeforeSealRequest): Promise<void> => {
    hooked.push(req.source.name)
    if (failing.includes(req.source.name)) throw new Y360Error('SINK_WRITE', `${req.source.name}: the re-check could not write`)
  }
  const summary = await run({ cfg, log, now: () => NOW, signal: new AbortController().signal, output: () => new ArchiveOutput(cfg, log, () => NOW, { beforeSeal }) })
  close()
  const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Logged)
  const sealed = Object.fromEntries(summary.sources.map((s) => [s.source, s.seal?.sealed.length ?? -1]))
  return { exitCode: summary.exitCode, lines, hooked: hooked.sort(), sealed }
}

const errors = (lines: Logged[]): Pick<Logged, 'msg' | 'source' | 'code'>[] =>
  lines.filter((l) => l.level === 'error').map(({ msg, source, code }) => ({ msg, ...(source === undefined ? {} : { source }), code }))

t.test('both sources fail to seal: both are tried; the first in order is the run failure, the other logged with its source', async (t) => {
  const r = await sealing(t, ['mail', 'disk'])
  t.same(r.hooked, ['disk', 'mail'], 'each source reached its seal')
  t.equal(r.exitCode, EXIT_CODES.SINK_WRITE)
  t.same(errors(r.lines), [
    { msg: 'disk: the re-check could not write', source: 'disk', code: 'SINK_WRITE' },
    { msg: 'mail: the re-check could not write', code: 'SINK_WRITE' },
  ])
  t.same(r.sealed, { mail: -1, disk: -1 }, 'neither reports a seal')
})

t.test('only the second source fails: the first is sealed and reported, the second is the run failure', async (t) => {
  const r = await sealing(t, ['disk'])
  t.same(r.hooked, ['disk', 'mail'])
  t.equal(r.exitCode, EXIT_CODES.SINK_WRITE)
  t.same(errors(r.lines), [{ msg: 'disk: the re-check could not write', code: 'SINK_WRITE' }])
  t.ok(r.sealed.mail > 0, `mail sealed its closed days (${r.sealed.mail})`)
  t.equal(r.sealed.disk, -1)
  t.ok(r.lines.some((l) => l.source === 'mail' && /^mail: sealed /.test(l.msg)), 'mail logs its seal')
})
