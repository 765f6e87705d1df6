// --syslog against a real rsyslogd (started by test/syslog-helpers.ts): what rsyslog wrote to its file equals the
// emulator's ground truth, over TCP and TLS, alone (with --state-file) and beside the archive, over incremental runs;
// a certificate from another CA is refused; a receiver down during an archive run loses nothing.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { existsSync, readFileSync } from 'node:fs'
import stableStringify from 'fast-json-stable-stringify'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { CLI, cliEnv, collect, emulator, readArchive, runCli, bare } from '../helpers.js'
import { makePki, parseReceived, startRsyslog, type Received, type Rsyslog } from '../syslog-helpers.js'
import { ENDPOINTS } from '../../src/sources/index.js'
import { formatMicros } from '../../src/time.js'

const canon = (recs: object[]): string[] => recs.map((r) => stableStringify(r)).sort()

/** Stops rsyslog (it flushes), returns everything it received, split by source. */
async function drained(r: Rsyslog): Promise<Record<string, Received[]>> {
  await r.stop()
  const by: Record<string, Received[]> = {}
  for (const line of r.lines()) {
    const m = parseReceived(line)
    ;(by[m.msgId] ??= []).push(m)
  }
  return by
}

/** Every field of every message as documented: PRI local0.info, our APP-NAME, org, the vendor id, the record's instant. */
function checkFormat(t: Test, source: 'mail' | 'disk' | 'events', msgs: Received[], org: string): void {
  const idOf = (rec: Record<string, unknown>): unknown => (source === 'events' ? (rec.event as Record<string, unknown>).idempotency_id : rec.uniqId)
  let bad = 0
  for (const m of msgs) {
    const rec = JSON.parse(m.msg) as Record<string, unknown>
    const ts = formatMicros(ENDPOINTS[source].timestamp(rec) as number).replace('+00:00', 'Z')
    if (m.pri !== 134 || m.version !== 1 || m.app !== 'y360-audit' || m.procId !== '-' || m.org !== org || m.id !== idOf(rec) || m.timestamp !== ts) bad++
  }
  t.equal(bad, 0, `${source}: every message has PRI 134, APP-NAME y360-audit, org ${org}, the vendor's record id and the record's instant`)
}

t.test('alone over TCP: exact, then incremental through --state-file', async (t) => {
  const emu = await emulator(t, { counts: { mail: 1500, disk: 400 }, days: 3, seed: 5 })
  const dir = t.testdir()
  const rs = await startRsyslog(t, join(dir, 'rsyslog'))
  const state = join(dir, 'cursor.json')
  const args = ['--syslog', rs.url, '--sources', 'mail,disk', '--state-file', state, '--lookback', '4d', '--syslog-ack-every', '250']
  const first = await runCli(args, { env: cliEnv(emu), cwd: dir })
  t.equal(first.code, 0, 'exit 0')
  t.equal(first.stdout, '', 'nothing on stdout')
  t.match(first.stderr, /mail: ok \(syslog\), fetched \d+ in \d+ pages, wrote 1500,/)
  t.match(first.stderr, /mail: syslog tcp:\/\/127\.0\.0\.1:\d+: 1500 records acknowledged, 0 sent again after 0 reconnection\(s\)/)
  const got = await drained(rs)
  t.same(canon(got.mail.map((m) => JSON.parse(m.msg))), canon(emu.truth('mail')), 'mail messages = the truth')
  t.same(canon(got.disk.map((m) => JSON.parse(m.msg))), canon(emu.truth('disk')), 'disk messages = the truth')
  t.equal(got.mail.length, 1500, 'each once')
  t.equal(got.disk.length, 400, 'each once')
  checkFormat(t, 'mail', got.mail, '123')
  checkFormat(t, 'disk', got.disk, '123')

  const newMail = emu.inject('mail', 9)
  await rs.start()
  const second = await runCli(args, { env: cliEnv(emu), cwd: dir })
  t.equal(second.code, 0, 'exit 0')
  const got2 = await drained(rs)
  t.same(canon(got2.mail.slice(1500).map((m) => JSON.parse(m.msg))), canon(newMail), 'the second run sends exactly the new records')
  t.equal(got2.disk.length, 400, 'no disk record again')
  await rs.start()
  const third = await runCli(args, { env: cliEnv(emu), cwd: dir })
  t.equal(third.code, 0)
  t.equal((await drained(rs)).mail.length, 1509, 'nothing new, nothing sent')
})

