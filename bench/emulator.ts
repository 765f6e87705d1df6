// The bench's emulator (a child process) and the ceiling: a trivial paging client that only requests pages one after
// the other and parses them (undici, keep-alive), one sequence per source, against the same emulator.
// Run alone: npm run build && node dist/bench/emulator.js [records=200000] [latencyMs=0]
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Agent, request } from 'undici'

const BIN = fileURLToPath(new URL('../src/emulator/bin.js', import.meta.url))

export interface Emu {
  url: string
  token: string
  org: number
  stop(): Promise<void>
  faults(f: object): Promise<void>
  stats(): Promise<{ requests: number; byStatus: Record<string, number> }>
  requests(): Promise<{ status: number; at: number }[]>
  resetStats(): Promise<void>
}

/** Starts the emulator with `mail` and `disk` records over `days` days ending now, in a child process. */
export async function startEmu(o: { mail: number; disk?: number; days: number; faults?: object }): Promise<Emu> {
  const args = [BIN, '--mail', String(o.mail), '--disk', String(o.disk ?? 0), '--days', String(o.days), '--seed', '3', '--token', 'bench-token']
  if (o.faults !== undefined) args.push('--faults', JSON.stringify(o.faults))
  const child = spawn(process.execPath, ['--max-old-space-size=4096', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8')
  while (!out.includes('\n')) {
    const [chunk] = (await Promise.race([once(child.stdout, 'data'), once(child, 'exit').then(() => { throw new Error('emulator exited early') })])) as [string]
    out += chunk
  }
  const ready = JSON.parse(out.split('\n')[0]) as { url: string; org: number; token: string }
  const admin = async <T>(method: string, path: string, body?: object): Promise<T> => {
    const res = await fetch(`${ready.url}/__admin/${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } })
    if (!res.ok) throw new Error(`admin ${path}: ${res.status} ${await res.text()}`)
    return (await res.json()) as T
  }
  return {
    ...ready,
    stop: async () => {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    },
    faults: async (f) => void (await admin('POST', 'faults', f)),
    stats: () => admin('GET', 'stats'),
    requests: () => admin('GET', 'requests'),
    resetStats: async () => void (await admin('POST', 'stats/reset', {})),
  }
}

/** Pages through all of `source`'s records, one request at a time; resolves to the records received. */
async function pageAll(emu: Emu, source: 'mail' | 'disk', agent: Agent): Promise<number> {
  let total = 0
  let tokenParam = ''
  for (;;) {
    const res = await request(`${emu.url}/security/v1/org/${emu.org}/audit_log/${source}?pageSize=100${tokenParam}`, { dispatcher: agent, headers: { authorization: `OAuth ${emu.token}` } })
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${await res.body.text()}`)
    const body = (await res.body.json()) as { events: unknown[]; nextPageToken: string }
    total += body.events.length
    if (!body.nextPageToken) return total
    tokenParam = `&pageToken=${body.nextPageToken}`
  }
}

/** The trivial client over `sources` at once (one sequence each, in this process): its records/s. */
export async function trivialClient(emu: Emu, sources: ('mail' | 'disk')[]): Promise<{ records: number; ms: number }> {
  const agent = new Agent({ connections: sources.length, pipelining: 1 })
  const t0 = performance.now()
  const counts = await Promise.all(sources.map((s) => pageAll(emu, s, agent)))
  const ms = performance.now() - t0
  await agent.close()
  return { records: counts.reduce((a, b) => a + b, 0), ms }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const records = Number(process.argv[2] ?? 200_000)
  const emu = await startEmu({ mail: records, days: 30, faults: { latencyMs: Number(process.argv[3] ?? 0) } })
  try {
    for (let i = 0; i < 3; i++) {
      const r = await trivialClient(emu, ['mail'])
      process.stderr.write(`run ${i + 1}: ${Math.round(r.records / (r.ms / 1000))} records/s\n`)
    }
  } finally {
    await emu.stop()
  }
}
