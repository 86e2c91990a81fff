/**
 * The lean HTTP/1.1 client against a plain node:http server on port 0: body framing (length,
 * chunked, HEAD, until close), keep-alive reuse, and the error codes the retry policy expects.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http1Pool, parseHead } from '../src/core/http1.js';

let server: Server;
let origin: string;
const sockets = new Set<unknown>();

beforeAll(async () => {
  server = createServer((req, res) => {
    sockets.add(req.socket);
    const path = req.url ?? '/';
    if (path === '/chunked') {
      res.write('hello, ');
      setTimeout(() => res.end('chunked world'), 5);
    } else if (path === '/cut') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part');
      setTimeout(() => req.socket.destroy(), 5);
    } else if (path === '/stall') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('then nothing');
    } else if (path === '/pattern') {
      const body = Buffer.alloc(3 << 20);
      for (let i = 0; i < body.length; i++) body[i] = i % 251;
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
    } else if (path === '/echo') {
      let body = '';
      req.on('data', (d: Buffer) => {
        body += d.toString();
      });
      req.on('end', () => res.end(`${req.method} ${body}`));
    } else {
      const body = Buffer.alloc(3 << 20, 7);
      res.writeHead(200, { 'content-length': String(body.length), 'x-trans-id': 'tx1' });
      res.end(req.method === 'HEAD' ? undefined : body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const pool = () =>
  new Http1Pool({ connectTimeoutMs: 2000, headersTimeoutMs: 2000, bodyTimeoutMs: 300 });

async function bytesOf(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('Http1Pool', () => {
  it('reads a Content-Length body whole and reuses the connection for the next request', async () => {
    const http = pool();
    sockets.clear();
    for (let i = 0; i < 3; i++) {
      const res = await http.request({ method: 'GET', origin, path: '/big', headers: {} });
      expect(res.status).toBe(200);
      expect(res.headers['x-trans-id']).toBe('tx1');
      const body = await bytesOf(res.body);
      expect(body.length).toBe(3 << 20);
      expect(body.every((b) => b === 7)).toBe(true);
    }
    expect(sockets.size).toBe(1);
    http.close();
  });

  it('decodes a chunked body, answers HEAD without a body, and sends a POST body', async () => {
    const http = pool();
    const chunked = await http.request({ method: 'GET', origin, path: '/chunked', headers: {} });
    expect((await bytesOf(chunked.body)).toString()).toBe('hello, chunked world');
    const head = await http.request({ method: 'HEAD', origin, path: '/big', headers: {} });
    expect(head.headers['content-length']).toBe(String(3 << 20));
    expect((await bytesOf(head.body)).length).toBe(0);
    const post = await http.request({
      method: 'POST',
      origin,
      path: '/echo',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(await post.body.text()).toBe('POST {"a":1}');
    http.close();
  });

  it('lends views of its read buffer to a borrowing consumer, byte for byte', async () => {
    const http = pool();
    for (let round = 0; round < 2; round++) {
      const res = await http.request({ method: 'GET', origin, path: '/pattern', headers: {} });
      const parts: Buffer[] = [];
      for await (const view of res.body.borrowed?.() ?? res.body) {
        parts.push(Buffer.from(view)); // a borrowing consumer copies what it keeps
        await new Promise((resolve) => setImmediate(resolve));
      }
      const body = Buffer.concat(parts);
      expect(body.length).toBe(3 << 20);
      expect(body.every((b, i) => b === i % 251)).toBe(true);
    }
    http.close();
  });

  it.each([
    ['/cut', 'UND_ERR_SOCKET'],
    ['/stall', 'UND_ERR_BODY_TIMEOUT'],
  ])('a body that %s ends with the retryable code %s', async (path, code) => {
    const http = pool();
    const res = await http.request({ method: 'GET', origin, path, headers: {} });
    await expect(bytesOf(res.body)).rejects.toMatchObject({ code });
    http.close();
  });

  it('fails to connect with the socket error code, and aborts on the signal', async () => {
    const http = pool();
    const refused = http.request({
      method: 'GET',
      origin: 'http://127.0.0.1:1',
      path: '/',
      headers: {},
    });
    await expect(refused).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const controller = new AbortController();
    const res = await http.request({
      method: 'GET',
      origin,
      path: '/stall',
      headers: {},
      signal: controller.signal,
    });
    controller.abort();
    await expect(bytesOf(res.body)).rejects.toMatchObject({ name: 'AbortError' });
    http.close();
  });

  it('parses a status line and repeated headers', () => {
    expect(parseHead('HTTP/1.1 206 Partial\r\nA: 1\r\nset-cookie: x\r\nSet-Cookie: y')).toEqual({
      status: 206,
      headers: { a: '1', 'set-cookie': ['x', 'y'] },
    });
    expect(() => parseHead('SSH-2.0')).toThrow(/malformed status line/);
  });
});
