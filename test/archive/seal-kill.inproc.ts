// A SIGKILL in the middle of sealing (a real child process killed by a real SIGKILL while its append has written half
// of an entry, through sealDays' `append` seam; no sleeps): the day files are untouched, the manifest holds the whole
// entries before it and a torn fragment, verify accepts it (saying the fragment is ignored), and the next seal moves
// the fragment to `.torn`, appends the missing entries, and verify passes. And the real CLI killed by SIGKILL between
// the reopen of a sealed day and its reseal (a backfill, killed at its "reopened" log line): verify accepts the
// reopened day, the next run completes the backfill and reseals it.
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { listArchive, manifestFile, type ArchiveId } from '../../src/archive/layout.js'
import { checkSeals, sealDays } from '../../src/archive/manifest.js'
import { ENDPOINTS } from '../../src/sources/index.js'
import { checkArchive, cliEnv, emulator, exact, lastNoonUtc, readArchive, ROOT, runMain, startCli } from '../helpers.js'

const rec = (iso: string, n: number): string => JSON.stringify({ date: iso, eventType: 'message_seen', userUid: String(n) }) + '\n'
const DAYS: Record<string, string> = {
  'mail_audit_2026-11-17.json': rec('2026-11-17T01:00:00.000Z', 1),
  'mail_audit_2026-11-18.json': rec('2026-11-18T02:00:00.000Z', 2) + rec('2026-11-18T03:00:00.000Z', 3),
  'mail_audit_2026-11-19.json': rec('2026-11-19T00:30:00.000Z', 4),
}

/** Seals the three days in a child that kills itself with SIGKILL after writing `cut` bytes of entry `at` (0-based). */
function sealAndDie(dir: string, at: number, cut: number): Promise<NodeJS.Signals | null> {
  const manifest = pathToFileURL(join(ROOT, 'dist/src/archive/manifest.js')).href
  const sources = pathToFileURL(join(ROOT, 'dist/src/sources/index.js')).href
  const script = `
    const { sealDays } = await import(${JSON.stringify(manifest)})
    const { ENDPOINTS } = await import(${JSON.stringify(sources)})
    // The entries come in one buffer, a line each: write the whole lines before entry ${at}, then ${cut} bytes of it.
    const append = async (fh, lines) => {
      let end = 0
      for (let i = 0; i < ${at}; i++) end = lines.indexOf(0x0a, end) + 1
      await fh.write(lines.subarray(0, end + ${cut}))
      process.kill(process.pid, 'SIGKILL')
      await new Promise(() => {}) // never returns: the signal ends the process here
    }
    await sealDays({ archive: { dir: ${JSON.stringify(dir)}, base: 'mail_audit', ext: 'json' }, days: ['2026-11-17', '2026-11-18', '2026-11-19'], instantOf: ENDPOINTS.mail.timestamp, tool: 't', now: () => 0, append })
  `
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] })
    child.on('error', reject)
    child.on('close', (_code, signal) => resolve(signal))
  })
}

t.test('SIGKILL mid-append: verify accepts the manifest, the next seal repairs and completes it', async (t) => {
  const dir = t.testdir({ mail: { ...DAYS } })
  const mail = join(dir, 'mail')
  const archive: ArchiveId = { dir: mail, base: 'mail_audit', ext: 'json' }
  t.equal(await sealAndDie(mail, 1, 40), 'SIGKILL', 'the child died by SIGKILL while writing the second entry')

  const text = readFileSync(manifestFile(archive), 'utf8')
  const [whole, torn] = [text.slice(0, text.indexOf('\n') + 1), text.slice(text.indexOf('\n') + 1)]
  t.match(JSON.parse(whole), { seq: 0, file: 'mail_audit_2026-11-17.json' }, 'the first entry is whole')
  t.equal(Buffer.byteLength(torn), 40, 'then 40 bytes of the second, without a newline')
  for (const [name, body] of Object.entries(DAYS)) t.equal(readFileSync(join(mail, name), 'utf8'), body, `${name} untouched`)

  const r = await checkSeals(archive, await listArchive(archive), ENDPOINTS.mail.timestamp)
  t.same({ problems: r.problems, entries: r.entries, sealed: r.sealed, open: r.open, tornBytes: r.tornBytes }, { problems: [], entries: 1, sealed: 1, open: 2, tornBytes: 40 })
  const v = await runMain(['verify'], { env: { MAIL_LOG_CATALOG_LOCATION: mail }, cwd: dir })
  t.equal(v.code, 0, v.stdout)
  t.match(v.stdout, 'a torn last fragment of 40 bytes (an interrupted seal) ignored')

  const next = await sealDays({ archive, days: ['2026-11-17', '2026-11-18', '2026-11-19'], instantOf: ENDPOINTS.mail.timestamp, tool: 't', now: () => 0 })
  t.same({ torn: next.torn?.bytes, appended: next.appended.map((e) => [e.seq, e.file]) }, { torn: 40, appended: [[1, 'mail_audit_2026-11-18.json'], [2, 'mail_audit_2026-11-19.json']] })
  t.equal(readFileSync(`${manifestFile(archive)}.torn`, 'utf8'), `${torn}\n`, 'the fragment is kept aside')
  const after = await runMain(['verify'], { env: { MAIL_LOG_CATALOG_LOCATION: mail }, cwd: dir })
  t.equal(after.code, 0, after.stdout)
  t.match(after.stdout, ': 3 entries, head ')
  t.notMatch(after.stdout, 'torn')
})

t.test('the real CLI SIGKILLed between a reopen and its reseal: verify accepts it, the next run reseals', async (t) => {
  const NOON = lastNoonUtc()
  const emu = await emulator(t, { counts: { mail: 400 }, days: 3, seed: 71, end: NOON })
  const dir = t.testdir()
  const mail = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
  t.equal((await runMain(['--lookback', '4d'], { env, cwd: dir })).code, 0)
  const target = new Date(NOON - 86_400_000).toISOString().slice(0, 10) // a closed, sealed day
  emu.inject('mail', 3, { at: Date.parse(`${target}T09:00:00Z`) }) // late arrivals only a backfill fetches
  emu.setFaults({ latencyMs: 30 }) // the merge runs after the kill could land, whatever the machine's speed
  const live = startCli(['--since', target, '--concurrency', '1'], { env, cwd: dir })
  await live.waitLine(/reopened sealed/)
  live.child.kill('SIGKILL')
  t.equal((await live.done).signal, 'SIGKILL')
  const manifest = readFileSync(join(mail, 'mail_audit.manifest.jsonl'), 'utf8').split('\n').slice(0, -1).map((l) => JSON.parse(l) as { kind: string; day: string })
  t.equal(manifest.at(-1)?.kind, 'reopen', 'the reopen was synced before the kill, no reseal after it')
  const v = await runMain(['verify'], { env, cwd: dir })
  t.equal(v.code, 0, v.stdout)
  t.match(v.stdout, /\d+ reopened \(a run writing into them was interrupted/)
  emu.setFaults({ latencyMs: 0 })
  const again = await runMain(['--since', target], { env, cwd: dir })
  t.equal(again.code, 0, again.stderr)
  const after = await runMain(['verify'], { env, cwd: dir })
  t.equal(after.code, 0, after.stdout)
  t.notMatch(after.stdout, 'reopened')
  t.same(checkArchive('mail', readArchive(mail, 'mail_audit'), emu.truth('mail'), 120_000_000), exact(403))
})
