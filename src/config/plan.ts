/**
 * Several organisations from one config file: the layers of one entry (flags > the entry > the file's defaults > the
 * row's default; the environment and ./.env are not read), where each problem is placed (`orgs[2].mail-dir: …`), and
 * the rules between organisations (distinct names, no directory written by two). Pure but for resolving links.
 */
import { realpathSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { ConfigFile, FileEntry, FileValue } from './file.js'
import { PER_ORG, PROCESS_WIDE } from './file.js'
import type { Raw } from './layer.js'
import { OPTION, SOURCE_OPTIONS, type OptionSpec } from './options.js'
import { problem, type Problem } from './problem.js'
import { NO_DIRECTORY } from './rules.js'
import { REQUIRED } from './token.js'
import { SOURCE_NAMES } from '../sources/descriptor.js'
import type { Config } from './types.js'

const DIR_KEYS = SOURCE_NAMES.map((n) => SOURCE_OPTIONS[n].dir.flag)

/** Where an option's text came from, for one organisation. */
export type Origin = 'flag' | 'entry' | 'defaults' | 'row'

/** One organisation's layered text, where each came from, and the directory its relative paths are read against. */
export interface OrgLayers {
  readonly raw: Raw
  readonly origin: ReadonlyMap<string, Origin>
  readonly cwdOf: (flag: string) => string | undefined
}

/** The layers of `entry`: a flag wins, then the entry, then the file's defaults (`null` unsets), then the row's default. */
export function orgLayers(options: readonly OptionSpec[], flags: ReadonlyMap<string, string | boolean>, file: ConfigFile, entry: FileEntry): OrgLayers {
  const raw = new Map<string, string | boolean | undefined>()
  const origin = new Map<string, Origin>()
  const fromFile = (v: FileValue, o: OptionSpec): string | boolean | undefined => (v === null ? (o.kind === 'boolean' ? undefined : o.default) : v)
  for (const o of options) {
    const given = flags.get(o.flag)
    if (given !== undefined) {
      raw.set(o.flag, given)
      origin.set(o.flag, 'flag')
    } else if (entry.values.has(o.flag)) {
      raw.set(o.flag, fromFile(entry.values.get(o.flag) as FileValue, o))
      origin.set(o.flag, 'entry')
    } else if (file.defaults.has(o.flag)) {
      raw.set(o.flag, fromFile(file.defaults.get(o.flag) as FileValue, o))
      origin.set(o.flag, 'defaults')
    } else {
      raw.set(o.flag, o.default)
      origin.set(o.flag, 'row')
    }
  }
  // Relative paths of the file are read against its directory, those of flags against the working directory.
  return { raw, origin, cwdOf: (flag) => (origin.get(flag) === 'entry' || origin.get(flag) === 'defaults' ? file.dir : undefined) }
}

/** Flags that name one organisation's identity or files, refused beside --config (they would apply to every one). */
export function perOrgFlags(flags: ReadonlyMap<string, string | boolean>): Problem[] {
  return [...flags.keys()].filter((f) => PER_ORG.has(f)).map((f) => problem(f, undefined, `--${f} cannot be given with --config (it would apply to every organisation): set "${f}" in the file, per organisation`))
}

/**
 * One organisation's problems, placed: a value given in its entry (or a rule about it) as `orgs[2].key: …`; a value
 * from the file's defaults as `key: …` and from a flag as it is (the same for every organisation, listed once).
 */
export function placeProblems(layers: OrgLayers, where: string, values: readonly Problem[], rules: readonly Problem[]): Problem[] {
  const from = (p: Problem): Origin => (p.option === undefined ? 'row' : (layers.origin.get(p.option) ?? 'row'))
  const value = values.map((p) => {
    const o = from(p)
    if (o === 'flag') return p
    if (o === 'defaults') return { ...p, message: `${p.option}: ${p.message}` }
    if (o === 'entry') return { ...p, message: `${where}.${p.option}: ${p.message}` }
    // Nothing given anywhere: say where it may go (the row's message names the environment, which is not read here).
    if (p.message === REQUIRED) return { ...p, message: `${where}: no OAuth token: give "${OPTION.tokenFile.flag}" (or "${OPTION.token.flag}") in the entry or at the top level of the file` }
    if (p.option === OPTION.org.flag) return { ...p, message: `${where}: no organisation id: give "${OPTION.org.flag}" in the entry` }
    return { ...p, message: `${where}: ${p.message}` }
  })
  // A rule about a setting of the whole process (the summary file, --watch) reads the same for every organisation.
  const rule = rules.map((p) => {
    if (p.option !== undefined && PROCESS_WIDE.has(p.option) && from(p) !== 'entry') return p
    if (p.message === NO_DIRECTORY) return { ...p, message: `${where}: no source to run: give at least one of ${DIR_KEYS.map((k) => `"${k}"`).join(', ')}` }
    return { ...p, message: `${where}${from(p) === 'entry' ? `.${p.option}` : ''}: ${p.message}` }
  })
  return [...value, ...rule]
}

/** One organisation as the rules between organisations see it. */
export interface OrgView {
  readonly where: string
  readonly name: string
  readonly config: Config
}

/** A directory (absolute) with the links of its nearest existing ancestor resolved: two spellings of one place are equal. */
function real(dir: string): string {
  try {
    return realpathSync(dir)
  } catch {
    const up = dirname(dir)
    return up === dir ? dir : join(real(up), basename(dir)) // not there yet: its parent decides
  }
}

/** The directories an organisation's run writes and locks: its archive directories, or its state file's directory. */
export function writtenDirs(cfg: Config): string[] {
  const dirs = cfg.sources.filter((s) => s.dir !== '').map((s) => s.dir)
  if (cfg.stateFile !== undefined && dirs.length === 0) dirs.push(dirname(cfg.stateFile))
  return [...new Set(dirs)]
}

/** Names label the summary and the metrics: two organisations with one name would overwrite each other's lines. */
export function distinctNames(orgs: readonly OrgView[]): Problem[] {
  const seen = new Map<string, string>()
  const out: Problem[] = []
  for (const o of orgs) {
    const other = seen.get(o.name)
    if (other === undefined) seen.set(o.name, o.where)
    else out.push(problem(undefined, o.name, `${o.where}: the name "${o.name}" is also that of ${other} (an organisation's name is its "name", else its "org"): give one of them a distinct "name"`))
  }
  return out
}

/**
 * Two organisations writing one directory would share its lock (the second could never run), and with one base name
 * interleave their day files, marks and syslog position: every directory is written by one organisation only.
 */
export function distinctDirs(orgs: readonly OrgView[]): Problem[] {
  const owner = new Map<string, string>()
  const out: Problem[] = []
  for (const o of orgs) {
    for (const dir of writtenDirs(o.config)) {
      const key = real(dir)
      const other = owner.get(key)
      if (other === undefined) owner.set(key, o.where)
      else if (other !== o.where) out.push(problem(undefined, dir, `${o.where}: writes ${dir}, as ${other} does (archive day files, marks, state and its lock .y360-audit.lock): give each organisation directories (and a state file directory) of its own`))
    }
  }
  return out
}

/** Warnings of every organisation: one said by all of them once, the others led by the entries that said them. */
export function orgWarnings(byOrg: readonly { where: string; warnings: readonly string[] }[]): string[] {
  const who = new Map<string, string[]>()
  for (const o of byOrg) for (const w of new Set(o.warnings)) who.set(w, [...(who.get(w) ?? []), o.where])
  return [...who].map(([w, wheres]) => (wheres.length === byOrg.length ? w : `${wheres.join(', ')}: ${w}`))
}