t.test('alone over TLS: exact with the receiver\'s CA; a certificate from another CA is refused (exit 9, nothing sent)', async (t) => {
  const emu = await emulator(t, { counts: { events: 600 }, days: 2, seed: 8 })
  const dir = t.testdir()
  const good = makePki(join(dir, 'pki'), 'good')
  const other = makePki(join(dir, 'pki'), 'other')
  const rs = await startRsyslog(t, join(dir, 'rsyslog'), { pki: good })
  t.match(rs.url, /^tls:/)
  const refused = await runCli(['--syslog', rs.url, '--syslog-ca', other.ca, '--sources', 'events', '--state-file', join(dir, 'other.json'), '--lookback', '3d'], { env: cliEnv(emu), cwd: dir })
  t.equal(refused.code, 9, 'exit 9')
  t.match(refused.stderr, /presented a certificate that was refused \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT\w*)/)
  t.notOk(existsSync(join(dir, 'other.json')), 'no cursor saved')

  const state = join(dir, 'cursor.json')
  const ok = await runCli(['--syslog', rs.url, '--syslog-ca', good.ca, '--sources', 'events', '--state-file', state, '--lookback', '3d', '--syslog-ack-every', '200'], { env: cliEnv(emu), cwd: dir })
  t.equal(ok.code, 0, 'exit 0')
  const got = await drained(rs)
  t.same(Object.keys(got), ['events'], 'the refused run delivered nothing')
  t.same(canon(got.events.map((m) => JSON.parse(m.msg))), canon(emu.truth('events')), 'events over TLS = the truth')
  t.equal(got.events.length, 600)
  checkFormat(t, 'events', got.events, '123')
})

t.test('beside the archive: forwarded from the day files, incremental; an outage fails the forwarder only, the next run catches up', async (t) => {
  const emu = await emulator(t, { counts: { mail: 1200, disk: 300 }, days: 3, seed: 21 })
  const dir = t.testdir()
  const rs = await startRsyslog(t, join(dir, 'rsyslog'))
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), DISK_LOG_CATALOG_LOCATION: join(dir, 'disk') })
  const args = ['--syslog', rs.url, '--lookback', '4d', '--syslog-ack-every', '500', '--syslog-retries', '1', '--syslog-retry-delay', '5ms']
  const sameAsArchive = async (label: string): Promise<void> => {
    const got = await drained(rs)
    t.same(got.mail.map((m) => m.msg), readArchive(join(dir, 'mail'), 'mail_audit').lines, `${label}: mail messages = the archive's lines, in order, once`)
    t.same(got.disk.map((m) => m.msg), readArchive(join(dir, 'disk'), 'disk_audit').lines, `${label}: disk messages = the archive's lines, in order, once`)
  }
  const first = await runCli(args, { env, cwd: dir })
  t.equal(first.code, 0, 'exit 0')
  t.same(canon(readArchive(join(dir, 'mail'), 'mail_audit').lines.map((l) => JSON.parse(l))), canon(emu.truth('mail')), 'the archive = the truth')
  t.match(first.stderr, /mail forwarder: syslog tcp:\/\/127\.0\.0\.1:\d+: 1200 records acknowledged/)
  await sameAsArchive('first run')
  const pos = JSON.parse(readFileSync(join(dir, 'mail', '.mail_audit.syslog.json'), 'utf8')) as { version: number; offset: number; day: string }
  t.equal(pos.version, 1)

  emu.inject('mail', 6)
  await rs.start()
  t.equal((await runCli(args, { env, cwd: dir })).code, 0, 'incremental run: exit 0')
  await sameAsArchive('incremental run')

  // Receiver down: the archive run completes, the forwarder fails alone (exit 9), its position stays.
  const newMail = emu.inject('mail', 4)
  const down = await runCli(args, { env, cwd: dir })
  t.equal(down.code, 9, 'exit 9: syslog unreachable')
  t.match(down.stderr, /mail: ok, fetched \d+ in \d+ pages, wrote 4,/)
  t.match(down.stderr, /cannot deliver to syslog tcp:\/\/127\.0\.0\.1:\d+ after 2 attempt\(s\)/)
  const archived = readArchive(join(dir, 'mail'), 'mail_audit').lines
  t.same(canon(archived.slice(-4).map((l) => JSON.parse(l))), canon(newMail), 'the archive has the new records')
  await rs.start()
  const after = await runCli(args, { env, cwd: dir })
  t.equal(after.code, 0, 'next run: exit 0')
  t.match(after.stderr, /mail forwarder: syslog tcp:\/\/127\.0\.0\.1:\d+: 4 records acknowledged/)
  await sameAsArchive('after the outage')
})

