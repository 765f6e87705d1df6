// Runs every `test/**/*.inproc.ts` (compiled: `dist/test/**/*.inproc.js`) in this one process, in path order.
// An in-process file holds tests that need no process of their own: no child process, no signal, no umask, no
// module-loading state, nothing global left changed (the commands run through `runMain` with their own Io). A file
// that needs its own process is a `*.test.ts`, run by tap in a process of its own.
// Why: each file tap runs costs about 0.9 s of CPU before its first test on Node 20 (its process-info hook sends every
// module through a loader thread); ~60 files in one process take about a third off the suite's CPU. The name sorts
// first, so tap starts this long file before the others. One file alone: `TZ=UTC node dist/test/sources/planner.inproc.js`.
import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const files = readdirSync(here, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.inproc.js'))
  .sort()
// A search that found nothing would pass an empty suite; there are about 60.
if (files.length < 50) throw new Error(`test/all-inproc.test.ts found only ${files.length} *.inproc.js files under ${here}`)
t.comment(`${files.length} in-process files`)
for (const f of files) await import(pathToFileURL(join(here, f)).href)
