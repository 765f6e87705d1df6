/** Configuration problems as values: collected from every stage, scrubbed of the token, then thrown once. */
import { Y360Error } from '../errors.js'
import { scrubber } from '../secrets.js'

/** One thing wrong with the configuration: which option (flag name, when there is one), the text given, and what to do. */
export interface Problem {
  readonly option: string | undefined
  readonly value: string | undefined
  /** Shown to the user as is (one line of CONFIG_INVALID). */
  readonly message: string
}

/** A problem of `option` (a flag name without dashes) with `value`. */
export function problem(option: string | undefined, value: string | undefined, message: string): Problem {
  return { option, value, message }
}

/** The problems with `token` replaced by [REDACTED] wherever it appears: a value may be the token pasted into the wrong variable. */
export function scrub(problems: readonly Problem[], token: string): Problem[] {
  const clean = scrubber([token])
  return problems.map((p) => ({ option: p.option, value: p.value === undefined ? undefined : clean(p.value), message: clean(p.message) }))
}

/** The one CONFIG_INVALID error listing every problem; `problems` keeps the messages (what users and tests read). */
export function configError(problems: readonly Problem[]): Y360Error {
  const messages = problems.map((p) => p.message)
  return new Y360Error('CONFIG_INVALID', `configuration problems:\n${messages.map((m) => `  - ${m}`).join('\n')}`, { problems: messages })
}
