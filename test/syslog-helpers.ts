/**
 * A real rsyslogd for tests: its own config on 127.0.0.1 and a free port (imtcp, optionally TLS through gnutls with a
 * test CA made by openssl), writing each message's raw text (%rawmsg%: the RFC 5424 message without its octet count)
 * as one line of a file. Started with `rsyslogd -n -f CONF -i PIDFILE`, stopped by its PID (SIGTERM, then awaited).
 * No sleeping: readiness is the port accepting a connection, probed in a bounded setImmediate loop.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, watch, writeFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { join } from 'node:path'

interface TapLike {
  teardown(fn: () => unknown): void
}

/** Files of a test PKI. */
export interface Pki {
  ca: string
  cert: string
  key: string
}

/** A CA and a server certificate for 127.0.0.1 / localhost signed by it, made with openssl in `dir`. */
export function makePki(dir: string, name = 'test'): Pki {
  mkdirSync(dir, { recursive: true })
  const f = (n: string): string => join(dir, `${name}-${n}`)
  const ossl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  ossl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', `/CN=${name} test CA`)
  ossl('req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost')
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  ossl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('ext.cnf'))
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') }
}

/** A port nobody listens on right now (the kernel's choice for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/** Resolves once something accepts connections on the port; rejects after `attempts` refusals or if `alive()` fails. */
export function waitForPort(port: number, alive: () => boolean, attempts = 200_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let n = 0
    const probe = (): void => {
      const s = connect(port, '127.0.0.1')
      s.on('connect', () => {
        s.destroy()
        resolve()
      })
      s.on('error', () => {
        s.destroy()
        if (!alive()) return reject(new Error(`rsyslogd exited before listening on ${port}`))
        if (++n >= attempts) return reject(new Error(`nothing listens on ${port} after ${n} attempts`))
        setImmediate(probe)
      })
    }
    probe()
  })
}

export interface Rsyslog {
  readonly port: number
  /** The file rsyslog writes each received message to, one per line. */
  readonly out: string
  readonly url: string
  /** PID of the running instance (undefined when stopped). */
  readonly pid: number | undefined
  /** Starts an instance (the same port, config and output file). */
  start(): Promise<void>
  /** SIGTERM to our instance by PID, awaited until it exited (rsyslog flushes its queue first). */
  stop(): Promise<void>
  /** The messages written so far. */
  lines(): string[]
}

/** Starts rsyslogd in `dir` (TCP, or TLS with `pki`); stopped at teardown. */
export async function startRsyslog(t: TapLike, dir: string, opts: { pki?: Pki; port?: number } = {}): Promise<Rsyslog> {
  mkdirSync(dir, { recursive: true })
  const port = opts.port ?? (await freePort())
  const out = join(dir, 'received.log')
  const conf = join(dir, 'rsyslog.conf')
  const pidFile = join(dir, 'rsyslogd.pid')
  const tls = opts.pki === undefined ? '' : `global(DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="${opts.pki.ca}" DefaultNetstreamDriverCertFile="${opts.pki.cert}" DefaultNetstreamDriverKeyFile="${opts.pki.key}")\n`
  const driver = opts.pki === undefined ? '' : ' StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"'
  writeFileSync(conf, [
    `global(workDirectory="${dir}" maxMessageSize="256k")`,
    // Direct: the input thread writes each message before it reads on, so its FIN after ours means "written".
    'main_queue(queue.type="Direct")',
    tls + `module(load="imtcp"${driver})`,
    `input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="received")`,
    'template(name="raw" type="string" string="%rawmsg%\\n")',
    `ruleset(name="received") { action(type="omfile" file="${out}" template="raw") }`,
    `*.* action(type="omfile" file="${join(dir, 'internal.log')}")`,
    '',
  ].join('\n'))
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  const r: Rsyslog = {
    port, out, url: `${opts.pki === undefined ? 'tcp' : 'tls'}://127.0.0.1:${port}`,
    get pid() {
      return child?.pid
    },
    async start() {
      const c = spawn('rsyslogd', ['-n', '-f', conf, '-i', pidFile], { stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      c.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      let alive = true
      exited = new Promise((resolve) => c.on('exit', () => ((alive = false), resolve())))
      child = c
      await waitForPort(port, () => alive).catch((err: Error) => {
        throw new Error(`${err.message}\n${stderr}`)
      })
    },
    async stop() {
      const c = child
      if (c?.pid === undefined) return
      child = undefined
      if (c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGTERM')
      await exited
    },
    lines() {
      if (!existsSync(out)) return []
      const text = readFileSync(out, 'utf8')
      return text === '' ? [] : text.replace(/\n$/, '').split('\n')
    },
  }
  t.teardown(() => r.stop())
  await r.start()
  return r
}

/** One received message, split into its RFC 5424 fields. */
export interface Received {
  pri: number
  version: number
  timestamp: string
  hostname: string
  app: string
  procId: string
  msgId: string
  org: string
  id: string
  msg: string
}

const SD_VALUE = '((?:[^"\\\\\\]]|\\\\.)*)'
const MESSAGE = new RegExp(`^<(\\d{1,3})>(\\d) (\\S+) (\\S+) (\\S+) (\\S+) (\\S+) \\[y360@32473 org="${SD_VALUE}" id="${SD_VALUE}"\\] (.*)$`)

/** Parses one line of rsyslog's output; throws on anything that is not our message format. */
export function parseReceived(line: string): Received {
  const m = MESSAGE.exec(line)
  if (m === null) throw new Error(`not an RFC 5424 message of ours: ${line.slice(0, 200)}`)
  const unescape = (v: string): string => v.replace(/\\(.)/g, '$1')
  return { pri: Number(m[1]), version: Number(m[2]), timestamp: m[3], hostname: m[4], app: m[5], procId: m[6], msgId: m[7], org: unescape(m[8]), id: unescape(m[9]), msg: m[10] }
}

/** Waits (fs.watch events, bounded) until the output file holds at least `n` lines. */
export function waitForLines(r: Rsyslog, n: number, maxEvents = 100_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const dir = join(r.out, '..')
    let events = 0
    const check = (): boolean => r.lines().length >= n
    if (check()) return resolve()
    const w = watch(dir, () => {
      if (check()) {
        w.close()
        resolve()
      } else if (++events >= maxEvents) {
        w.close()
        reject(new Error(`fewer than ${n} lines after ${events} file events`))
      }
    })
  })
}
