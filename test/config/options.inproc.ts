// The option rows: the README's table is generated from them, every default parses with its own parser, the
// per-source rows carry the Python script's variables, and no flag or variable is listed twice.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { OPTIONS, readmeTable, SOURCE_OPTIONS } from '../../src/config/options.js'
import { ROOT } from '../helpers.js'

t.test('the README options table is the one the rows generate', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('| flag | variable | default | meaning |')
  const end = readme.indexOf('\n\n', start)
  // On failure: paste the output of readmeTable() (dist/src/config/options.js) into README.md, "### Options".
  t.equal(readme.slice(start, end), readmeTable())
})

t.test('every default parses with its own parser (a refused value falls back to it)', async (t) => {
  for (const o of OPTIONS) {
    if (o.kind !== 'string' || o.default === undefined) continue
    const r = o.parse(o.default, { flag: o.flag, cwd: '/w', now: 0, zone: 'UTC' })
    t.ok(r.ok && r.value !== undefined, `--${o.flag} ${o.default}`)
  }
})

t.test('per-source rows: the Python script\'s variables and base names, generated once per source', async (t) => {
  const rows = Object.entries(SOURCE_OPTIONS).map(([name, s]) => [name, s.dir.flag, s.dir.env, s.base.flag, s.base.env, s.base.default])
  t.strictSame(rows, [
    ['mail', 'mail-dir', 'MAIL_LOG_CATALOG_LOCATION', 'mail-base', 'MAIL_LOG_FILE_BASE_NAME', 'mail_audit'],
    ['disk', 'disk-dir', 'DISK_LOG_CATALOG_LOCATION', 'disk-base', 'DISK_LOG_FILE_BASE_NAME', 'disk_audit'],
    ['events', 'events-dir', 'NEW_LOG_CATALOG_LOCATION', 'events-base', 'NEW_LOG_FILE_BASE_NAME', 'y360_audit'],
  ])
  for (const s of Object.values(SOURCE_OPTIONS)) t.ok(OPTIONS.includes(s.dir) && OPTIONS.includes(s.base), `${s.dir.flag} and ${s.base.flag} are options`)
})

t.test('flags and variables are unique', async (t) => {
  const flags = OPTIONS.map((o) => o.flag)
  const envs = OPTIONS.flatMap((o) => (o.env === undefined ? [] : [o.env]))
  t.equal(new Set(flags).size, flags.length)
  t.equal(new Set(envs).size, envs.length)
})
