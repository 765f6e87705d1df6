// The first half of the in-process test files, in one process: see test/inproc.ts.
import { runInprocShard } from './inproc.js'

await runInprocShard(0, 2)
