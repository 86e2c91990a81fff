/**
 * Rackspace Identity v2: the token request, the service catalog, and the choice of the Cloud
 * Files endpoint (region, public or ServiceNet). Parsing and choosing are pure functions.
 */
import { AuthError, CfimgError, ConfigError, TransferError } from './errors.js';
import { headerValue, parseRetryAfter } from './headers.js';
import { displayUrl, type Http, splitUrl } from './http.js';
import {
  MalformedBodyError,
  type RetryHooks,
  type RetryPolicy,
  StatusError,
  withRetries,
} from './retry.js';
import { certificateProblem } from './tls-errors.js';

/** Who signs in: a username with either an API key or a password. */
export interface Credentials {
  username: string;
  apiKey?: string;
  password?: string;
}

export interface CatalogEndpoint {
  region?: string;
  tenantId?: string;
  publicURL?: string;
  internalURL?: string;
}

export interface CatalogService {
  name: string;
  type: string;
  endpoints: CatalogEndpoint[];
}

/** What Identity grants: a token, when it expires, and the catalog. */
export interface Access {
  token: string;
  expires: Date;
  tenantId?: string;
  defaultRegion?: string;
  catalog: CatalogService[];
}

/** The JSON body of `POST /tokens`; an API key wins over a password. */
export function authRequestBody(creds: Credentials): string {
  if (creds.apiKey) {
    return JSON.stringify({
      auth: { 'RAX-KSKEY:apiKeyCredentials': { username: creds.username, apiKey: creds.apiKey } },
    });
  }
  return JSON.stringify({
    auth: { passwordCredentials: { username: creds.username, password: creds.password ?? '' } },
  });
}

const BAD_ACCESS = 'Identity answered with a document that is not a v2 token';

