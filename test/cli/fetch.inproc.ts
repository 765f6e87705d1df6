// End-to-end in-process (src/main.ts): the fetch command against the emulator over HTTP; archives compared with the
// emulator's ground truth, counts read from --summary-json.
import t from 'tap'
import { join } from 'node:path'
import { checkArchive, cliEnv, emulator, exact, readArchive, runMain, summaryOf } from '../helpers.js'

t.test('first run lands 2,000 mail + 500 disk records over 7 days exactly; second run appends only new ones; third writes nothing', async (t) => {
  const emu = await emulator(t, { counts: { mail: 2000, disk: 500 }, days: 7, seed: 7 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), DISK_LOG_CATALOG_LOCATION: join(dir, 'disk'), LOG_FILE_EXTENSION: 'json', MAIL_LOG_FILE_BASE_NAME: 'mail_audit', DISK_LOG_FILE_BASE_NAME: 'disk_audit' })

  const first = await runMain(['--lookback', '8d'], { env, cwd: dir, summary: true })
  t.equal(first.code, 0, first.stderr)
  t.equal(first.stdout, '', 'nothing on stdout in file mode')
  const mail = readArchive(join(dir, 'mail'), 'mail_audit')
  const disk = readArchive(join(dir, 'disk'), 'disk_audit')
  t.same(checkArchive('mail', mail, emu.truth('mail')), exact(2000))
  t.same(checkArchive('disk', disk, emu.truth('disk')), exact(500))
  t.ok(mail.days.size >= 7, 'records spread over the day files')
  t.equal(summaryOf(first, 'mail').written, 2000)
  t.equal(summaryOf(first, 'disk').written, 500)

  const added = emu.inject('mail', 25)
  t.equal(added.length, 25)
  const second = await runMain([], { env, cwd: dir, summary: true })
  t.equal(second.code, 0, 'second run exits 0')
  const mail2 = readArchive(join(dir, 'mail'), 'mail_audit')
  t.same(checkArchive('mail', mail2, emu.truth('mail')), exact(2025))
  t.same(mail2.lines.slice(0, mail.lines.length), mail.lines, 'the earlier lines are untouched (append only)')
  t.equal(summaryOf(second, 'mail').written, 25)
  t.equal(summaryOf(second, 'disk').written, 0)

  const third = await runMain([], { env, cwd: dir, summary: true })
  t.equal(third.code, 0, 'nothing new is success')
  t.equal(summaryOf(third, 'mail').written, 0)
  t.same(readArchive(join(dir, 'mail'), 'mail_audit').lines, mail2.lines)
})
