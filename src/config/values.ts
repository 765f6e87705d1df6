/** The parse stage: every option's layered text through its row's parser, problems collected, a value for every row. */
import type { OptionSpec, StringOption, ValueOf, ValuesOf } from './options.js'
import type { ParseContext } from './parse.js'
import { problem, type Problem } from './problem.js'
import type { Raw } from './layer.js'

/** Which command reads the options: `verify` ignores the rows marked fetchOnly; `reconcile` reads them as fetch does. */
export type Mode = 'fetch' | 'verify' | 'reconcile'

/** Parsed values by row; a row whose text was refused holds what its default gives (the run is refused anyway). */
export interface Values {
  get<O extends OptionSpec>(o: O): ValueOf<O>
  /** The values of a keyed table of rows, under the same keys. */
  all<R extends Record<string, OptionSpec>>(rows: R): ValuesOf<R>
}

/** One row's value and problems. */
function parseRow(o: StringOption<unknown>, text: string | undefined, ctx: ParseContext, mode: Mode): { value: unknown; problems: Problem[] } {
  if (o.fetchOnly === true && mode === 'verify') return { value: undefined, problems: [] }
  const trimmed = text?.trim()
  const r = trimmed === undefined ? { ok: true as const, value: undefined } : o.parse(trimmed, ctx)
  if (!r.ok) {
    const fallback = r.partial !== undefined || o.default === undefined ? undefined : o.parse(o.default, ctx)
    return { value: r.partial ?? (fallback?.ok === true ? fallback.value : undefined), problems: r.messages.map((m) => problem(o.flag, trimmed, m)) }
  }
  if (r.value === undefined && o.required !== undefined && mode !== 'verify') return { value: undefined, problems: [problem(o.flag, trimmed, o.required)] }
  return { value: r.value, problems: [] }
}

/** The working directory a row's relative paths are read against (a config file's values: the file's directory). */
export type CwdOf = (flag: string) => string | undefined

/** Parses every row of `options` in order (so problems come in --help order). */
export function parseAll(options: readonly OptionSpec[], raw: Raw, base: Omit<ParseContext, 'flag'>, mode: Mode, cwdOf?: CwdOf): { values: Values; problems: Problem[] } {
  const byRow = new Map<OptionSpec, unknown>()
  const problems: Problem[] = []
  for (const o of options) {
    const given = raw.get(o.flag)
    if (o.kind === 'boolean') {
      byRow.set(o, given === true)
      continue
    }
    const r = parseRow(o, typeof given === 'string' ? given : undefined, { ...base, flag: o.flag, cwd: cwdOf?.(o.flag) ?? base.cwd }, mode)
    byRow.set(o, r.value)
    problems.push(...r.problems)
  }
  const get = <O extends OptionSpec>(o: O): ValueOf<O> => byRow.get(o) as ValueOf<O>
  const all = <R extends Record<string, OptionSpec>>(rows: R): ValuesOf<R> => Object.fromEntries(Object.entries(rows).map(([k, o]) => [k, get(o)])) as ValuesOf<R>
  return { values: { get, all }, problems }
}

/** A row's value on its own, problems ignored (the zone that --since/--until are read in is needed before they are). */
export function quietValue<T>(o: StringOption<T>, raw: Raw, base: Omit<ParseContext, 'flag'>, mode: Mode): T {
  const given = raw.get(o.flag)
  return parseRow(o, typeof given === 'string' ? given : undefined, { ...base, flag: o.flag }, mode).value as T
}
