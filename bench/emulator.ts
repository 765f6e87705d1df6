// Serving ceiling of the emulator: one sequential keep-alive undici client pages through all mail records (100 per page).
// The emulator runs as a child process (dist/src/emulator/bin.js) so client and server do not share a core.
// Run: npm run build && node dist/bench/emulator.js [records=200000] [latencyMs=0]
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Agent, request } from 'undici'

const BIN = fileURLToPath(new URL('../src/emulator/bin.js', import.meta.url))

/** Starts the emulator with `records` mail records in a child process, pages through them all, and returns records/s. */
export async function measureEmulatorCeiling(opts: { records: number; latencyMs?: number }): Promise<{ recordsPerSec: number }> {
  const args = [BIN, '--mail', String(opts.records), '--days', '30', '--switches', '{"retentionDays":{"mail":3650}}']
  if (opts.latencyMs) args.push('--faults', JSON.stringify({ latencyMs: opts.latencyMs }))
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    let out = ''
    child.stdout.setEncoding('utf8')
    while (!out.includes('\n')) {
      const [chunk] = (await Promise.race([once(child.stdout, 'data'), once(child, 'exit').then(() => { throw new Error('emulator exited before it was ready') })])) as [string]
      out += chunk
    }
    const { url, org, token } = JSON.parse(out.split('\n')[0]) as { url: string; org: number; token: string }
    const agent = new Agent({ connections: 1, pipelining: 1 })
    const t0 = performance.now()
    let total = 0
    let tokenParam = ''
    for (;;) {
      const res = await request(`${url}/security/v1/org/${org}/audit_log/mail?pageSize=100${tokenParam}`, { dispatcher: agent, headers: { authorization: `OAuth ${token}` } })
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${await res.body.text()}`)
      const body = (await res.body.json()) as { events: unknown[]; nextPageToken: string }
      total += body.events.length
      if (!body.nextPageToken) break
      tokenParam = `&pageToken=${body.nextPageToken}`
    }
    const secs = (performance.now() - t0) / 1000
    await agent.close()
    if (total !== opts.records) throw new Error(`paged ${total} records, expected ${opts.records}`)
    return { recordsPerSec: Math.round(total / secs) }
  } finally {
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await exited
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const records = Number(process.argv[2] ?? 200_000)
  const latencyMs = Number(process.argv[3] ?? 0)
  const runs: number[] = []
  for (let i = 0; i < 3; i++) {
    const { recordsPerSec } = await measureEmulatorCeiling({ records, latencyMs })
    runs.push(recordsPerSec)
    process.stderr.write(`run ${i + 1}: ${recordsPerSec} records/s\n`)
  }
  const median = [...runs].sort((a, b) => a - b)[1]
  console.log(JSON.stringify({ records, latencyMs, runs, medianRecordsPerSec: median }))
}
