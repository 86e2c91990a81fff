/**
 * Where requests go and with which token. A SessionSource hands out the current session and
 * replaces it when storage answers 401: by signing in again (Identity), or by giving up when
 * the user supplied the storage URL and token directly.
 */
import { AuthError } from './errors.js';
import type { Http } from './http.js';
import { authenticate, type Credentials, chooseStorageUrl } from './identity.js';
import type { Redactor } from './redact.js';
import type { RetryHooks, RetryPolicy } from './retry.js';
import type { TokenCache, TokenCacheKeyParts } from './token-cache.js';

export interface Session {
  storageUrl: string;
  token: string;
  /** How the session was obtained, for the verbose log. */
  source: 'direct' | 'identity' | 'cache';
}

export interface SessionSource {
  /** The current session, signing in on first use. */
  current(): Promise<Session>;
  /** Called after storage answered 401 to `stale`: returns a fresh session or throws AuthError. */
  renew(stale: Session): Promise<Session>;
}

/** A storage URL and token given by the user: nothing to renew. */
export function directSession(storageUrl: string, token: string): SessionSource {
  const session: Session = { storageUrl, token, source: 'direct' };
  return {
    current: async () => session,
    renew: async () => {
      throw new AuthError(
        'storage refused the token (401): get a new one for --auth-token (CF_AUTH_TOKEN)',
      );
    },
  };
}

export interface IdentitySessionOptions {
  http: Http;
  redactor: Redactor;
  authUrl: string;
  credentials: Credentials;
  region?: string;
  snet: boolean;
  cache?: TokenCache;
  retry: RetryPolicy;
  hooks?: RetryHooks;
}

/** Signs in with Identity v2 (or reuses a cached token) and re-signs in once after a 401. */
export function identitySession(opts: IdentitySessionOptions): SessionSource {
  const key: TokenCacheKeyParts = {
    authUrl: opts.authUrl.replace(/\/+$/, ''),
    username: opts.credentials.username,
    // The kind too: a password that happens to equal the API key is still another credential.
    secret: opts.credentials.apiKey
      ? `apiKey:${opts.credentials.apiKey}`
      : `password:${opts.credentials.password ?? ''}`,
    region: opts.region ?? '',
    snet: opts.snet,
  };
  let session: Promise<Session> | undefined;

  async function signIn(): Promise<Session> {
    const access = await authenticate(
      opts.http,
      opts.authUrl,
      opts.credentials,
      opts.retry,
      opts.hooks,
    );
    opts.redactor.add(access.token);
    const { url, region } = chooseStorageUrl(access, {
      snet: opts.snet,
      ...(opts.region ? { region: opts.region } : {}),
    });
    await opts.cache?.put(key, {
      token: access.token,
      expires: access.expires.toISOString(),
      storageUrl: url,
      region,
    });
    return { storageUrl: url, token: access.token, source: 'identity' };
  }

  async function first(): Promise<Session> {
    const cached = await opts.cache?.get(key);
    if (cached) {
      opts.redactor.add(cached.token);
      return { storageUrl: cached.storageUrl, token: cached.token, source: 'cache' };
    }
    return signIn();
  }

  // One renewal per run: every request that saw a 401 with the same stale token shares it,
  // and a 401 on the renewed token is final.
  let renewed: { from: string; session: Promise<Session> } | undefined;
  return {
    current: () => {
      session ??= first();
      return session;
    },
    renew: (stale) => {
      if (renewed?.from === stale.token) return renewed.session;
      if (renewed) {
        return Promise.reject(
          new AuthError('storage refused a fresh token (401 twice): check the account has access'),
        );
      }
      session = (async () => {
        await opts.cache?.drop(key);
        return signIn();
      })();
      renewed = { from: stale.token, session };
      return session;
    },
  };
}