t.test('rsyslog stopped mid-run and restarted: nothing lost, duplicates bounded by --syslog-ack-every and counted', async (t) => {
  // The CLI is frozen (SIGSTOP, our own child) at the first page request after rsyslog wrote 200 messages, so the
  // outage falls inside the run whatever the machine's speed (small windows: a request every ~100 records); rsyslog is
  // stopped, the CLI resumed, rsyslog started again on the same port once the CLI has met the outage and backs off.
  let child: ChildProcessWithoutNullStreams | undefined
  let rs: Rsyslog | undefined
  let frozen: () => void = () => undefined
  const atRequest = new Promise<void>((resolve) => (frozen = resolve))
  let stopped = false
  const emu = await emulator(t, {
    counts: { mail: 2500 }, days: 3, seed: 33,
    onRequest: () => {
      if (!stopped && child?.pid !== undefined && rs !== undefined && rs.lines().length >= 200) {
        stopped = true
        process.kill(child.pid, 'SIGSTOP')
        frozen()
      }
    },
  })
  const dir = t.testdir()
  rs = await startRsyslog(t, join(dir, 'rsyslog'))
  const ackEvery = 300
  const args = ['--syslog', rs.url, '--sources', 'mail', '--state-file', join(dir, 'cursor.json'), '--lookback', '4d', '--concurrency', '1', '--max-pages', '2', '--syslog-ack-every', String(ackEvery), '--syslog-retries', '40', '--syslog-retry-delay', '5ms']
  child = spawn(...bare(process.execPath, [CLI, ...args]), { cwd: dir, env: cliEnv(emu), stdio: ['pipe', 'pipe', 'pipe'] })
  child.stdin.end()
  let stderr = ''
  const retrying = new Promise<void>((resolve) => child?.stderr.on('data', (d: Buffer | string) => {
    stderr += String(d)
    if (/connecting again in \d+ms/.test(stderr)) resolve()
  }))
  const done = collect(child)
  await atRequest
  const before = rs.lines().length
  await rs.stop()
  process.kill(child.pid as number, 'SIGCONT')
  // rsyslog comes back only once the CLI met the outage (a refused or dropped connection it says it retries): else a
  // stop that fell between two of its connections would look like no outage at all.
  await retrying
  await rs.start()
  const res = await done
  t.equal(res.code, 0, 'exit 0')
  const m = /mail: syslog tcp:\/\/127\.0\.0\.1:\d+: 2500 records acknowledged, (\d+) sent again after (\d+) reconnection\(s\)/.exec(res.stderr)
  t.ok(m, 'the delivery summary line')
  const resent = Number(m?.[1])
  t.ok(Number(m?.[2]) >= 1, 'the tool reconnected')
  const got = await drained(rs)
  t.ok(before > 0 && before < 2500, `rsyslog had part of the run when it stopped (${before})`)
  const counts = new Map<string, number>()
  for (const r of got.mail) counts.set(r.msg, (counts.get(r.msg) ?? 0) + 1)
  const truth = emu.truth('mail').map((r) => JSON.stringify(r))
  const lost = truth.map((l, i) => (counts.has(l) ? -1 : i)).filter((i) => i >= 0)
  t.same(lost, [], 'nothing lost')
  if (lost.length > 0) t.comment(res.stderr)
  t.equal(counts.size, 2500, 'nothing else received')
  const duplicates = got.mail.length - counts.size
  t.ok(duplicates <= resent, `duplicates (${duplicates}) <= records sent again (${resent})`)
  t.ok(resent <= ackEvery + 200, `records sent again (${resent}) bounded by the unacknowledged tail (ack every ${ackEvery}, plus one window)`)
})
