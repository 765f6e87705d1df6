// --line-format seed is byte-identical to Python's json.dumps(record, ensure_ascii=False). The expected bytes were
// produced once by test/fixtures/make-seed-fixture.py (python3) and are committed: this test needs no Python.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, cliEnv, emulator, runMain, summaryOf } from '../helpers.js'
import { pythonDumps } from '../../src/pipeline/format.js'

const input = join(ROOT, 'test/fixtures/seed-input.ndjson')
const expected = readFileSync(join(ROOT, 'test/fixtures/seed-expected.ndjson'))

t.test('pythonDumps of each fixture record equals the Python line', async (t) => {
  const ins = readFileSync(input, 'utf8').split('\n').slice(0, -1)
  const outs = expected.toString('utf8').split('\n').slice(0, -1)
  t.equal(ins.length, 11)
  ins.forEach((l, i) => t.equal(pythonDumps(JSON.parse(l)), outs[i], `record ${i + 1}`))
})

t.test('the fetch command (in-process) with --line-format seed writes the exact bytes; compact keeps the API text', async (t) => {
  const emu = await emulator(t, { datasets: { mail: input }, switches: { retentionDays: { mail: 3650 } } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'seed') })
  const range = ['--since', '2026-10-01', '--until', '2026-10-02']
  const r = await runMain(['--line-format', 'seed', ...range], { env, cwd: dir })
  t.equal(r.code, 0)
  t.same(readFileSync(join(dir, 'seed', 'mail_audit_2026-10-01.json')), expected, 'byte-identical to Python')

  const c = await runMain(range, { env: { ...env, MAIL_LOG_CATALOG_LOCATION: join(dir, 'compact') }, cwd: dir })
  t.equal(c.code, 0)
  const compact = readFileSync(join(dir, 'compact', 'mail_audit_2026-10-01.json'), 'utf8')
  // Issue 12: compact lines are the text the API sent (the emulator serves a dataset's lines as they are), not re-encoded.
  t.equal(compact, readFileSync(input, 'utf8'), 'compact: the API text, byte for byte')

  const s = await runMain(['--stdout', '--sources', 'mail', '--line-format', 'seed', ...range], { env, cwd: dir })
  t.equal(s.code, 0)
  t.same(Buffer.from(s.stdout), expected, '--stdout honours --line-format too')

  // Seed lines appended to a compact archive (and back) still dedupe: identity is the parsed content.
  const again = await runMain(['--line-format', 'seed', ...range], { env: { ...env, MAIL_LOG_CATALOG_LOCATION: join(dir, 'compact') }, cwd: dir, summary: true })
  t.equal(again.code, 0)
  t.match(summaryOf(again, 'mail'), { ok: true, mode: 'backfill', written: 0 })
  t.equal(summaryOf(again, 'mail').duplicates, 11, 'all 11 fetched records were recognised as already there')
})
