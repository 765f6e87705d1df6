// Ground truth: what a client should end up with for a source, range and filters.
import type { SourceName } from './catalog.js'
import type { FilterSpec } from './source.js'
import type { EmulatorState } from './state.js'
import { renderFormat } from './switches.js'

/** A truth query: `from`/`to` are epoch ms (fractions allowed, read to the µs), both inclusive; filters as in the API. */
export interface TruthQuery extends FilterSpec { from?: number; to?: number }

const DAY_US = 86_400_000_000

/** Visible records (retention applied, nothing else) matching `q`, ascending by instant, ties in store order (the API serves ties in reverse). */
export function* iterTruth(state: EmulatorState, source: SourceName, q: TruthQuery = {}): Generator<Record<string, unknown>> {
  const data = state.sources[source]
  const s = data.store
  const floor = state.clock() * 1000 - state.switches.retentionDays[source] * DAY_US
  const loUs = Math.max(q.from === undefined ? -Infinity : Math.round(q.from * 1000), floor)
  const hiUs = q.to === undefined ? Infinity : Math.round(q.to * 1000)
  const f = data.filter(q)
  const fmt = renderFormat(state.switches)
  const end = s.upperBound(hiUs)
  for (let p = s.lowerBound(loUs); p < end; p++) {
    const id = s.idAt(p)
    if (!f || f(id)) yield data.render(id, fmt)
  }
}
