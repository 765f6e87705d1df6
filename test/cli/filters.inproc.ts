// Server-side filters: each reaches the API in that API's wire format, the output equals the ground truth filtered
// the same way, unsupported combinations are config errors, and a filtered pull never shares an unfiltered archive.
// In-process (runMain).
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkArchive, cliEnv, emulator, exact, logMessages, readArchive, runMain } from '../helpers.js'
import type { Emulator } from '../../src/emulator/index.js'


function queries(emu: Emulator, source: string): URLSearchParams[] {
  return emu.requests().filter((e) => e.source === source).map((e) => new URLSearchParams(e.query))
}

t.test('mail: repeated types= and includeUids=; disk: repeated excludeUids=; output = filtered truth', async (t) => {
  const emu = await emulator(t, { counts: { mail: 1200, disk: 600 }, days: 2, seed: 13 })
  const dir = t.testdir()
  const mailTruth = emu.truth('mail') as { userUid: string }[]
  const uids = [...new Set(mailTruth.map((r) => r.userUid))].slice(0, 3)
  const types = ['message_seen', 'mailbox_send']
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail-seen') })
  const r = await runMain(['--lookback', '3d', '--types', types.join(','), '--include-uids', uids.join(','), '--no-log-file'], { env, cwd: dir })
  t.equal(r.code, 0, r.stderr)
  const q = queries(emu, 'mail')
  t.ok(q.length > 0)
  // Once each, the types and then the uids go out in the other order: the repeated-key probe (src/sources/probe.ts).
  const probes = [q.filter((p) => p.getAll('types').join() === [...types].reverse().join()), q.filter((p) => p.getAll('includeUids').join() === [...uids].reverse().join())]
  t.same(probes.map((p) => p.length), [1, 1], 'the probe asked once per repeated key with its values reversed')
  for (const p of q) {
    if (probes.some((x) => x.includes(p))) continue
    t.same(p.getAll('types'), types, 'types as a repeated key')
    t.same(p.getAll('includeUids'), uids, 'includeUids as a repeated key')
  }
  const want = emu.truth('mail', { types, includeUids: uids })
  t.ok(want.length > 20 && want.length < mailTruth.length / 4, `a real subset (${want.length})`)
  t.same(checkArchive('mail', readArchive(join(dir, 'mail-seen'), 'mail_audit'), want), exact(want.length))
  t.equal(readFileSync(join(dir, 'mail-seen', '.mail_audit.filters.json'), 'utf8'), JSON.stringify({ includeUids: uids, types }) + '\n', 'the archive is marked with its filters')

  emu.resetStats()
  const diskUids = [...new Set((emu.truth('disk') as { userUid: string }[]).map((r) => r.userUid))].slice(0, 2)
  const r2 = await runMain(['--lookback', '3d', '--exclude-uids', diskUids.join(','), '--no-log-file'], { env: cliEnv(emu, { DISK_LOG_CATALOG_LOCATION: join(dir, 'disk-x') }), cwd: dir })
  t.equal(r2.code, 0, r2.stderr)
  for (const p of queries(emu, 'disk')) t.same(p.getAll('excludeUids'), diskUids)
  const dwant = emu.truth('disk', { excludeUids: diskUids })
  t.ok(dwant.length < 600 && dwant.length > 400, `a real subset (${dwant.length})`)
  t.same(checkArchive('disk', readArchive(join(dir, 'disk-x'), 'disk_audit'), dwant), exact(dwant.length))
})

t.test('events: comma-joined types and include_uids, single ip and service; output = filtered truth', async (t) => {
  const emu = await emulator(t, { counts: { events: 1500 }, days: 2, seed: 17 })
  const dir = t.testdir()
  const all = emu.truth('events') as { event: { type: string; uid?: number; ip: string; service: string } }[]
  const types = [...new Set(all.map((r) => r.event.type))].slice(0, 4)
  const uids = [...new Set(all.filter((r) => r.event.uid !== undefined).map((r) => String(r.event.uid)))].slice(0, 8)
  const cases: { args: string[]; wire: Record<string, string>; filter: Record<string, unknown> }[] = [
    { args: ['--types', types.join(','), '--include-uids', uids.join(',')], wire: { types: types.join(','), include_uids: uids.join(',') }, filter: { types, includeUids: uids } },
    { args: ['--exclude-uids', uids.join(','), '--service', 'Web'], wire: { exclude_uids: uids.join(','), service: 'Web' }, filter: { excludeUids: uids, service: 'Web' } },
    { args: ['--ip', all[0].event.ip], wire: { ip: all[0].event.ip }, filter: { ip: all[0].event.ip } },
  ]
  for (const [i, k] of cases.entries()) {
    emu.resetStats()
    const out = join(dir, `events-${i}`)
    const r = await runMain(['--lookback', '3d', ...k.args, '--no-log-file'], { env: cliEnv(emu, { NEW_LOG_CATALOG_LOCATION: out }), cwd: dir })
    t.equal(r.code, 0, r.stderr)
    for (const p of queries(emu, 'events')) {
      for (const [name, value] of Object.entries(k.wire)) t.same(p.getAll(name), [value], `${name}=${value} once, comma-joined`)
      t.same([...new Set(p.keys())].sort(), ['count', 'ended_at', 'started_at', ...Object.keys(k.wire), ...(p.has('iteration_key') ? ['iteration_key'] : [])].sort(), 'no other parameter')
    }
    const want = emu.truth('events', k.filter)
    t.ok(want.length > 0 && want.length < 1500, `case ${i}: a real subset (${want.length})`)
    t.same(checkArchive('events', readArchive(out, 'y360_audit'), want), exact(want.length), `case ${i}: exact`)
  }
})

