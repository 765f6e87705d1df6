// Packaging. Guards: `npm pack` from a fresh checkout (tracked files only, no dist/) builds through `prepack` and ships
// the launcher and the compiled CLI, without source maps or TypeScript; the tarball installs globally into a temporary
// prefix (its dependencies served by a registry on 127.0.0.1 made from this clone's node_modules) and the installed
// command runs a real fetch; the launcher works from the clone, through a symbolic link and under BusyBox's sh (no
// `env -S` there), and caps V8's heap unless NODE_OPTIONS already sets it; dist/src/cli.js is executable after a build.
import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { CLI, cliEnv, collect, emulator, ROOT, type CliResult, bare } from '../helpers.js'

const LAUNCHER = join(ROOT, 'bin/y360-audit')
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
const NODE_DIR = dirname(process.execPath)

/** Runs `cmd` with exactly the NODE_OPTIONS given (the measurements below must see exactly that one): see `bare`. */
function run(cmd: string, args: string[], opts: { env: Record<string, string>; cwd: string }): Promise<CliResult> {
  const { NODE_OPTIONS, ...env } = opts.env
  const child = spawn(...bare(cmd, args, { NODE_OPTIONS }), { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] })
  child.stdin.end()
  return collect(child)
}

/** A preload that prints V8's heap limit (MiB) on stderr: measures what the launcher's flags did. */
function heapProbe(dir: string): string {
  const p = join(dir, 'heap.cjs')
  writeFileSync(p, 'process.stderr.write("heap-limit-mib " + Math.round(require("v8").getHeapStatistics().heap_size_limit / 1048576) + " exec-argv " + JSON.stringify(process.execArgv) + "\\n")\n')
  return p
}
const heapOf = (stderr: string): number => Number(/heap-limit-mib (\d+)/.exec(stderr)?.[1] ?? NaN)

t.test('dist/src/cli.js is executable after a build and runs through its shebang', async (t) => {
  t.equal(statSync(CLI).mode & 0o111, 0o111, 'mode has the execute bits')
  const r = await run(CLI, ['--version'], { env: { PATH: `${NODE_DIR}:/usr/bin:/bin` }, cwd: t.testdir() })
  t.same(r, { code: 0, signal: null, stdout: `${VERSION}\n`, stderr: '' })
})

t.test('the launcher: from the clone, through a symbolic link, heap capped unless NODE_OPTIONS sets it', async (t) => {
  const dir = t.testdir()
  const probe = heapProbe(dir)
  const env = { PATH: `${NODE_DIR}:/usr/bin:/bin` }
  const direct = await run(LAUNCHER, ['--version'], { env, cwd: dir })
  t.same(direct, { code: 0, signal: null, stdout: `${VERSION}\n`, stderr: '' })
  symlinkSync(LAUNCHER, join(dir, 'y360-audit'))
  const linked = await run(join(dir, 'y360-audit'), ['--version'], { env: { ...env, NODE_OPTIONS: `--require ${probe}` }, cwd: dir })
  t.equal(linked.code, 0)
  t.equal(linked.stdout, `${VERSION}\n`, 'a symbolic link (as a global install makes) finds the CLI')
  const capped = heapOf(linked.stderr)
  t.ok(capped >= 256 && capped < 400, `heap capped by the launcher (${capped} MiB; V8 default is several GiB)`)
  const plain = await run(process.execPath, [CLI, '--version'], { env: { ...env, NODE_OPTIONS: `--require ${probe}` }, cwd: dir })
  t.ok(heapOf(plain.stderr) > 1000, `without the launcher the heap is V8's default (${heapOf(plain.stderr)} MiB)`)
  const own = await run(LAUNCHER, ['--version'], { env: { ...env, NODE_OPTIONS: `--require ${probe} --max-old-space-size=100` }, cwd: dir })
  t.equal(own.code, 0)
  // The launcher added none of its flags; the limit is then V8's for 100 MiB of old space plus its young generation,
  // which differs between Node versions (148 MiB on Node 20, 292 on Node 24): below V8's default, whatever it is.
  t.notMatch(own.stderr, /exec-argv .*--max-old-space-size=256/, 'NODE_OPTIONS --max-old-space-size wins: the launcher adds no heap flag')
  t.ok(heapOf(own.stderr) < heapOf(plain.stderr) / 4, `the heap follows NODE_OPTIONS (${heapOf(own.stderr)} MiB)`)
})

