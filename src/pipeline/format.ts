/** Line formats: `compact` (JSON as the API sent it, key order kept) and `seed` (Python json.dumps(ensure_ascii=False) spacing). */

/** Python's `json.dumps(value, ensure_ascii=False)`: ", " and ": " separators, non-ASCII kept, same escapes. */
export function pythonDumps(value: unknown): string {
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