t.test('config errors: unsupported filters, include+exclude on events; unknown types only warn', async (t) => {
  const emu = await emulator(t, { counts: { mail: 200, disk: 100, events: 100 }, days: 1, seed: 2 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'm'), DISK_LOG_CATALOG_LOCATION: join(dir, 'd'), NEW_LOG_CATALOG_LOCATION: join(dir, 'e') })
  const bad = await runMain(['--types', 'message_seen', '--ip', '192.0.2.1', '--service', 'Web', '--no-log-file'], { env, cwd: dir })
  t.equal(bad.code, 1)
  t.equal(bad.stderr, [
    'y360-audit: configuration problems:',
    '  - --ip is not supported by the mail source; narrow the run with --sources',
    '  - --service is not supported by the mail source; narrow the run with --sources',
    '  - --types is not supported by the disk source; narrow the run with --sources',
    '  - --ip is not supported by the disk source; narrow the run with --sources',
    '  - --service is not supported by the disk source; narrow the run with --sources',
    '',
  ].join('\n'))
  const both = await runMain(['--sources', 'events', '--include-uids', '1', '--exclude-uids', '2', '--no-log-file'], { env, cwd: dir })
  t.equal(both.code, 1)
  t.match(both.stderr, /--include-uids and --exclude-uids cannot be combined for the events source/)
  t.equal(emu.stats().requests, 0, 'config errors send nothing')

  const unknown = await runMain(['--sources', 'mail', '--types', 'message_seen,message_teleported', '--lookback', '2d', '--no-log-file'], { env, cwd: dir })
  t.equal(unknown.code, 0, 'an unknown type is sent anyway (the vendor adds types)')
  t.match(unknown.stderr, /"level":"warn",[^\n]*"msg":"mail: event type \\"message_teleported\\" is not in the known list; sending it anyway"/, "a warning")
  t.same(emu.requests().flatMap((e) => new URLSearchParams(e.query).getAll('types')).slice(0, 2), ['message_seen', 'message_teleported'])
})

t.test('a filtered run into the unfiltered archive is refused, and the other way round', async (t) => {
  const emu = await emulator(t, { counts: { mail: 300 }, days: 1, seed: 6 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  t.equal((await runMain(['--lookback', '2d', '--no-log-file'], { env, cwd: dir })).code, 0)
  const before = readArchive(join(dir, 'mail'), 'mail_audit').lines
  emu.resetStats()
  const filtered = await runMain(['--types', 'message_seen', '--no-log-file'], { env, cwd: dir })
  t.equal(filtered.code, 1)
  t.match(logMessages(filtered.stderr).join('\n'), /mail_audit_\*\.json is an unfiltered mail archive; a filtered run must write to its own directory or base name/)
  t.equal(emu.stats().requests, 0)
  t.notOk(existsSync(join(dir, 'mail', '.mail_audit.filters.json')))
  const ownBase = await runMain(['--types', 'message_seen', '--mail-base', 'mail_seen', '--no-log-file'], { env, cwd: dir })
  t.equal(ownBase.code, 0, 'its own base name in the same directory is fine')
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_seen'), emu.truth('mail', { types: ['message_seen'] })).missing, 0)
  t.same(readArchive(join(dir, 'mail'), 'mail_audit').lines, before, 'the unfiltered archive is untouched')
  const unfilteredIntoFiltered = await runMain(['--mail-base', 'mail_seen', '--no-log-file'], { env, cwd: dir })
  t.equal(unfilteredIntoFiltered.code, 1)
  t.match(logMessages(unfilteredIntoFiltered.stderr).join('\n'), /mail_seen_\*\.json is a filtered mail archive \(\{"types":\["message_seen"\]\}\); an unfiltered run must use its own directory or base name/)
  const otherFilter = await runMain(['--mail-base', 'mail_seen', '--types', 'mailbox_send', '--no-log-file'], { env, cwd: dir })
  t.equal(otherFilter.code, 1)
  t.match(logMessages(otherFilter.stderr).join('\n'), /holds the mail records filtered by \{"types":\["message_seen"\]\}, not \{"types":\["mailbox_send"\]\}/)
})
