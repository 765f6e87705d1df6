// The ceiling of the 0 ms rows: a trivial paging client that only requests pages one after the other and parses them
// (undici, keep-alive, JSON.parse), one sequence per source, all at once. Nothing else is loaded here, so that it can
// run as a program of its own, started and timed the way the CLI is (spawn → exit):
//   node dist/bench/trivial.js <url> <org> <token> mail [disk]    prints the records received
import { pathToFileURL } from 'node:url'
import { Agent, request } from 'undici'

/** Where the client pages: an emulator's base URL, its org and token. */
export interface Target {
  url: string
  org: number
  token: string
}

/** Pages through all of `source`'s records, one request at a time; resolves to the records received. */
async function pageAll(at: Target, source: string, agent: Agent): Promise<number> {
  let total = 0
  let tokenParam = ''
  for (;;) {
    const res = await request(`${at.url}/security/v1/org/${at.org}/audit_log/${source}?pageSize=100${tokenParam}`, { dispatcher: agent, headers: { authorization: `OAuth ${at.token}` } })
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${await res.body.text()}`)
    const body = (await res.body.json()) as { events: unknown[]; nextPageToken: string }
    total += body.events.length
    if (!body.nextPageToken) return total
    tokenParam = `&pageToken=${body.nextPageToken}`
  }
}

/** The trivial client over `sources` at once (one sequence each, in this process): the records and the time taken. */
export async function trivialClient(at: Target, sources: string[]): Promise<{ records: number; ms: number }> {
  const agent = new Agent({ connections: sources.length, pipelining: 1 })
  const t0 = performance.now()
  const counts = await Promise.all(sources.map((s) => pageAll(at, s, agent)))
  const ms = performance.now() - t0
  await agent.close()
  return { records: counts.reduce((a, b) => a + b, 0), ms }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [url, org, token, ...sources] = process.argv.slice(2)
  if (url === undefined || org === undefined || token === undefined || sources.length === 0) throw new Error('usage: node dist/bench/trivial.js <url> <org> <token> <source>...')
  const { records } = await trivialClient({ url, org: Number(org), token }, sources)
  process.stdout.write(`${records}\n`)
}
