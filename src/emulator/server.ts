/**
 * The emulator's HTTP front: decodes each request's path, logs it, applies any scripted fault,
 * then routes it to identity (`/v2.0/tokens`) or storage. Storage lives under
 * `/<region>/v1/<account>/…` (public) and `/snet/<region>/v1/<account>/…` (ServiceNet); both
 * serve the same data, the log records which one a client used. `/v1/<account>/…` also works and
 * means the default region.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Exchange, newTransId, type RequestLogEntry } from './exchange.js';
import { type FaultScript, isResetFault, isStatusFault, streamFault } from './faults.js';
import type { Identity } from './identity.js';
import { accountListing, containerListing, listingQuery } from './listing.js';
import {
  deleteContainer,
  deleteObject,
  getObject,
  putContainer,
  putObject,
  type StorageRequest,
  type StorageSettings,
} from './objects.js';
import type { Store } from './store.js';

/** Everything a request handler needs from the emulator. */
export interface ServerState {
  store: Store;
  identity: Identity;
  faults: FaultScript;
  requests: RequestLogEntry[];
  regions: string[];
  defaultRegion: string;
  settings: StorageSettings;
}

/** Where a storage path points. */
interface StorageRoute {
  region: string;
  internal: boolean;
  account: string;
  container: string;
  object: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The node:http request listener of the emulator. */
export function requestListener(state: ServerState) {
  return (req: IncomingMessage, res: ServerResponse) => {
    handle(state, req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(String(err));
      } else res.destroy();
    });
  };
}

async function handle(state: ServerState, req: IncomingMessage, res: ServerResponse) {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const path = decodePath(rawPath);
  const route = path === undefined ? undefined : storageRoute(state, path);
  const objectPath = route && `/${[route.container, route.object].filter(Boolean).join('/')}`;
  const entry: RequestLogEntry = {
    method: req.method ?? 'GET',
    path: objectPath ?? path ?? rawPath,
    fullPath: path ?? rawPath,
    query: Object.fromEntries(query),
    range: req.headers.range,
    requestHeaders: { ...req.headers },
    transId: newTransId(),
    bytesSent: 0,
    aborted: false,
    startedAt: Date.now(),
    ...(route && { region: route.region, internal: route.internal }),
    ...(route?.container && { container: route.container }),
    ...(route?.object && { object: route.object }),
  };
  state.requests.push(entry);

  const fault = state.faults.take({
    method: entry.method,
    path: entry.fullPath,
    objectPath,
    query,
  });
  if (fault !== undefined) entry.fault = JSON.stringify(fault);
  if (isResetFault(fault)) {
    entry.aborted = true;
    req.socket.destroy();
    return;
  }
  const stream = streamFault(fault);
  if (stream?.stallMs !== undefined && stream.stallAfterBytes === undefined) {
    await sleep(stream.stallMs);
  }
  const ex = new Exchange(req, res, entry, stream);
  if (isStatusFault(fault)) return ex.sendError(fault.status, fault.headers, fault.body);
  if (path === undefined) return ex.sendError(412, {}, 'Invalid UTF8 or contains NULL');

  if (path === '/v2.0/tokens' || path === '/v2.0/tokens/') return identity(state, ex);
  if (route === undefined) return ex.sendError(404);
  return storage(state, ex, route, query);
}

/** The percent-decoded path, or undefined when it is not valid UTF-8 or holds a NUL. */
function decodePath(raw: string): string | undefined {
  try {
    const path = decodeURIComponent(raw);
    return path.includes('\0') ? undefined : path;
  } catch {
    return undefined;
  }
}

function storageRoute(state: ServerState, path: string): StorageRoute | undefined {
  const parts = path.split('/').slice(1);
  const internal = parts[0] === 'snet';
  if (internal) parts.shift();
  let region = state.defaultRegion;
  if (parts[0] !== 'v1') {
    const named = state.regions.find((r) => r.toLowerCase() === parts[0]?.toLowerCase());
    if (named === undefined) return undefined;
    region = named;
    parts.shift();
  }
  if (parts[0] !== 'v1' || !parts[1]) return undefined;
  const [, account = '', container = '', ...object] = parts;
  return { region, internal, account, container, object: object.join('/') };
}

async function identity(state: ServerState, ex: Exchange): Promise<void> {
  if (ex.method !== 'POST') return ex.sendError(405, { Allow: 'POST' });
  const chunks: Buffer[] = [];
  for await (const chunk of ex.req) chunks.push(chunk as Buffer);
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    body = undefined;
  }
  const answer = state.identity.authenticate(body);
  const json = JSON.stringify(answer.body);
  await ex.send(answer.status, { 'Content-Type': 'application/json' }, json);
}

async function storage(
  state: ServerState,
  ex: Exchange,
  route: StorageRoute,
  query: URLSearchParams,
): Promise<void> {
  const token = ex.req.headers['x-auth-token'] ?? ex.req.headers['x-storage-token'];
  const session = state.identity.validate(typeof token === 'string' ? token : undefined);
  if (session === undefined) {
    return ex.sendError(401, { 'Www-Authenticate': `Swift realm="${route.account}"` });
  }
  if (session.account !== route.account) return ex.sendError(403);

  const r: StorageRequest = {
    ex,
    account: state.store.account(route.account),
    container: route.container,
    object: route.object,
    query,
    settings: state.settings,
  };
  const method = ex.method;
  if (!route.container) {
    if (method !== 'GET' && method !== 'HEAD') return ex.sendError(405);
    const q = listingQuery(ex, query, state.settings.listingLimit);
    return typeof q === 'string' ? ex.sendError(412, {}, q) : accountListing(ex, r.account, q);
  }
  if (!route.object) return containerRequest(r, method);
  if (method === 'GET' || method === 'HEAD') return getObject(r);
  if (method === 'PUT') return putObject(r);
  if (method === 'DELETE') return deleteObject(r);
  if (method === 'POST') {
    const exists = r.account.containers.get(r.container)?.objects.has(r.object);
    return ex.sendError(exists ? 202 : 404);
  }
  return ex.sendError(405);
}

async function containerRequest(r: StorageRequest, method: string): Promise<void> {
  if (method === 'PUT') return putContainer(r);
  if (method === 'DELETE') return deleteContainer(r);
  const container = r.account.containers.get(r.container);
  if (method === 'POST')
    return r.ex.sendError(container ? 204 : 404, {}, container ? '' : undefined);
  if (method !== 'GET' && method !== 'HEAD') return r.ex.sendError(405);
  if (container === undefined) return r.ex.sendError(404);
  const q = listingQuery(r.ex, r.query, r.settings.listingLimit);
  if (typeof q === 'string') return r.ex.sendError(412, {}, q);
  return containerListing(r.ex, container, q);
}
