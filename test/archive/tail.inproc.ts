// src/archive/tail.ts: openAppend creates day files 0640 whatever the umask; repairTail moves a torn last line (no
// newline, too long, or not a record) to `<file>.torn`, at most three lines, and leaves good files untouched.
import t from 'tap'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { repairTail, writeAll } from '../../src/archive/tail.js'
import { openAppend } from '../../src/atomic.js'

const isRecord = (line: string): boolean => {
  try {
    return typeof (JSON.parse(line) as { id?: unknown }).id === 'number'
  } catch {
    return false
  }
}
const rec = (id: number): string => JSON.stringify({ id }) + '\n'

t.test('openAppend: a new file is 0640 even under umask 0; an existing one is appended to, mode kept', async (t) => {
  const dir = t.testdir({ old: 'a\n' })
  const before = process.umask(0)
  try {
    const fh = await openAppend(join(dir, 'new'))
    await writeAll(fh, Buffer.from('x\n'))
    await fh.close()
  } finally {
    process.umask(before)
  }
  t.equal(statSync(join(dir, 'new')).mode & 0o777, 0o640)
  t.equal(readFileSync(join(dir, 'new'), 'utf8'), 'x\n')
  const oldMode = statSync(join(dir, 'old')).mode & 0o777
  const fh = await openAppend(join(dir, 'old'))
  await writeAll(fh, Buffer.from('b\n'))
  await fh.close()
  t.equal(readFileSync(join(dir, 'old'), 'utf8'), 'a\nb\n')
  t.equal(statSync(join(dir, 'old')).mode & 0o777, oldMode)
})

t.test('repairTail: a good file, an empty file: nothing changes, no sidecar', async (t) => {
  const dir = t.testdir({ good: rec(1) + rec(2), empty: '' })
  t.equal(await repairTail(join(dir, 'good'), isRecord), undefined)
  t.equal(await repairTail(join(dir, 'empty'), isRecord), undefined)
  t.equal(readFileSync(join(dir, 'good'), 'utf8'), rec(1) + rec(2))
  t.notOk(existsSync(join(dir, 'good.torn')))
  t.notOk(existsSync(join(dir, 'empty.torn')))
})

t.test('repairTail: a last line without newline is cut and kept in .torn (with a newline added)', async (t) => {
  const dir = t.testdir({ f: rec(1) + rec(2) + '{"id":3' })
  const path = join(dir, 'f')
  t.same(await repairTail(path, isRecord), { path, bytes: 7, sidecar: `${path}.torn` })
  t.equal(readFileSync(path, 'utf8'), rec(1) + rec(2))
  t.equal(readFileSync(`${path}.torn`, 'utf8'), '{"id":3\n')
  t.equal(statSync(`${path}.torn`).mode & 0o777, 0o640)
})

t.test('repairTail: a complete record without newline is torn too (the write did not finish)', async (t) => {
  const dir = t.testdir({ f: rec(1) + '{"id":2}' })
  const path = join(dir, 'f')
  t.same(await repairTail(path, isRecord), { path, bytes: 8, sidecar: `${path}.torn` })
  t.equal(readFileSync(path, 'utf8'), rec(1))
})

t.test('repairTail: complete lines that are not records are cut, at most three; a second repair appends to .torn', async (t) => {
  const dir = t.testdir({ f: rec(1) + 'junk a\n' + 'junk b\n', g: rec(1) + 'x\n' + 'y\n' + 'z\n' + 'w\n' })
  const f = join(dir, 'f')
  t.same(await repairTail(f, isRecord), { path: f, bytes: 14, sidecar: `${f}.torn` })
  t.equal(readFileSync(f, 'utf8'), rec(1))
  t.equal(readFileSync(`${f}.torn`, 'utf8'), 'junk a\njunk b\n')
  const g = join(dir, 'g')
  t.same(await repairTail(g, isRecord), { path: g, bytes: 6, sidecar: `${g}.torn` }, 'three lines cut, the fourth left for verify')
  t.equal(readFileSync(g, 'utf8'), rec(1) + 'x\n')
  writeFileSync(f, rec(1) + 'again')
  await repairTail(f, isRecord)
  t.equal(readFileSync(`${f}.torn`, 'utf8'), 'junk a\njunk b\nagain\n', 'the sidecar keeps earlier tails')
})

t.test('repairTail: a 5 MB tail without newline is moved whole, not held in memory as a line', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'f')
  const junk = Buffer.alloc(5 * 1024 * 1024, 0x42)
  writeFileSync(path, Buffer.concat([Buffer.from(rec(1)), junk]))
  t.same(await repairTail(path, isRecord), { path, bytes: junk.length, sidecar: `${path}.torn` })
  t.equal(readFileSync(path, 'utf8'), rec(1))
  t.same(readFileSync(`${path}.torn`), Buffer.concat([junk, Buffer.from('\n')]))
})
