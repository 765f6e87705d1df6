// The mutable state of one emulator instance, shared by the HTTP handlers.
import type { SourceName } from './catalog.js'
import type { FaultEngine } from './faults.js'
import type { SourceData } from './source.js'
import type { StatsRecorder } from './stats.js'
import type { Switches } from './switches.js'

/** Everything a request handler needs; one per running emulator. */
export interface EmulatorState {
  readonly org: number
  readonly token: string
  readonly clock: () => number
  switches: Switches
  readonly faults: FaultEngine
  readonly stats: StatsRecorder
  readonly sources: Record<SourceName, SourceData>
  /** Called as each API request arrives, with the running request count (tests drive kills from it). */
  readonly onRequest?: (count: number) => void
}
