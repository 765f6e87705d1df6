/**
 * The config file of several organisations (--config): `{ <defaults>, "orgs": [ { <entry> }, … ] }`, whose keys are the
 * long option names without `--`. This module reads the file and judges its shape and its keys only; every value is
 * text for the option rows' own parsers (src/config.ts#readPlan layers it), so the file and the command line can never
 * disagree about what a value means.
 */
import { dirname } from 'node:path'
import { nearestFlag } from './layer.js'
import { OPTION, SOURCE_OPTIONS, type OptionSpec } from './options.js'
import { problem, type Problem } from './problem.js'
import { readSmallFile } from './read.js'
import { SOURCE_NAMES } from '../sources/descriptor.js'

/** A value of the file as an option's text: a string, `true` for a switch that is on, `null` to unset a default. */
export type FileValue = string | true | null

/** One entry of `orgs`: where it is (`orgs[2]`), its optional name, and its options' text by flag name. */
export interface FileEntry {
  readonly where: string
  readonly name: string | undefined
  readonly values: ReadonlyMap<string, FileValue>
}

/** The file as layers: the top-level defaults, the entries, the directory its relative paths are read against. */
export interface ConfigFile {
  readonly path: string
  readonly dir: string
  readonly defaults: ReadonlyMap<string, FileValue>
  readonly orgs: readonly FileEntry[]
  readonly problems: readonly Problem[]
}

/** A config file larger than this is not one (a wrong path). */
const MAX_FILE = 4 * 1024 * 1024

/** Settings of the whole process (one log, one summary, one metrics file, one pacing per host): top level only. */
export const PROCESS_WIDE: ReadonlySet<string> = new Set([OPTION.logFile, OPTION.noLogFile, OPTION.logLevel, OPTION.quiet, OPTION.summaryJson, OPTION.metricsFile, OPTION.watch, OPTION.intervalMs, OPTION.maxRps, OPTION.orgConcurrency].map((o) => o.flag))

/** Options that name one organisation or its files: set in the file, refused on the command line beside --config. */
export const PER_ORG: ReadonlySet<string> = new Set([OPTION.org, OPTION.token, OPTION.tokenFile, OPTION.stateFile, ...SOURCE_NAMES.map((n) => SOURCE_OPTIONS[n].dir)].map((o) => o.flag))

/** Command-line switches that have no place in a file (and --stdout, which cannot carry several organisations). */
const NOT_IN_FILE: ReadonlySet<string> = new Set([OPTION.config, OPTION.help, OPTION.version, OPTION.json, OPTION.stdout, OPTION.tagSource].map((o) => o.flag))

/** An entry's name labels its summary, metrics and log lines. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

/** Reads the file (a regular file, at most MAX_FILE bytes); its text or the problem. */
function readText(path: string): { text?: string; problem?: string } {
  const r = readSmallFile(path, MAX_FILE, 'the config file (--config)', 'config file')
  return r.problem === undefined ? { text: r.text } : { problem: r.problem }
}

/** One value as its option's text; a problem when its JSON type cannot be that option's. */
function textOf(o: OptionSpec, v: unknown, at: string): { value?: FileValue; problem?: Problem } {
  if (v === null) return { value: null }
  if (o.kind === 'boolean') {
    if (typeof v === 'boolean') return { value: v ? true : null }
    return { problem: problem(o.flag, undefined, `${at}: a switch: true or false, got ${JSON.stringify(v)}`) }
  }
  if (typeof v === 'string') return { value: v }
  if (typeof v === 'number' && Number.isFinite(v)) return { value: String(v) }
  // A list option's comma list may be written as a JSON array.
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x)))) return { value: v.join(',') }
  return { problem: problem(o.flag, undefined, `${at}: must be a string (the text given on the command line), a number or a list, got ${JSON.stringify(v)}`) }
}

