// Runnable entry: `node dist/src/emulator/bin.js [flags]` (same flags as `y360-audit emulator`).
import { emulatorMain } from './cli.js'

process.exitCode = await emulatorMain(process.argv.slice(2))