// Memory bounded however the CLI is started (issue 14): the run holds little by design, and `node dist/src/cli.js`
// without a heap size of the user's sets V8's growth factors itself (cli.ts); a heap size in NODE_OPTIONS or on node's
// command line, or the launcher's flags, are left to govern. Each way is a real fetch against the emulator, in the
// process itself; its debug log says the heap limit and who set the growth factors. What they keep the peak RSS at is
// measured by the bench (bench/RESULTS.md), not here.
t.test('each way of starting a fetch: the heap limit, and the growth factors set by the CLI unless node was given a heap size', async (t) => {
  const emu = await emulator(t, { counts: { mail: 30 }, days: 2 })
  const ways: [string, string, string[], string | undefined, boolean, [number, number]][] = [
    ['node dist/src/cli.js', process.execPath, [CLI], undefined, true, [1000, Infinity]],
    ['node dist/src/cli.js, NODE_OPTIONS --max-old-space-size=600', process.execPath, [CLI], '--max-old-space-size=600', false, [600, 1000]],
    ['node --max-old-space-size=600 dist/src/cli.js', process.execPath, ['--max-old-space-size=600', CLI], undefined, false, [600, 1000]],
    ['the launcher', LAUNCHER, [], undefined, false, [256, 400]],
  ]
  for (const [i, [name, cmd, pre, nodeOptions, factors, [lo, hi]]] of ways.entries()) {
    const dir = t.testdir() + `/way-${i}`
    const env = { ...cliEnv(emu), PATH: `${NODE_DIR}:/usr/bin:/bin`, ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }) }
    const r = await run(cmd, [...pre, '--mail-dir', join(dir, 'mail'), '--log-level', 'debug', '--no-log-file'], { env, cwd: t.testdir() })
    t.equal(r.code, 0, `${name}: exit 0`)
    const line = r.stderr.split('\n').find((l) => l.includes('heap limit'))
    const seen = line === undefined ? undefined : (JSON.parse(line) as { heapFactors: boolean; heapLimitMiB: number })
    t.equal(seen?.heapFactors, factors, `${name}: growth factors ${factors ? 'set by the CLI' : 'left to node'}`)
    t.ok(seen !== undefined && seen.heapLimitMiB >= lo && seen.heapLimitMiB < hi, `${name}: heap limit ${seen?.heapLimitMiB} MiB in [${lo}, ${hi})`)
    const lines = readdirSync(join(dir, 'mail')).filter((f) => f.endsWith('.json')).reduce((n, f) => n + readFileSync(join(dir, 'mail', f), 'utf8').split('\n').length - 1, 0)
    t.equal(lines, 30, `${name}: every record written`)
  }
})

const BUSYBOX = ['/usr/bin/busybox', '/bin/busybox'].find((p) => existsSync(p))

t.test('the launcher under BusyBox sh (no env -S), with only BusyBox applets and node on PATH', { skip: BUSYBOX === undefined ? 'busybox not installed (apt-get install busybox)' : false }, async (t) => {
  const dir = t.testdir()
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  for (const applet of ['sh', 'readlink', 'dirname']) symlinkSync(BUSYBOX as string, join(bin, applet))
  symlinkSync(process.execPath, join(bin, 'node'))
  symlinkSync(LAUNCHER, join(dir, 'y360-audit'))
  const probe = heapProbe(dir)
  const r = await run(BUSYBOX as string, ['sh', join(dir, 'y360-audit'), '--version'], { env: { PATH: bin, NODE_OPTIONS: `--require ${probe}` }, cwd: dir })
  t.equal(r.code, 0, 'exit 0')
  t.equal(r.stdout, `${VERSION}\n`)
  const capped = heapOf(r.stderr)
  t.ok(capped >= 256 && capped < 400, `heap capped under BusyBox too (${capped} MiB)`)
})

