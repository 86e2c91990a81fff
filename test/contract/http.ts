/** One HTTP exchange read to the end, for the contract suite and the emulator tests. */
import { type Dispatcher, request } from 'undici';

export interface HttpAnswer {
  status: number;
  /** Header values joined with ', ' when repeated. */
  headers: Record<string, string>;
  body: Buffer;
  /** Set when the body ended early (the server closed the connection mid-body). */
  error?: Error;
  /** Milliseconds from sending the request to the end of the body. */
  ms: number;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** Sends a request and reads the whole body; a body cut short is reported, not thrown. */
export async function fetchAll(url: string, opts: HttpOptions = {}): Promise<HttpAnswer> {
  const started = Date.now();
  const res = await request(url, {
    method: (opts.method ?? 'GET') as Dispatcher.HttpMethod,
    headers: opts.headers,
    body: opts.body,
  });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  const chunks: Buffer[] = [];
  const answer = (error?: Error): HttpAnswer => ({
    status: res.statusCode,
    headers,
    body: Buffer.concat(chunks),
    ms: Date.now() - started,
    ...(error && { error }),
  });
  try {
    for await (const chunk of res.body) chunks.push(chunk as Buffer);
    return answer();
  } catch (error) {
    return answer(error as Error);
  }
}
