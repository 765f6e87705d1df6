// End-to-end: the real CLI against the emulator over HTTP; archives compared with the emulator's ground truth.
import t from 'tap'
import { join } from 'node:path'
import { checkArchive, cliEnv, emulator, readArchive, runCli } from '../helpers.js'

t.test('first run lands 20,000 mail + 5,000 disk records exactly; second run appends only new ones; third writes nothing', async (t) => {
  const emu = await emulator(t, { counts: { mail: 20_000, disk: 5_000 }, days: 7, seed: 7 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), DISK_LOG_CATALOG_LOCATION: join(dir, 'disk'), LOG_FILE_EXTENSION: 'json', MAIL_LOG_FILE_BASE_NAME: 'mail_audit', DISK_LOG_FILE_BASE_NAME: 'disk_audit' })

  const first = await runCli(['--lookback', '8d'], { env, cwd: dir })
  t.equal(first.code, 0, 'first run exits 0')
  t.equal(first.stdout, '', 'nothing on stdout in file mode')
  const mail = readArchive(join(dir, 'mail'), 'mail_audit')
  const disk = readArchive(join(dir, 'disk'), 'disk_audit')
  t.same(checkArchive('mail', mail, emu.truth('mail')), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 20_000 })
  t.same(checkArchive('disk', disk, emu.truth('disk')), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 5_000 })
  t.ok(mail.days.size >= 7, 'records spread over the day files')

  const added = emu.inject('mail', 25)
  t.equal(added.length, 25)
  const second = await runCli([], { env, cwd: dir })
  t.equal(second.code, 0, 'second run exits 0')
  const mail2 = readArchive(join(dir, 'mail'), 'mail_audit')
  t.same(checkArchive('mail', mail2, emu.truth('mail')), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 20_025 })
  t.same(mail2.lines.slice(0, mail.lines.length), mail.lines, 'the earlier lines are untouched (append only)')
  t.match(second.stderr, /mail: ok, fetched \d+ in \d+ pages, wrote 25,/)
  t.match(second.stderr, /disk: ok, fetched \d+ in \d+ pages, wrote 0,/)

  const third = await runCli([], { env, cwd: dir })
  t.equal(third.code, 0, 'nothing new is success')
  t.match(third.stderr, /mail: ok, fetched \d+ in \d+ pages, wrote 0,/)
  t.same(readArchive(join(dir, 'mail'), 'mail_audit').lines, mail2.lines)
})
