/**
 * JSON as Python's `json.dumps` writes it, which is what Swift sends: `", "` and `": "`
 * separators and every non-ASCII character escaped as `\uXXXX` (so listings are pure ASCII).
 * Clients must parse, not pattern-match, but byte-exact bodies keep the emulator honest.
 */
export function pyJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return asciiString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`;
  const fields = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${asciiString(k)}: ${pyJson(v)}`);
  return `{${fields.join(', ')}}`;
}

function asciiString(s: string): string {
  return JSON.stringify(s).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
