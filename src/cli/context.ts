/**
 * What every command gets: the resolved configuration, the reporter, the interrupt signal, and
 * a Swift client built on first use (so commands that need no server need no credentials).
 */
import { Http } from '../core/http.js';
import { Redactor } from '../core/redact.js';
import type { RetryPolicy } from '../core/retry.js';
import { directSession, identitySession, type SessionSource } from '../core/session.js';
import { SwiftClient } from '../core/swift.js';
import { TokenCache } from '../core/token-cache.js';
import { type Config, isCleartextRemote, requireCredentials } from './config.js';
import { type Io, Reporter } from './reporter.js';

export interface Context {
  config: Config;
  io: Io;
  reporter: Reporter;
  redactor: Redactor;
  signal: AbortSignal;
  policy: RetryPolicy;
  /** The Swift client, signing in lazily; throws ConfigError when credentials are missing. */
  client(): SwiftClient;
  close(): Promise<void>;
}

export function createContext(config: Config, io: Io, signal: AbortSignal): Context {
  const redactor = new Redactor();
  for (const secret of [config.apiKey, config.password, config.authToken]) redactor.add(secret);
  const reporter = new Reporter(io, redactor, config);
  const policy: RetryPolicy = {
    retries: config.retries,
    baseDelayMs: config.retryBaseMs,
    maxDelayMs: 30_000,
  };
  let http: Http | undefined;
  let client: SwiftClient | undefined;

  const build = (): SwiftClient => {
    requireCredentials(config);
    if (config.insecure)
      reporter.warn(
        '--insecure: TLS certificates are not verified; anyone on the path can read the token',
      );
    http = new Http({
      redactor,
      connections: config.concurrency + 2,
      bodyTimeoutMs: config.timeoutMs,
      headersTimeoutMs: config.timeoutMs,
      insecure: config.insecure,
      onEvent: (event) => reporter.http(event),
      userAgent: 'cfimg/0.1',
    });
    const hooks = {
      signal,
      onRetry: (err: unknown, attempt: number, delayMs: number) =>
        reporter.verbose(
          `retry ${attempt} in ${delayMs} ms after ${(err as Error)?.message ?? String(err)}`,
        ),
    };
    let sessions: SessionSource;
    if (config.storageUrl && config.authToken) {
      if (isCleartextRemote(config.storageUrl))
        reporter.warn(
          `${config.storageUrl} is plain http: your token crosses the network unencrypted`,
        );
      sessions = directSession(config.storageUrl, config.authToken);
    } else {
      if (isCleartextRemote(config.authUrl))
        reporter.warn(
          `${config.authUrl} is plain http: your credentials cross the network unencrypted`,
        );
      const cache = config.tokenCache
        ? new TokenCache(config.cacheDir, (m) => reporter.warn(m))
        : undefined;
      sessions = identitySession({
        http,
        redactor,
        authUrl: config.authUrl,
        credentials: {
          username: config.username ?? '',
          ...(config.apiKey ? { apiKey: config.apiKey } : { password: config.password ?? '' }),
        },
        ...(config.region ? { region: config.region } : {}),
        snet: config.snet,
        ...(cache ? { cache } : {}),
        retry: policy,
        hooks,
      });
    }
    return new SwiftClient({ http, sessions, retry: policy, hooks });
  };

  return {
    config,
    io,
    reporter,
    redactor,
    signal,
    policy,
    client: () => {
      client ??= build();
      return client;
    },
    close: async () => {
      await http?.close();
    },
  };
}
