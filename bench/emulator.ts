// The bench's emulator, a child process. Run alone, it serves `records` mail records and times the trivial client
// (bench/trivial.ts) against them: npm run build && node dist/bench/emulator.js [records=200000] [latencyMs=0]
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { trivialClient } from './trivial.js'

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
