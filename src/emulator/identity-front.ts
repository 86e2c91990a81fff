/**
 * A Rackspace Identity v2 front for a real Swift's tempauth. `POST /v2.0/tokens` takes the
 * Rackspace API-key or password credentials, signs in to tempauth (`GET /auth/v1.0` with
 * `X-Auth-User` and `X-Auth-Key`) and answers with an `access` document whose catalog points
 * Cloud Files at the tempauth storage URL. So the client's whole sign-in path runs against a real
 * Swift server, which has no Identity v2 of its own.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

export interface IdentityFrontOptions {
  /** tempauth's v1 URL, e.g. `http://127.0.0.1:8380/auth/v1.0`; must be on 127.0.0.1. */
  authV1Url: string;
  /** The region of the Cloud Files endpoint and the user's default region; default `LOC`. */
  region?: string;
  /** Port to listen on (127.0.0.1); default 0, any free port. */
  port?: number;
}

export interface IdentityFront {
  /** The Identity base URL, e.g. `http://127.0.0.1:40123/v2.0`; tokens are at `/tokens`. */
  url: string;
  close(): Promise<void>;
}

interface SignIn {
  username: string;
  secret: string;
}

interface Tempauth {
  token: string;
  storageUrl: string;
  expiresInSeconds: number;
}

/** An answer to send: the status and the JSON body. */
interface Reply {
  status: number;
  body: unknown;
}

const MAX_BODY_BYTES = 64 * 1024;
const DEFAULT_TOKEN_LIFE_SECONDS = 24 * 3600;

/** Starts the front on 127.0.0.1; resolves once it listens. */
export async function startIdentityFront(options: IdentityFrontOptions): Promise<IdentityFront> {
  const authV1Url = loopbackUrl(options.authV1Url);
  const region = options.region ?? 'LOC';
  const server = createServer((req, res) => {
    answer(req, authV1Url, region).then(
      (reply) => sendJson(res, reply),
      (err: unknown) => sendJson(res, fault(500, 'identityFault', errorText(err))),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v2.0`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Parses `raw` and insists on host 127.0.0.1, so the front never sends a request elsewhere. */
function loopbackUrl(raw: string): URL {
  const url = new URL(raw);
  if (url.protocol !== 'http:' || url.hostname !== '127.0.0.1') {
    throw new Error(`identity front: authV1Url must be http://127.0.0.1:..., not ${raw}`);
  }
  return url;
}

async function answer(req: IncomingMessage, authV1Url: URL, region: string): Promise<Reply> {
  const path = new URL(req.url ?? '/', 'http://front').pathname.replace(/\/+$/, '');
  if (path !== '/v2.0/tokens') {
    req.resume();
    return fault(404, 'itemNotFound', 'Resource not found');
  }
  if (req.method !== 'POST') {
    req.resume();
    return fault(405, 'badMethod', 'Method not allowed');
  }

  const signIn = parseSignIn(await readBody(req));
  if (typeof signIn === 'string') return fault(400, 'badRequest', signIn);

  let granted: Tempauth | number;
  try {
    granted = await signInToTempauth(authV1Url, signIn);
  } catch (err) {
    return fault(503, 'serviceUnavailable', `tempauth unreachable: ${errorText(err)}`);
  }
  if (granted === 401) {
    return fault(401, 'unauthorized', 'Username or api key is invalid.');
  }
  if (typeof granted === 'number') {
    return fault(503, 'serviceUnavailable', `tempauth answered ${granted}`);
  }
  return { status: 200, body: accessDocument(signIn.username, granted, region, authV1Url) };
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The username and API key or password of a v2 token request, or why it is malformed. */
function parseSignIn(text: string | undefined): SignIn | string {
  if (text === undefined) return 'Request body too large';
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return 'Invalid json request body';
  }
  const auth = field(doc, 'auth');
  const apiKey = field(auth, 'RAX-KSKEY:apiKeyCredentials');
  const password = field(auth, 'passwordCredentials');
  const username = field(apiKey ?? password, 'username');
  const secret = apiKey ? field(apiKey, 'apiKey') : field(password, 'password');
  if (typeof username !== 'string' || username === '' || typeof secret !== 'string') {
    return 'Invalid request body: expected RAX-KSKEY:apiKeyCredentials or passwordCredentials';
  }
  return { username, secret };
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, name) : undefined;
}

/** Signs in to tempauth; the grant, or tempauth's status when it refused. */
async function signInToTempauth(authV1Url: URL, signIn: SignIn): Promise<Tempauth | number> {
  const res = await request(authV1Url, {
    method: 'GET',
    headers: { 'x-auth-user': signIn.username, 'x-auth-key': signIn.secret },
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  await res.body.dump();
  const token = res.headers['x-auth-token'];
  const storageUrl = res.headers['x-storage-url'];
  if (res.statusCode !== 200 || typeof token !== 'string' || typeof storageUrl !== 'string') {
    return res.statusCode === 200 ? 502 : res.statusCode;
  }
  const expires = Number(res.headers['x-auth-token-expires']);
  const expiresInSeconds = expires > 0 ? expires : DEFAULT_TOKEN_LIFE_SECONDS;
  return { token, storageUrl, expiresInSeconds };
}

/**
 * The Rackspace `access` document. Besides Cloud Files the catalog carries the CDN service and
 * a service without a region, as Rackspace's does, so clients must pick the endpoint with care;
 * both point back at this front's origin, never at another host.
 */
function accessDocument(username: string, granted: Tempauth, region: string, authV1Url: URL) {
  const tenantId = decodeURIComponent(new URL(granted.storageUrl).pathname.split('/').pop() ?? '');
  const expires = new Date(Date.now() + granted.expiresInSeconds * 1000).toISOString();
  const elsewhere = `${authV1Url.origin}/unused`;
  return {
    access: {
      token: { id: granted.token, expires, tenant: { id: tenantId, name: tenantId } },
      user: {
        id: username,
        name: username,
        'RAX-AUTH:defaultRegion': region,
        roles: [{ id: '3', name: 'identity:user-admin', description: 'User Admin Role.' }],
      },
      serviceCatalog: [
        {
          name: 'cloudServers',
          type: 'compute',
          endpoints: [{ tenantId, publicURL: `${elsewhere}/servers/${tenantId}` }],
        },
        {
          name: 'cloudFilesCDN',
          type: 'rax:object-cdn',
          endpoints: [{ region, tenantId, publicURL: `${elsewhere}/cdn/${tenantId}` }],
        },
        {
          name: 'cloudFiles',
          type: 'object-store',
          endpoints: [
            { region, tenantId, publicURL: granted.storageUrl, internalURL: granted.storageUrl },
          ],
        },
      ],
    },
  };
}

/** A Rackspace error document, e.g. `{"unauthorized":{"code":401,"message":"..."}}`. */
function fault(status: number, kind: string, message: string): Reply {
  return { status, body: { [kind]: { code: status, message } } };
}

function sendJson(res: ServerResponse, reply: Reply): void {
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
