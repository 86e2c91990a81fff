/** Reads what `cfimg head` prints: the aligned header block, a blank line, then the summary. */

export interface HeadOutput {
  /** Header name (as printed, e.g. `Content-Length`) to value. */
  headers: Record<string, string>;
  /** True when every header line is `Name: value` with all values in one column. */
  aligned: boolean;
  /** The lines after the blank line: size, etag, kind, segments. */
  summary: string[];
}

export function parseHead(stdout: Buffer | string): HeadOutput {
  const [block = '', summary = ''] = stdout.toString().split('\n\n');
  const lines = block.split('\n').map((l) => /^([A-Z][A-Za-z-]*:) +(?=\S)(.*)$/.exec(l));
  const columns = new Set(lines.map((m) => (m ? m[0].length - (m[2] ?? '').length : -1)));
  return {
    headers: Object.fromEntries(lines.flatMap((m) => (m ? [[m[1]?.slice(0, -1), m[2]]] : []))),
    aligned: !columns.has(-1) && columns.size === 1,
    summary: summary.trimEnd().split('\n'),
  };
}