/** Reads the `access` document; throws a TransferError for anything malformed. */
export function parseAccess(doc: unknown): Access {
  const access = (doc as { access?: unknown } | null)?.access as
    | Record<string, unknown>
    | undefined;
  const token = access?.token as Record<string, unknown> | undefined;
  if (!access || typeof token?.id !== 'string' || token.id === '') {
    throw new TransferError(BAD_ACCESS, { method: 'POST', url: 'tokens' });
  }
  const expires =
    typeof token.expires === 'string' ? new Date(token.expires) : new Date(Number.NaN);
  const user = access.user as Record<string, unknown> | undefined;
  const tenant = token.tenant as Record<string, unknown> | undefined;
  const catalog = Array.isArray(access.serviceCatalog) ? access.serviceCatalog : [];
  return {
    token: token.id,
    expires: Number.isNaN(expires.getTime()) ? new Date(Date.now() + 3600_000) : expires,
    ...(typeof tenant?.id === 'string' ? { tenantId: tenant.id } : {}),
    ...(typeof user?.['RAX-AUTH:defaultRegion'] === 'string'
      ? { defaultRegion: user['RAX-AUTH:defaultRegion'] as string }
      : {}),
    catalog: catalog.filter(isRecord).map(parseService),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseService(raw: Record<string, unknown>): CatalogService {
  const endpoints = Array.isArray(raw.endpoints) ? raw.endpoints.filter(isRecord) : [];
  return {
    name: typeof raw.name === 'string' ? raw.name : '',
    type: typeof raw.type === 'string' ? raw.type : '',
    endpoints: endpoints.map((e) => {
      const endpoint: CatalogEndpoint = {};
      for (const key of ['region', 'tenantId', 'publicURL', 'internalURL'] as const) {
        if (typeof e[key] === 'string') endpoint[key] = e[key] as string;
      }
      return endpoint;
    }),
  };
}

export interface EndpointChoice {
  region?: string;
  snet: boolean;
}

/**
 * The Cloud Files storage URL for a region (case-insensitive; default the user's region),
 * public or, with `snet`, the ServiceNet `internalURL`.
 */
export function chooseStorageUrl(
  access: Access,
  choice: EndpointChoice,
): { url: string; region: string } {
  const service =
    access.catalog.find((s) => s.type === 'object-store' && s.name === 'cloudFiles') ??
    access.catalog.find((s) => s.type === 'object-store');
  if (!service || service.endpoints.length === 0) {
    throw new ConfigError('the service catalog has no object-store (Cloud Files) endpoint');
  }
  const wanted = choice.region ?? access.defaultRegion;
  const regions = service.endpoints.map((e) => e.region).filter((r): r is string => !!r);
  const endpoint = wanted
    ? service.endpoints.find((e) => e.region?.toLowerCase() === wanted.toLowerCase())
    : service.endpoints.length === 1
      ? service.endpoints[0]
      : undefined;
  if (!endpoint) {
    const offer = regions.length ? regions.join(', ') : '(none named)';
    const what = wanted ? `region '${wanted}' has no Cloud Files endpoint` : 'no region given';
    throw new ConfigError(`${what}: use --region (CF_REGION) with one of ${offer}`);
  }
  const url = choice.snet ? endpoint.internalURL : endpoint.publicURL;
  const region = endpoint.region ?? wanted ?? '';
  if (!url) {
    const kind = choice.snet ? 'ServiceNet (internalURL)' : 'public (publicURL)';
    throw new ConfigError(`region ${region} has no ${kind} Cloud Files endpoint`);
  }
  return { url, region };
}

/** Signs in with Identity v2; retries transient failures, maps refusals to AuthError. */
export async function authenticate(
  http: Http,
  authUrl: string,
  creds: Credentials,
  policy: RetryPolicy,
  hooks: RetryHooks = {},
): Promise<Access> {
  const { origin, basePath } = splitUrl(authUrl);
  const url = displayUrl(`${authUrl.replace(/\/+$/, '')}/tokens`);
  return withRetries(
    async () => {
      const res = await http.request({
        method: 'POST',
        origin,
        path: `${basePath}/tokens`,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: authRequestBody(creds),
        ...(hooks.signal ? { signal: hooks.signal } : {}),
      });
      const text = await res.body.text();
      if (res.status === 200 || res.status === 203) return accessOf(text);
      throw identityError(res.status, url, creds, headerValue(res.headers, 'retry-after'));
    },
    policy,
    hooks,
  ).catch((err: unknown) => {
    if (err instanceof CfimgError) throw err;
    const status = err instanceof StatusError ? err.status : undefined;
    const detail = err instanceof StatusError ? `HTTP ${err.status}` : errorText(err);
    const tls = certificateProblem(err);
    throw new TransferError(
      tls ? `Identity at ${url}: ${tls}` : `Identity at ${url} failed after retries: ${detail}`,
      { method: 'POST', url, ...(status ? { status } : {}) },
      { cause: err },
    );
  });
}

function identityError(
  status: number,
  url: string,
  creds: Credentials,
  retryAfter?: string,
): Error {
  const secret = creds.apiKey
    ? 'API key (--api-key, CF_API_KEY)'
    : 'password (--password, CF_PASSWORD)';
  if (status === 401) {
    return new AuthError(
      `Identity refused user '${creds.username}': check the username and ${secret}`,
    );
  }
  if (status === 403)
    return new AuthError(
      `Identity refused user '${creds.username}': the account is disabled or forbidden (403)`,
    );
  if (status === 400)
    return new AuthError(
      `Identity rejected the sign-in request (400): check the username and ${secret}`,
    );
  if (status === 404) return new ConfigError(`${url} answered 404: check --auth-url (CF_AUTH_URL)`);
  return new StatusError(
    status,
    `Identity answered ${status}`,
    undefined,
    parseRetryAfter(retryAfter),
  );
}

/** The access document of a 200; one that does not parse was likely damaged on the way. */
function accessOf(text: string): Access {
  try {
    return parseAccess(JSON.parse(text));
  } catch (err) {
    throw new MalformedBodyError((err as Error).message);
  }
}

function errorText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? `${message} (${code})` : message;
}
