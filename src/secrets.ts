/**
 * Secrets scrubbing for every output the tool writes (log lines, --summary-json, --metrics-file, the state file,
 * `.rejected`, crash traces). A secret is replaced in each form it can take on the way out: raw, JSON-escaped (as
 * JSON.stringify writes it inside a string, once or twice: a message quoting a JSON body, written as JSON), and
 * URL-encoded. Pure: no state, no I/O.
 */

/** What replaces a secret. */
export const REDACTED = '[REDACTED]'

/** Secrets shorter than this are not scrubbed: replacing "a" everywhere would destroy the output, not protect it. */
const MIN_SECRET = 4

/** JSON-escaped form of `s` inside a string (without the quotes). */
const jsonEscaped = (s: string): string => JSON.stringify(s).slice(1, -1)

/** Every form of `secret` that may appear in what the tool writes, longest first (a longer form may contain a shorter). */
export function secretForms(secret: string): string[] {
  if (secret.length < MIN_SECRET) return []
  const forms = new Set([secret, jsonEscaped(secret), jsonEscaped(jsonEscaped(secret)), encodeURIComponent(secret), encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())])
  return [...forms].sort((a, b) => b.length - a.length)
}

/** A text transform that removes every form of every secret; the identity when there is nothing to scrub. */
export type Scrub = (text: string) => string

/** Builds the scrubber of `secrets` (blank and short ones ignored). */
export function scrubber(secrets: readonly (string | undefined)[]): Scrub {
  const forms = [...new Set(secrets.flatMap((s) => (s === undefined ? [] : secretForms(s))))].sort((a, b) => b.length - a.length)
  if (forms.length === 0) return (text) => text
  return (text) => {
    let out = text
    for (const f of forms) if (out.includes(f)) out = out.split(f).join(REDACTED)
    return out
  }
}

/** `text` without any form of `secrets`. */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  return scrubber(secrets)(text)
}

/** The systemd credential the token is read from (`LoadCredential=y360-token:/path`): `$CREDENTIALS_DIRECTORY/y360-token`. */
export const TOKEN_CREDENTIAL = 'y360-token'
