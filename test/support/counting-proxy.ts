/**
 * A tiny HTTP proxy on 127.0.0.1 in front of a real Swift: it records every request (so a test
 * can count what cfimg fetched) and can run a hook just before a request is forwarded (so a test
 * can change the server under cfimg at an exact moment). The Host header passes through as sent,
 * and tempauth builds `X-Storage-Url` from it: signing in through the proxy points the storage
 * URL at the proxy too, so every later request of the run is seen.
 */
import {
  Agent,
  createServer,
  request as forward,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the proxy saw it. */
export interface ProxiedRequest {
  method: string;
  /** The percent-decoded path, e.g. `/v1/AUTH_test/my container/img.vhd-00001`. */
  path: string;
  query: Record<string, string>;
  /** The status the server answered, once it did. */
  status?: number;
  /** Body bytes passed on to the client. */
  bytes: number;
}

export type ProxyHook = (req: ProxiedRequest) => Promise<void> | void;

export interface CountingProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  requests: ProxiedRequest[];
  clear(): void;
  /** Awaited before each request is forwarded; undefined for none. */
  hook: ProxyHook | undefined;
  close(): Promise<void>;
}

/** Starts the proxy; `target` is the server's origin, and must be on 127.0.0.1. */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  if (upstream.hostname !== '127.0.0.1') throw new Error(`proxy target not loopback: ${target}`);
  const agent = new Agent({ keepAlive: true });
  const sockets = new Set<Socket>();

  const proxy: CountingProxy = {
    url: '',
    requests: [],
    clear: () => {
      proxy.requests.length = 0;
    },
    hook: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        agent.destroy();
      }),
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const entry: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: safeDecode(url.pathname),
      query: Object.fromEntries(url.searchParams),
      bytes: 0,
    };
    proxy.requests.push(entry);
    Promise.resolve(proxy.hook?.(entry)).then(
      () => pass(req, res, entry),
      (err: unknown) => {
        res.writeHead(500).end(`proxy hook failed: ${String(err)}`);
      },
    );
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  function pass(req: IncomingMessage, res: ServerResponse, entry: ProxiedRequest): void {
    const out = forward(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (answer) => {
        entry.status = answer.statusCode;
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.on('data', (chunk: Buffer) => {
          entry.bytes += chunk.length;
        });
        // A server that cuts its body short must look the same to the client.
        answer.on('aborted', () => res.destroy());
        answer.on('error', () => res.destroy());
        answer.pipe(res);
      },
    );
    out.on('error', () => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502).end();
    });
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
