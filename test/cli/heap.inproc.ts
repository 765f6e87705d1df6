// The heap settings cli.ts applies when the user chose none (DESIGN §2, invariant 5 "Bounded memory"): which command
// lines count as the user's choice, and the young generation's growth stopping at YOUNG_CAP. The growth is measured
// in a node process of its own (V8's flags are the process's): a loop keeping a ring of live objects makes V8 double
// the young generation after its collections; without the cap it passes 16 MiB (32 MiB on Node 20 and 24), with it
// it stops there.
import t from 'tap'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { YOUNG_CAP, heapChosen } from '../../src/entry.js'
import { collect } from '../helpers.js'

t.test('a heap size or growth factor of the user\'s, on the command line or in NODE_OPTIONS, is left alone', async (t) => {
  t.equal(heapChosen([], {}), false, 'nothing chosen')
  t.equal(heapChosen(['--enable-source-maps'], { NODE_OPTIONS: '--require x.cjs' }), false, 'other flags are no choice')
  for (const flag of ['--max-old-space-size=600', '--max_old_space_size=600', '--max-semi-space-size=8', '--heap-growing-percent=50', '--semi-space-growth-factor=3']) {
    t.equal(heapChosen([flag], {}), true, `${flag} on node's command line`)
    t.equal(heapChosen([], { NODE_OPTIONS: `--require x.cjs ${flag}` }), true, `${flag} in NODE_OPTIONS`)
  }
})

const ENTRY = pathToFileURL(join(import.meta.dirname, '../../src/entry.js')).href

/** The largest young generation (MiB) a process of garbage with survivors reached, the cap applied or not. */
async function youngPeak(dir: string, capped: boolean): Promise<number> {
  const script = join(dir, `young-${capped}.mjs`)
  writeFileSync(script, [
    "import { getHeapSpaceStatistics } from 'node:v8'",
    capped ? `const { capYoungGeneration } = await import(${JSON.stringify(ENTRY)}); capYoungGeneration()` : '',
    'const ring = new Array(2000)',
    'let peak = 0',
    'for (let i = 0; i < 400_000; i++) {',
    "  ring[i % ring.length] = { i, text: 'x'.repeat(200) + i, list: [i, i + 1] }",
    '  if (i % 1000 === 0) {',
    '    await new Promise(setImmediate) // the observer reports collections between tasks',
    "    peak = Math.max(peak, getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size)",
    '  }',
    '}',
    'process.stdout.write(String(peak / 1048576))',
  ].join('\n'))
  const child = spawn(process.execPath, [script])
  child.stdin.end()
  const r = await collect(child)
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`)
  return Number(r.stdout)
}

t.test('the young generation grows to YOUNG_CAP and no further once the cap is set', async (t) => {
  const dir = t.testdir()
  const free = await youngPeak(dir, false)
  t.ok(free > YOUNG_CAP / 1048576, `without the cap it grows past ${YOUNG_CAP / 1048576} MiB (${free} MiB): the loop tests something`)
  // V8 sizes the young generation in pages: Node 24 under load was seen at 16.5 MiB, one growth step (to 32) is what
  // the cap must prevent.
  const capped = await youngPeak(dir, true)
  const cap = YOUNG_CAP / 1048576
  t.ok(capped >= cap && capped <= cap * 1.1, `with the cap it stops at 16 MiB, to V8's page sizing (${capped} MiB)`)
  t.ok(capped < free, `below the uncapped run's ${free} MiB`)
})