/** Packuments and tarballs of every production dependency installed in this clone, served on 127.0.0.1. */
async function localRegistry(t: { teardown(fn: () => unknown): void }, work: string): Promise<string> {
  const paths = execFileSync(...bare('npm', ['ls', '--omit=dev', '--all', '--parseable']), { cwd: ROOT, encoding: 'utf8' }).split('\n').filter((p) => p !== '' && p !== ROOT)
  const packuments = new Map<string, { name: string; 'dist-tags': Record<string, string>; versions: Record<string, unknown> }>()
  const tarballs = new Map<string, Buffer>()
  let base = ''
  const pending: (() => void)[] = []
  for (const p of paths) {
    const pkg = JSON.parse(readFileSync(join(p, 'package.json'), 'utf8')) as Record<string, unknown> & { name: string; version: string }
    const file = `${pkg.name.replace('/', '-')}-${pkg.version}.tgz`
    const out = join(work, file)
    mkdirSync(work, { recursive: true })
    if (!existsSync(out)) execFileSync('tar', ['-czf', out, '--exclude=./node_modules', '--transform', 's,^\\.,package,', '-C', p, '.'])
    const bytes = readFileSync(out)
    tarballs.set(`/${pkg.name}/-/${file}`, bytes)
    const doc = packuments.get(pkg.name) ?? { name: pkg.name, 'dist-tags': {}, versions: {} }
    doc['dist-tags'].latest = pkg.version
    const { name, version, dependencies, optionalDependencies, peerDependencies, peerDependenciesMeta, bin, engines } = pkg
    pending.push(() => {
      doc.versions[version] = { name, version, dependencies, optionalDependencies, peerDependencies, peerDependenciesMeta, bin, engines, dist: { tarball: `${base}/${name}/-/${file}`, shasum: createHash('sha1').update(bytes).digest('hex'), integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}` } }
    })
    packuments.set(pkg.name, doc)
  }
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    const tgz = tarballs.get(path)
    if (tgz !== undefined) return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tgz)
    const doc = packuments.get(path.slice(1))
    if (doc !== undefined) return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc))
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  for (const f of pending) f()
  return base
}

t.test('npm pack from a fresh checkout builds (prepack), ships no maps; a global install into a temp prefix runs a fetch', { timeout: 600_000 }, async (t) => {
  const dir = t.testdir()
  // A fresh checkout: the files git would hand out (tracked, plus new ones not ignored), no dist/, this clone's deps.
  const clone = join(dir, 'clone')
  for (const f of execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0')) {
    if (f === '' || !existsSync(join(ROOT, f))) continue
    mkdirSync(dirname(join(clone, f)), { recursive: true })
    cpSync(join(ROOT, f), join(clone, f))
  }
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'))
  t.notOk(existsSync(join(clone, 'dist')), 'no build in the checkout')
  const npmEnv = { PATH: `${NODE_DIR}:${process.env.PATH ?? ''}`, HOME: dir, npm_config_cache: join(dir, 'npm-cache'), npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' }
  const packed = await run('npm', ['pack', '--pack-destination', dir], { env: npmEnv, cwd: clone })
  t.equal(packed.code, 0, 'npm pack exits 0', { stderr: packed.stderr })
  const tgz = join(dir, `y360-audit-${VERSION}.tgz`)
  const files = execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).split('\n').filter(Boolean).sort()
  t.ok(files.includes('package/bin/y360-audit'), 'the launcher')
  t.ok(files.includes('package/dist/src/cli.js') && files.includes('package/dist/src/emulator/server.js'), 'the compiled CLI and emulator')
  t.same(files.filter((f) => /\.(map|ts)$/.test(f)), [], 'no source maps, no TypeScript')
  t.same(files.filter((f) => !/^package\/(bin\/y360-audit|dist\/src\/.+\.js|README\.md|LICENSE|package\.json)$/.test(f)), [], 'nothing else')

  const registry = await localRegistry(t, join(dir, 'registry'))
  const prefix = join(dir, 'prefix')
  const installed = await run('npm', ['install', '-g', '--prefix', prefix, '--registry', registry, tgz], { env: npmEnv, cwd: dir })
  t.equal(installed.code, 0, 'npm install -g exits 0', { stderr: installed.stderr })
  const bin = join(prefix, 'bin/y360-audit')
  // node first on PATH, then the system's tools the launcher uses (readlink, dirname): NODE_DIR alone is /usr/bin only
  // for a system node; for a node installed from the registry it holds node alone.
  const version = await run(bin, ['--version'], { env: { PATH: `${NODE_DIR}:/usr/bin:/bin` }, cwd: dir })
  t.same(version, { code: 0, signal: null, stdout: `${VERSION}\n`, stderr: '' }, 'the installed command runs')

  const emu = await emulator(t, { counts: { mail: 300 }, days: 1, seed: 3 })
  const archive = join(dir, 'archive')
  const fetched = await run(bin, ['--lookback', '2d'], { env: { ...cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: archive }), PATH: `${NODE_DIR}:/usr/bin:/bin` }, cwd: dir })
  t.equal(fetched.code, 0, 'the installed command fetches: exit 0')
  const lines = readdirSync(archive).filter((n) => n.endsWith('.json')).reduce((n, f) => n + readFileSync(join(archive, f), 'utf8').split('\n').length - 1, 0)
  t.equal(lines, emu.truth('mail').length, 'the installed command fetched every record')
})
