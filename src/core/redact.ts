/**
 * Keeps secrets out of everything cfimg prints. The CLI registers the API key, password and
 * every token it obtains; all log lines, error messages and JSON output pass through `redact`.
 */

const MASK = '[redacted]';
const SECRET_HEADERS = new Set([
  'x-auth-token',
  'x-auth-key',
  'x-storage-token',
  'x-subject-token',
]);

/** A set of secret strings and a way to scrub them from text. */
export class Redactor {
  readonly #secrets = new Set<string>();

  /** Adds a secret; values shorter than 4 characters are ignored (they would mask everything). */
  add(secret: string | undefined): void {
    if (secret && secret.length >= 4) this.#secrets.add(secret);
  }

  /** Replaces every registered secret in `text`, longest first. */
  redact(text: string): string {
    let out = text;
    const secrets = [...this.#secrets].sort((a, b) => b.length - a.length);
    for (const secret of secrets) out = out.split(secret).join(MASK);
    return out;
  }

  /** A copy of `headers` with secret-bearing headers masked, whatever their value. */
  headers(headers: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(headers)) {
      out[name] = SECRET_HEADERS.has(name.toLowerCase()) ? MASK : value;
    }
    return out;
  }
}
