/**
 * Runs a share of the `test/**\/*.inproc.ts` files (compiled: `dist/test/**\/*.inproc.js`) in the calling process, in
 * path order: the files at positions `shard`, `shard + of`, `shard + 2·of`… of the sorted list, so each share mixes
 * short and long files. An in-process file leaves the test process as it found it: nothing of the process (umask,
 * working directory, environment, signal handlers) left changed after its test, no check of which modules are loaded
 * (it may start child processes: the CLI, rsyslogd, a shell). A file that needs more is a `*.test.ts`, which tap runs in a process of its
 * own. Why: each file tap runs costs about 0.9 s of CPU before its first test on Node 20 (its process-info hook sends
 * every module through a loader thread); ~75 files in two processes take about 40% off the suite's CPU. The two
 * `test/all-inproc-*.test.ts` files sort first, so tap starts these long files before the others.
 * One file alone: `TZ=UTC node dist/test/sources/planner.inproc.js`.
 */
import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export async function runInprocShard(shard: number, of: number): Promise<void> {
  const here = fileURLToPath(new URL('.', import.meta.url))
  const files = readdirSync(here, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.inproc.js'))
    .sort()
  // A search that found nothing would pass an empty suite; there are about 75.
  if (files.length < 60) throw new Error(`test/inproc.ts found only ${files.length} *.inproc.js files under ${here}`)
  const mine = files.filter((_, i) => i % of === shard)
  t.comment(`${mine.length} of ${files.length} in-process files (share ${shard + 1} of ${of})`)
  for (const f of mine) await import(pathToFileURL(join(here, f)).href)
}
