/**
 * Where the token comes from: --token / OAUTH_TOKEN_ARG, or a file (--token-file / Y360_TOKEN_FILE, else systemd's
 * `$CREDENTIALS_DIRECTORY/y360-token`), so it never has to sit in the environment or on a command line. Reads the file
 * (never writes); a token that cannot be sent as an HTTP header value is a problem here, not a request retried later.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { TOKEN_CREDENTIAL } from '../secrets.js'
import { OPTION } from './options.js'
import { problem, type Problem } from './problem.js'
import { readSmallFile } from './read.js'

/** A token file larger than this is not a token (a wrong path: a log, a key store). */
const MAX_TOKEN_FILE = 64 * 1024

/** The token and where it came from, or the problems finding it. */
export interface TokenResult {
  token: string | undefined
  /** Where the token came from, for messages ("the token file /run/secrets/t", "OAUTH_TOKEN_ARG / --token"). */
  from: string
  problems: Problem[]
  warnings: string[]
}

/** What is wrong with `token` as an HTTP header value (Node refuses these characters), without showing it. */
export function headerProblem(token: string): string | undefined {
  const bad = /[^\t\x20-\x7e\x80-\xff]/.exec(token)
  if (bad === null) return undefined
  const c = bad[0].codePointAt(0) as number
  const what = c === 0x0a || c === 0x0d ? 'a line break' : c < 0x20 || c === 0x7f ? `a control character (U+${c.toString(16).padStart(4, '0')})` : `a character outside Latin-1 (U+${c.toString(16).toUpperCase().padStart(4, '0')})`
  return `holds ${what}, which cannot be sent in an HTTP header; copy the token again (only the token, on one line)`
}

/** Reads a token file: a regular file (links followed: Kubernetes Secret volumes are links), one trailing newline trimmed. */
function readTokenFile(path: string, what: string): { token?: string; problem?: string; warning?: string } {
  const r = readSmallFile(path, MAX_TOKEN_FILE, what, 'token file')
  if (r.problem !== undefined) return { problem: r.problem }
  const token = (r.text ?? '').replace(/\r?\n$/, '')
  if (token.trim() === '') return { problem: `${what} ${path} is empty` }
  const warning = ((r.mode ?? 0) & 0o004) !== 0 ? `${path} is readable by every user and holds the token; run: chmod o-r ${path} (0400, or 0440 for a group such as a Kubernetes fsGroup)` : undefined
  return { token, warning }
}

/** The token file to read when no token is given: --token-file, else the systemd credential when it exists. */
function tokenFilePath(file: string | undefined, env: NodeJS.ProcessEnv): { path: string; what: string } | undefined {
  if (file !== undefined) return { path: file, what: `the token file (--${OPTION.tokenFile.flag} / ${OPTION.tokenFile.env})` }
  const dir = env.CREDENTIALS_DIRECTORY
  if (dir === undefined || dir === '') return undefined
  const path = join(dir, TOKEN_CREDENTIAL)
  return existsSync(path) ? { path, what: `the systemd credential ${TOKEN_CREDENTIAL} ($CREDENTIALS_DIRECTORY)` } : undefined
}

/** The token the fetch command sends: given directly, or read from a file; every problem with it (never the token itself). */
export function resolveToken(given: string | undefined, file: string | undefined, env: NodeJS.ProcessEnv, required: boolean): TokenResult {
  const out: TokenResult = { token: undefined, from: `${OPTION.token.env} / --${OPTION.token.flag}`, problems: [], warnings: [] }
  if (given !== undefined && file !== undefined) {
    out.problems.push(problem(OPTION.tokenFile.flag, undefined, `both a token (--${OPTION.token.flag} / ${OPTION.token.env}) and a token file (--${OPTION.tokenFile.flag} / ${OPTION.tokenFile.env}) are set: keep one`))
    return out
  }
  if (!required) return { ...out, token: given } // verify sends no request
  let from = `the token (--${OPTION.token.flag} / ${OPTION.token.env})`
  let token = given
  const where = given === undefined ? tokenFilePath(file, env) : undefined
  if (where !== undefined) {
    const r = readTokenFile(where.path, where.what)
    if (r.problem !== undefined) out.problems.push(problem(OPTION.tokenFile.flag, where.path, r.problem))
    if (r.warning !== undefined) out.warnings.push(r.warning)
    token = r.token
    from = `the token in ${where.path}`
    out.from = `the token file ${where.path}`
  }
  if (token === undefined) {
    if (out.problems.length === 0) out.problems.push(problem(OPTION.token.flag, undefined, REQUIRED))
    return out
  }
  const why = headerProblem(token)
  if (why !== undefined) out.problems.push(problem(OPTION.token.flag, undefined, `${from} ${why}`))
  out.token = token
  return out
}

/** The problem of a fetch run without any token. */
export const REQUIRED = 'no OAuth token: set OAUTH_TOKEN_ARG (environment or .env) or pass --token'
