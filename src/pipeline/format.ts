/** Line formats: `compact` (JSON as the API sent it, key order kept) and `seed` (Python json.dumps(ensure_ascii=False) spacing). */

/**
 * A number as Python's json.dumps writes it. Integers below 1e16 in magnitude print as digits (Python ints); others
 * follow Python's float repr: shortest round-trip digits, exponent form when the exponent is < -4 or >= 16, written
 * `1.5e-07` / `1e+16`. Limit: a float with an integral value below 1e16 (`2.0` in the API's text) cannot be told from
 * an int once parsed and prints as `2`; the audit APIs send none.
 */
export function pythonNumber(n: number): string {
  if (!Number.isFinite(n)) return 'null' // JSON.parse never yields these
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return String(n)
  const [mant, expText] = n.toExponential().split('e')
  const e = Number(expText)
  if (e < -4 || e >= 16) return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  return String(n)
}

/**
 * Python's `json.dumps(value, ensure_ascii=False)`: ", " and ": " separators, non-ASCII kept, the same string escapes
 * (\", \\, \b \f \n \r \t, \u00XX for other controls; / and U+2028/9 unescaped). Keys keep the parsed object's order
 * (limit: JavaScript puts integer-like keys such as "42" first; the audit APIs use none).
 */
export function pythonDumps(value: unknown): string {
  if (typeof value === 'number') return pythonNumber(value)
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return value.length === 0 ? '[]' : `[${value.map(pythonDumps).join(', ')}]`
  const parts: string[] = []
  for (const [k, v] of Object.entries(value)) if (v !== undefined) parts.push(`${JSON.stringify(k)}: ${pythonDumps(v)}`)
  return parts.length === 0 ? '{}' : `{${parts.join(', ')}}`
}

export type LineFormat = 'compact' | 'seed'

/** The serializer of a line format. */
export function serializer(format: LineFormat): (data: unknown) => string {
  return format === 'seed' ? pythonDumps : (d) => JSON.stringify(d)
}
