// src/archive/manifest.ts: sealDays appends one entry per new or changed day (synced, hash-chained, signed with a key),
// skips days that still match; checkSeals names each kind of tampering with its file; a chain signed with another key
// or carrying a forged entry fails; a torn last fragment is ignored by readers and moved aside by the next seal.
import t, { type Test } from 'tap'
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { appendFileSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { listArchive, manifestFile, type ArchiveId } from '../../src/archive/layout.js'
import { checkSeals, digestFile, entryLine, readChain, reopenDays, sealDays, type SealProblemKind } from '../../src/archive/manifest.js'
import { ENDPOINTS } from '../../src/sources/index.js'

const instantOf = ENDPOINTS.mail.timestamp
const rec = (iso: string, n: number): string => JSON.stringify({ date: iso, eventType: 'message_seen', userUid: String(n) }) + '\n'
const DAYS: Record<string, string> = {
  'mail_audit_2026-11-17.json': rec('2026-11-17T01:00:00.000000Z', 1) + rec('2026-11-17T05:00:00.000000Z', 2),
  'mail_audit_2026-11-18.json': rec('2026-11-18T02:00:00.000000Z', 3) + rec('2026-11-18T03:00:00.000000Z', 4) + rec('2026-11-18T23:00:00.000000Z', 5),
  'mail_audit_2026-11-19.json': rec('2026-11-19T00:30:00.000000Z', 6),
}
const NOW = Date.parse('2026-11-20T12:00:00Z')

async function sealed(t: Test, key?: KeyObject): Promise<ArchiveId> {
  const archive: ArchiveId = { dir: t.testdir({ ...DAYS }), base: 'mail_audit', ext: 'json' }
  await sealDays({ archive, days: ['2026-11-18', '2026-11-17', '2026-11-19'], instantOf, tool: 'y360-audit test', now: () => NOW, key })
  return archive
}

async function kinds(a: ArchiveId, pub?: Parameters<typeof checkSeals>[3]): Promise<{ kind: SealProblemKind; file: string }[]> {
  const r = await checkSeals(a, await listArchive(a), instantOf, pub)
  return r.problems.map((p) => ({ kind: p.kind, file: p.file.slice(a.dir.length + 1) }))
}

t.test('sealDays writes a chain of entries, one per day, and seals nothing twice', async (t) => {
  const a = await sealed(t)
  const lines = readFileSync(manifestFile(a), 'utf8').split('\n')
  t.equal(lines.pop(), '', 'every entry ends in a newline')
  const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
  t.same(entries.map((e) => [e.seq, e.kind, e.file, e.lines]), [[0, 'seal', 'mail_audit_2026-11-17.json', 2], [1, 'seal', 'mail_audit_2026-11-18.json', 3], [2, 'seal', 'mail_audit_2026-11-19.json', 1]])
  t.same(entries[1], {
    v: 1, seq: 1, kind: 'seal', file: 'mail_audit_2026-11-18.json', day: '2026-11-18', lines: 3, bytes: Buffer.byteLength(DAYS['mail_audit_2026-11-18.json']),
    sha256: (await digestFile(join(a.dir, 'mail_audit_2026-11-18.json'), instantOf)).sha256, first: '2026-11-18T02:00:00.000Z', last: '2026-11-18T23:00:00.000Z',
    tool: 'y360-audit test', sealedAt: '2026-11-20T12:00:00.000Z', prev: (await readChain(a)).entries[0].hash,
  })
  t.equal(entries[0].prev, null)
  const again = await sealDays({ archive: a, days: ['2026-11-17', '2026-11-18'], instantOf, tool: 'x', now: () => NOW })
  t.same(again.appended, [], 'unchanged days are not sealed again')
  t.equal(again.head, (await readChain(a)).head)
  const r = await checkSeals(a, await listArchive(a), instantOf)
  t.same({ problems: r.problems, sealed: r.sealed, entries: r.entries, open: r.open }, { problems: [], sealed: 3, entries: 3, open: 0 })
})

t.test('each kind of tampering is named with its file', async (t) => {
  const cases: [string, (a: ArchiveId) => void, { kind: SealProblemKind; file: string }[]][] = [
    ['a changed byte', (a) => { const p = join(a.dir, 'mail_audit_2026-11-18.json'); writeFileSync(p, readFileSync(p, 'utf8').replace('"4"', '"5"')) }, [{ kind: 'seal-changed', file: 'mail_audit_2026-11-18.json' }]],
    ['a removed line', (a) => { const p = join(a.dir, 'mail_audit_2026-11-18.json'); writeFileSync(p, readFileSync(p, 'utf8').split('\n').filter((l) => !l.includes('"4"')).join('\n')) }, [{ kind: 'seal-lines', file: 'mail_audit_2026-11-18.json' }]],
    ['an added line in the middle', (a) => { const p = join(a.dir, 'mail_audit_2026-11-17.json'); writeFileSync(p, rec('2026-11-17T02:00:00.000000Z', 9) + readFileSync(p, 'utf8')) }, [{ kind: 'seal-lines', file: 'mail_audit_2026-11-17.json' }]],
    ['an appended line', (a) => appendFileSync(join(a.dir, 'mail_audit_2026-11-19.json'), rec('2026-11-19T01:00:00.000000Z', 7)), [{ kind: 'seal-appended', file: 'mail_audit_2026-11-19.json' }]],
    ['a removed day file', (a) => unlinkSync(join(a.dir, 'mail_audit_2026-11-18.json')), [{ kind: 'seal-missing', file: 'mail_audit_2026-11-18.json' }]],
    ['a renamed day file', (a) => renameSync(join(a.dir, 'mail_audit_2026-11-18.json'), join(a.dir, 'mail_audit_2026-11-16.json')), [{ kind: 'seal-renamed', file: 'mail_audit_2026-11-16.json' }]],
    ['an added day file', (a) => writeFileSync(join(a.dir, 'mail_audit_2026-11-15.json'), rec('2026-11-15T01:00:00.000000Z', 8)), [{ kind: 'seal-unsealed', file: 'mail_audit_2026-11-15.json' }]],
    ['a replaced day file', (a) => writeFileSync(join(a.dir, 'mail_audit_2026-11-19.json'), rec('2026-11-19T00:31:00.000000Z', 6)), [{ kind: 'seal-changed', file: 'mail_audit_2026-11-19.json' }]],
    ['a removed entry', (a) => { const p = manifestFile(a); const l = readFileSync(p, 'utf8').split('\n'); writeFileSync(p, [l[0], l[2], ''].join('\n')) }, [{ kind: 'chain-broken', file: 'mail_audit.manifest.jsonl' }, { kind: 'seal-unsealed', file: 'mail_audit_2026-11-18.json' }]],
    ['a cut chain start', (a) => { const p = manifestFile(a); writeFileSync(p, readFileSync(p, 'utf8').split('\n').slice(1).join('\n')) }, [{ kind: 'chain-broken', file: 'mail_audit.manifest.jsonl' }, { kind: 'seal-unsealed', file: 'mail_audit_2026-11-17.json' }]],
    ['an edited entry', (a) => { const p = manifestFile(a); writeFileSync(p, readFileSync(p, 'utf8').replace('"lines":2', '"lines":1')) }, [{ kind: 'chain-broken', file: 'mail_audit.manifest.jsonl' }]],
    ['a garbage line', (a) => appendFileSync(manifestFile(a), 'not an entry\n'), [{ kind: 'chain-entry', file: 'mail_audit.manifest.jsonl' }]],
  ]
  for (const [name, tamper, want] of cases) {
    const a = await sealed(t)
    tamper(a)
    t.same(await kinds(a), want, name)
  }
})

t.test('a signed chain verifies with its public key; another key, a forged or an unsigned entry fail', async (t) => {
  const mine = generateKeyPairSync('ed25519')
  const other = generateKeyPairSync('ed25519')
  const a = await sealed(t, mine.privateKey)
  t.same(await kinds(a, mine.publicKey), [], 'signed with the key, verified with its public half')
  t.same((await kinds(a, other.publicKey)).map((p) => p.kind), ['chain-signature', 'chain-signature', 'chain-signature'], 'another key fails every entry')
  t.match((await checkSeals(a, await listArchive(a), instantOf, other.publicKey)).problems[0].detail, /signed with key [0-9a-f]{16}, not the given public key/)

  // A forger who can write the directory: edits a day, then appends a consistent entry for it (without the key, or with their own).
  const chain = await readChain(a)
  const p = join(a.dir, 'mail_audit_2026-11-19.json')
  writeFileSync(p, rec('2026-11-19T00:30:00.000000Z', 66))
  const d = await digestFile(p, instantOf)
  const forged = { seq: 3, kind: 'reseal' as const, file: 'mail_audit_2026-11-19.json', day: '2026-11-19', ...d, tool: 'y360-audit test', sealedAt: '2026-11-20T13:00:00.000Z', prev: chain.head as string }
  const clean = readFileSync(manifestFile(a), 'utf8')
  writeFileSync(manifestFile(a), clean + entryLine(forged) + '\n')
  t.same(await kinds(a), [], 'without the public key a consistent forged entry passes: what signatures are for')
  t.same(await kinds(a, mine.publicKey), [{ kind: 'chain-unsigned', file: 'mail_audit.manifest.jsonl' }])
  writeFileSync(manifestFile(a), clean + entryLine(forged, other.privateKey) + '\n')
  t.same(await kinds(a, mine.publicKey), [{ kind: 'chain-signature', file: 'mail_audit.manifest.jsonl' }])
  // A signed entry whose content was edited after signing (the next entry's prev breaks too).
  writeFileSync(manifestFile(a), clean.replace('"lines":3', '"lines":4'))
  t.same(await kinds(a, mine.publicKey), [
    { kind: 'chain-broken', file: 'mail_audit.manifest.jsonl' }, { kind: 'chain-signature', file: 'mail_audit.manifest.jsonl' }, { kind: 'seal-changed', file: 'mail_audit_2026-11-19.json' },
  ])

  const unsigned = await sealed(t)
  t.same(await kinds(unsigned, mine.publicKey), [{ kind: 'chain-unsigned', file: 'mail_audit.manifest.jsonl' }], 'a public key given for a chain never signed')
  // Signing may start on an existing chain: the first signed entry's prev covers the unsigned ones.
  appendFileSync(join(unsigned.dir, 'mail_audit_2026-11-19.json'), rec('2026-11-19T00:40:00.000000Z', 10))
  const r = await sealDays({ archive: unsigned, days: ['2026-11-19'], instantOf, tool: 'x', now: () => NOW, key: mine.privateKey })
  t.same(r.appended.map((e) => [e.kind, e.seq]), [['reseal', 3]])
  t.same(await kinds(unsigned, mine.publicKey), [])
})

t.test('a torn last fragment is ignored by verify and moved aside by the next seal; a damaged chain is never extended', async (t) => {
  const a = await sealed(t)
  const whole = readFileSync(manifestFile(a), 'utf8')
  appendFileSync(manifestFile(a), '{"v":1,"seq":3,"kind":"se')
  const r = await checkSeals(a, await listArchive(a), instantOf)
  t.same({ problems: r.problems, tornBytes: r.tornBytes, entries: r.entries }, { problems: [], tornBytes: 25, entries: 3 })
  appendFileSync(join(a.dir, 'mail_audit_2026-11-19.json'), rec('2026-11-19T01:00:00.000000Z', 7))
  const s = await sealDays({ archive: a, days: ['2026-11-19'], instantOf, tool: 'x', now: () => NOW })
  t.equal(s.torn?.bytes, 25)
  t.equal(readFileSync(`${manifestFile(a)}.torn`, 'utf8'), '{"v":1,"seq":3,"kind":"se\n')
  t.ok(readFileSync(manifestFile(a), 'utf8').startsWith(whole))
  t.same(await kinds(a), [])

  writeFileSync(manifestFile(a), readFileSync(manifestFile(a), 'utf8').replace('"lines":2', '"lines":1'))
  await t.rejects(sealDays({ archive: a, days: ['2026-11-19'], instantOf, tool: 'x', now: () => NOW }), { code: 'ARCHIVE_DAMAGED', message: /damaged \(line 2: chain-broken/ })
})

t.test('reopenDays before the tool writes into a sealed day: open until resealed, also after a crash in between', async (t) => {
  const a = await sealed(t)
  const p = join(a.dir, 'mail_audit_2026-11-19.json')
  const r = await reopenDays({ archive: a, days: ['2026-11-19', '2026-11-20'], instantOf, tool: 'x', now: () => NOW })
  t.same({ appended: r.appended.map((e) => [e.seq, e.kind, e.file, e.lines]), changed: r.changed }, { appended: [[3, 'reopen', 'mail_audit_2026-11-19.json', 1]], changed: [] }, 'only sealed days that exist')
  t.same((await reopenDays({ archive: a, days: ['2026-11-19'], instantOf, tool: 'x', now: () => NOW })).appended, [], 'not reopened twice')
  appendFileSync(p, rec('2026-11-19T00:31:00.000000Z', 7)) // the write, then the process dies before its reseal
  const open = await checkSeals(a, await listArchive(a), instantOf)
  t.same({ problems: open.problems, sealed: open.sealed, reopened: open.reopened }, { problems: [], sealed: 2, reopened: 1 }, 'a reopened day is open, not a problem')
  const s = await sealDays({ archive: a, days: ['2026-11-19'], instantOf, tool: 'x', now: () => NOW })
  t.same(s.appended.map((e) => [e.seq, e.kind, e.lines]), [[4, 'reseal', 2]])
  const closed = await checkSeals(a, await listArchive(a), instantOf)
  t.same({ problems: closed.problems, sealed: closed.sealed, reopened: closed.reopened }, { problems: [], sealed: 3, reopened: 0 })
  // A reopen is resealed even when the write never happened (the reseal closes it).
  await reopenDays({ archive: a, days: ['2026-11-17'], instantOf, tool: 'x', now: () => NOW })
  t.same((await sealDays({ archive: a, days: ['2026-11-17'], instantOf, tool: 'x', now: () => NOW })).appended.map((e) => e.kind), ['reseal'])
  // A sealed day changed outside the tool is named when it is reopened.
  writeFileSync(p, rec('2026-11-19T00:30:00.000000Z', 66))
  t.same((await reopenDays({ archive: a, days: ['2026-11-19'], instantOf, tool: 'x', now: () => NOW })).changed.map((c) => c.kind), ['seal-lines'])
})

t.test('digestFile: lines, bytes and the first and last records whatever the layout (blank ends, no newline, lines across blocks)', async (t) => {
  const dir = t.testdir()
  const r = (h: number): string => rec(`2026-11-18T${String(h).padStart(2, '0')}:00:00.000000Z`, h)
  const at = (h: number): string => `2026-11-18T${String(h).padStart(2, '0')}:00:00.000Z`
  const big = (h: number, kb: number): string => JSON.stringify({ date: `2026-11-18T${String(h).padStart(2, '0')}:00:00.000000Z`, pad: 'ж'.repeat(kb * 512) }) + '\n' // ~kb KiB
  const cases: [string, string, { lines: number; first?: string; last?: string }][] = [
    ['plain', r(1) + r(2) + r(3), { lines: 3, first: at(1), last: at(3) }],
    ['blank lines at the end are passed over', r(1) + r(2) + '\n  \n\t\n', { lines: 5, first: at(1), last: at(2) }],
    ['a last line without a newline', r(1) + r(2).trimEnd(), { lines: 1, first: at(1), last: at(2) }],
    ['one line, no newline', r(7).trimEnd(), { lines: 0, first: at(7), last: at(7) }],
    ['only blank lines', '\n\n \n', { lines: 3 }],
    ['empty', '', { lines: 0 }],
    ['the last line is not a record', r(1) + '{"torn":\n', { lines: 2, first: at(1) }],
    ['a first line longer than a block', big(4, 600) + r(5), { lines: 2, first: at(4), last: at(5) }],
    ['a last line that begins in an earlier block', r(1) + big(6, 600), { lines: 2, first: at(1), last: at(6) }],
    ['a last line that ends a block, then blank lines in the next', r(1) + big(8, 300) + '\n'.repeat(3), { lines: 5, first: at(1), last: at(8) }],
  ]
  for (const [name, body, want] of cases) {
    const p = join(dir, `${cases.findIndex((c) => c[0] === name)}.json`)
    writeFileSync(p, body)
    const d = await digestFile(p, instantOf)
    const sha = createHash('sha256').update(body).digest('hex')
    t.same(d, { ...want, bytes: Buffer.byteLength(body), sha256: sha }, name)
  }
})
