// --syslog against a real rsyslogd (started by test/syslog-helpers.ts): what rsyslog wrote to its file equals the
// emulator's ground truth, over TCP and TLS, alone (with --state-file) and beside the archive, over incremental runs;
// a certificate from another CA is refused; a receiver down during an archive run loses nothing.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { existsSync, readFileSync } from 'node:fs'
import stableStringify from 'fast-json-stable-stringify'
import { cliEnv, emulator, readArchive, runCli } from '../helpers.js'
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
  const idField = source === 'events' ? 'idempotency_id' : 'uniqId'
  let bad = 0
  for (const m of msgs) {
    const rec = JSON.parse(m.msg) as Record<string, unknown>
    const ts = formatMicros(ENDPOINTS[source].timestamp(rec) as number).replace('+00:00', 'Z')
    if (m.pri !== 134 || m.version !== 1 || m.app !== 'y360-audit' || m.procId !== '-' || m.org !== org || m.id !== rec[idField] || m.timestamp !== ts) bad++
  }
  t.equal(bad, 0, `${source}: every message has PRI 134, APP-NAME y360-audit, org ${org}, the record's ${idField} and instant`)
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