/** The options of one object of the file (`where` is `` for the top level, `orgs[2]` for an entry). */
function readObject(obj: Record<string, unknown>, where: string, byFlag: ReadonlyMap<string, OptionSpec>): { values: Map<string, FileValue>; name?: string; problems: Problem[] } {
  const values = new Map<string, FileValue>()
  const problems: Problem[] = []
  const top = where === ''
  let name: string | undefined
  for (const [key, v] of Object.entries(obj)) {
    const at = top ? key : `${where}.${key}`
    if (top && key === 'orgs') continue
    if (!top && key === 'name') {
      if (typeof v === 'string' && NAME.test(v)) name = v
      else problems.push(problem(undefined, undefined, `${at}: a name of letters, digits, '.', '_' or '-' (at most 64, it labels the summary and the metrics), got ${JSON.stringify(v)}`))
      continue
    }
    const o = byFlag.get(key)
    if (o === undefined || NOT_IN_FILE.has(key)) {
      const known = [...byFlag.keys()].filter((k) => !NOT_IN_FILE.has(k))
      const near = o === undefined ? nearestFlag(key.replace(/^-+/, '').replace(/_/g, '-'), top ? [...known, 'orgs'] : [...known, 'name']) : undefined
      const why = o !== undefined
        ? (key === OPTION.stdout.flag || key === OPTION.tagSource.flag ? 'not with several organisations (their records would mix on one stdout): give each its own --syslog, or run them one by one' : 'a command-line switch, not a setting of the file')
        : `unknown key${near === undefined ? '' : `; did you mean "${near}"?`} (keys are the long option names without --; see --help)`
      problems.push(problem(undefined, undefined, `${at}: ${why}`))
      continue
    }
    if (!top && PROCESS_WIDE.has(key)) {
      problems.push(problem(undefined, undefined, `${at}: a setting of the whole process (one log, summary, metrics file and request pacing for every organisation): set it at the top level of the file`))
      continue
    }
    const r = textOf(o, v, at)
    if (r.problem !== undefined) problems.push(r.problem)
    else values.set(key, r.value as FileValue)
  }
  return { values, name, problems }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Reads and shapes the config file at `path` (absolute): every problem with its place in the file, nothing thrown. */
export function readConfigFile(path: string, options: readonly OptionSpec[]): ConfigFile {
  const out = { path, dir: dirname(path), defaults: new Map<string, FileValue>(), orgs: [] as FileEntry[], problems: [] as Problem[] }
  const at = (message: string): Problem => problem(OPTION.config.flag, path, `${path}: ${message}`)
  const read = readText(path)
  if (read.text === undefined) return { ...out, problems: [problem(OPTION.config.flag, path, read.problem as string)] }
  let doc: unknown
  try {
    doc = JSON.parse(read.text.replace(/^\uFEFF/, ''))
  } catch (err) {
    return { ...out, problems: [at(`not JSON: ${(err as Error).message}`)] }
  }
  if (!isObject(doc)) return { ...out, problems: [at('must be a JSON object: { <defaults>, "orgs": [ { "org": …, … }, … ] }')] }
  const byFlag = new Map(options.map((o) => [o.flag, o]))
  const top = readObject(doc, '', byFlag)
  out.problems.push(...top.problems)
  for (const [k, v] of top.values) out.defaults.set(k, v)
  const orgs = doc.orgs
  if (!Array.isArray(orgs) || orgs.length === 0) {
    out.problems.push(at('"orgs" must be a non-empty list of organisations: "orgs": [ { "org": 123456, "token-file": …, "mail-dir": … }, … ]'))
    return out
  }
  orgs.forEach((entry, i) => {
    const where = `orgs[${i}]`
    if (!isObject(entry)) {
      out.problems.push(problem(undefined, undefined, `${where}: must be an object of options, got ${JSON.stringify(entry)}`))
      return
    }
    const r = readObject(entry, where, byFlag)
    out.problems.push(...r.problems)
    out.orgs.push({ where, name: r.name, values: r.values })
  })
  return out
}
