/** The layers of option text: flags > environment > ./.env > defaults. Reads `.env`; judges nothing but the command line's shape. */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs, parseEnv } from 'node:util'
import type { OptionSpec } from './options.js'
import { problem, type Problem } from './problem.js'

/** Each option's text by flag name (`true` for a switch that is present), before parsing. */
export type Raw = ReadonlyMap<string, string | boolean | undefined>

/** The layered text of every option, with the problems and warnings found on the way. */
export interface Layered {
  readonly raw: Raw
  readonly problems: readonly Problem[]
  readonly warnings: readonly string[]
}

/** `.env` of the working directory (if any); warns when others can read it (it holds the token). */
function readDotEnv(cwd: string): { vars: Record<string, string>; problem?: Problem; warning?: string } {
  const file = resolve(cwd, '.env')
  if (!existsSync(file)) return { vars: {} }
  try {
    const st = statSync(file)
    const warning = (st.mode & 0o044) !== 0 ? `${file} is readable by other users and holds the token; run: chmod 600 ${file}` : undefined
    return { vars: parseEnv(readFileSync(file, 'utf8')) as Record<string, string>, warning }
  } catch (err) {
    return { vars: {}, problem: problem(undefined, file, `cannot read ${file}: ${(err as Error).message}`) }
  }
}

/** Edit distance of two short strings (for "did you mean"). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)))
    prev = row
  }
  return prev[b.length]
}

/** The known flag nearest to an unknown one, when it is near enough to be a typo (or the unknown one is its prefix). */
export function nearestFlag(name: string, flags: Iterable<string>): string | undefined {
  let best: { flag: string; d: number } | undefined
  for (const f of flags) {
    const d = f.startsWith(name) && name.length >= 3 ? 0.5 : distance(name, f)
    if (d <= Math.max(1, Math.floor(f.length / 4)) && (best === undefined || d < best.d)) best = { flag: f, d }
  }
  return best?.flag
}

/** Unknown flags, missing or unexpected values and stray arguments, in the order given. */
function shapeProblems(tokens: ReturnType<typeof parseArgs>['tokens'], byFlag: ReadonlyMap<string, OptionSpec>): Problem[] {
  const out: Problem[] = []
  for (const tok of tokens ?? []) {
    if (tok.kind === 'positional') out.push(problem(undefined, tok.value, `unexpected argument "${tok.value}"; see --help`))
    if (tok.kind !== 'option') continue
    const spec = byFlag.get(tok.name)
    if (spec === undefined) {
      const near = tok.rawName.startsWith('--') ? nearestFlag(tok.name, byFlag.keys()) : undefined
      out.push(problem(undefined, tok.rawName, `unknown option ${tok.rawName}; ${near === undefined ? '' : `did you mean --${near}? `}see --help`))
    }
    else if (spec.kind === 'string' && tok.value === undefined) out.push(problem(spec.flag, undefined, `${tok.rawName} needs a value`))
    else if (spec.kind === 'boolean' && tok.inlineValue === true) out.push(problem(spec.flag, tok.value, `${tok.rawName} takes no value`))
  }
  return out
}

/** The command line alone: each flag given (of the right shape) by name, and the problems of its shape. */
export function flagLayer(options: readonly OptionSpec[], argv: string[]): { given: ReadonlyMap<string, string | boolean>; problems: Problem[] } {
  const byFlag = new Map(options.map((o) => [o.flag, o]))
  const parsed = parseArgs({ args: argv, options: Object.fromEntries(options.map((o) => [o.flag, o.short === undefined ? { type: o.kind } : { type: o.kind, short: o.short }])), strict: false, allowPositionals: true, tokens: true })
  const given = new Map<string, string | boolean>()
  for (const o of options) {
    const v = parsed.values[o.flag]
    // A flag of the wrong shape (`--org` without a value) is reported below; the lower layers stand in for it.
    if (v !== undefined && typeof v === (o.kind === 'boolean' ? 'boolean' : 'string')) given.set(o.flag, v as string | boolean)
  }
  return { given, problems: shapeProblems(parsed.tokens, byFlag) }
}

/** Merges the layers for every option: a flag wins (even when blank); a blank variable counts as unset. */
export function layer(options: readonly OptionSpec[], argv: string[], env: NodeJS.ProcessEnv, cwd: string): Layered {
  const dotenv = readDotEnv(cwd)
  const flags = flagLayer(options, argv)
  const raw = new Map<string, string | boolean | undefined>()
  for (const o of options) {
    const given = flags.given.get(o.flag)
    const envValue = o.env === undefined ? undefined : (env[o.env] ?? dotenv.vars[o.env])
    if (given !== undefined) raw.set(o.flag, given)
    else raw.set(o.flag, envValue !== undefined && envValue !== '' ? envValue : o.default)
  }
  return {
    raw,
    problems: [...(dotenv.problem ? [dotenv.problem] : []), ...flags.problems],
    warnings: dotenv.warning ? [dotenv.warning] : [],
  }
}
