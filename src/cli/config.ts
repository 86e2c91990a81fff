/**
 * The one place that reads the environment. Each global option resolves as flag, then the
 * CF_* variable, then the OpenStack OS_* variable, then the default. Values are checked here so
 * the core only ever sees a complete, valid configuration.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, UsageError } from '../core/errors.js';

export const DEFAULT_AUTH_URL = 'https://identity.api.rackspacecloud.com/v2.0';

/** Global options as commander hands them over (undefined = not on the command line). */
export interface GlobalFlags {
  authUrl?: string;
  username?: string;
  apiKey?: string;
  password?: string;
  region?: string;
  snet?: boolean;
  storageUrl?: string;
  authToken?: string;
  retries?: string;
  concurrency?: string;
  timeout?: string;
  tokenCache?: boolean;
  insecure?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  json?: boolean;
  color?: boolean;
}

export interface Config {
  authUrl: string;
  username?: string;
  apiKey?: string;
  password?: string;
  region?: string;
  snet: boolean;
  storageUrl?: string;
  authToken?: string;
  retries: number;
  retryBaseMs: number;
  concurrency: number;
  /** Longest silence allowed while reading a body, in ms. */
  timeoutMs: number;
  tokenCache: boolean;
  cacheDir: string;
  insecure: boolean;
  verbose: boolean;
  quiet: boolean;
  json: boolean;
  color: boolean;
}

/** The environment variables cfimg reads, for --help and the README. */
export const ENV_HELP: [string, string][] = [
  ['CF_AUTH_URL, OS_AUTH_URL', 'Identity v2 URL (--auth-url)'],
  ['CF_USERNAME, OS_USERNAME', 'user name (--username)'],
  ['CF_API_KEY', 'API key (--api-key)'],
  ['CF_PASSWORD, OS_PASSWORD', 'password (--password)'],
  ['CF_REGION, OS_REGION_NAME', 'region, e.g. ORD (--region)'],
  ['CF_SNET=1', 'use ServiceNet (--snet)'],
  ['CF_STORAGE_URL, OS_STORAGE_URL', 'storage URL, skips Identity (--storage-url)'],
  ['CF_AUTH_TOKEN, OS_AUTH_TOKEN', 'token for --storage-url (--auth-token)'],
  ['CF_RETRIES, CF_CONCURRENCY', 'defaults for --retries and --concurrency'],
  ['CF_TIMEOUT', 'read timeout in seconds (--timeout)'],
  ['CF_TOKEN_CACHE=0', 'do not cache tokens (--no-token-cache)'],
  ['NO_COLOR', 'plain output (--no-color)'],
  ['XDG_CACHE_HOME', 'where the token cache lives (default ~/.cache/cfimg)'],
];

type Env = Record<string, string | undefined>;

function pick(...values: (string | undefined)[]): string | undefined {
  return values.find((v) => v !== undefined && v !== '');
}

function truthy(value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  return !/^(0|false|no|off)$/i.test(value);
}

/** An integer option within bounds, or a UsageError naming the option and the range. */
export function intOption(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}, not '${text}'`);
  }
  return value;
}

/** Resolves flags and environment into a Config; `env` is process.env in production. */
export function resolveConfig(flags: GlobalFlags, env: Env): Config {
  for (const [name, value] of Object.entries(flags)) {
    // An empty value on the command line is a mistake (an unset variable in a script, say):
    // falling back to the environment or the default would hide it.
    if (value === '') {
      const option = `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new UsageError(`${option} is empty: give a value, or leave the option out`);
    }
  }
  const apiKey = pick(flags.apiKey, env.CF_API_KEY);
  const password = pick(flags.password, env.CF_PASSWORD, env.OS_PASSWORD);
  const storageUrl = pick(flags.storageUrl, env.CF_STORAGE_URL, env.OS_STORAGE_URL);
  const authToken = pick(flags.authToken, env.CF_AUTH_TOKEN, env.OS_AUTH_TOKEN);
  if (flags.apiKey && flags.password) {
    throw new UsageError('give --api-key or --password, not both');
  }
  if (flags.quiet && flags.verbose) throw new UsageError('give --quiet or --verbose, not both');
  const authUrl = pick(flags.authUrl, env.CF_AUTH_URL, env.OS_AUTH_URL) ?? DEFAULT_AUTH_URL;
  checkUrl('--auth-url', authUrl);
  if (storageUrl) checkUrl('--storage-url', storageUrl);
  const cacheRoot = pick(env.XDG_CACHE_HOME) ?? join(pick(env.HOME) ?? homedir(), '.cache');
  const username = pick(flags.username, env.CF_USERNAME, env.OS_USERNAME);
  const region = pick(flags.region, env.CF_REGION, env.OS_REGION_NAME);
  const config: Config = {
    authUrl,
    snet: flags.snet ?? truthy(env.CF_SNET) ?? false,
    retries: intOption('--retries', pick(flags.retries, env.CF_RETRIES), 5, 0, 100),
    retryBaseMs: intOption('CF_RETRY_BASE_MS', pick(env.CF_RETRY_BASE_MS), 1000, 0, 60_000),
    concurrency: intOption('--concurrency', pick(flags.concurrency, env.CF_CONCURRENCY), 4, 1, 64),
    timeoutMs: intOption('--timeout', pick(flags.timeout, env.CF_TIMEOUT), 60, 1, 3600) * 1000,
    tokenCache: flags.tokenCache === false ? false : (truthy(env.CF_TOKEN_CACHE) ?? true),
    cacheDir: join(cacheRoot, 'cfimg'),
    insecure: flags.insecure ?? false,
    verbose: flags.verbose ?? false,
    quiet: flags.quiet ?? false,
    json: flags.json ?? false,
    color: flags.color !== false && pick(env.NO_COLOR) === undefined,
    ...(username ? { username } : {}),
    ...(apiKey ? { apiKey } : {}),
    ...(password && !apiKey ? { password } : {}),
    ...(region ? { region } : {}),
    ...(storageUrl ? { storageUrl } : {}),
    ...(authToken ? { authToken } : {}),
  };
  return config;
}

/** The flags whose values are secrets, as typed on the command line. */
const SECRET_FLAGS = ['--api-key', '--password', '--auth-token'];

/**
 * Every secret given on the command line or in the environment, found before anything is parsed,
 * so that even a message about a malformed command line (`--retries --api-key KEY` makes KEY an
 * unknown command) masks them.
 */
export function secretsGiven(argv: string[], env: Env): string[] {
  const found = [env.CF_API_KEY, env.CF_PASSWORD, env.OS_PASSWORD, env.CF_AUTH_TOKEN];
  found.push(env.OS_AUTH_TOKEN);
  argv.forEach((arg, i) => {
    if (SECRET_FLAGS.includes(arg)) found.push(argv[i + 1]);
    const eq = arg.indexOf('=');
    if (eq > 0 && SECRET_FLAGS.includes(arg.slice(0, eq))) found.push(arg.slice(eq + 1));
  });
  return found.filter((s): s is string => s !== undefined && s !== '');
}

function checkUrl(option: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${option} '${value}' is not a URL: give it as https://host/path`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`${option} must be an http or https URL, not ${url.protocol}`);
  }
}

/** Says which credentials are missing, naming the variables to set. */
export function requireCredentials(config: Config): void {
  if (config.storageUrl || config.authToken) {
    if (!config.storageUrl)
      throw new ConfigError('--auth-token needs --storage-url (CF_STORAGE_URL) too');
    if (!config.authToken)
      throw new ConfigError('--storage-url needs --auth-token (CF_AUTH_TOKEN) too');
    return;
  }
  if (!config.username || (!config.apiKey && !config.password)) {
    throw new ConfigError(
      'no credentials: set CF_USERNAME and CF_API_KEY (or CF_PASSWORD), or pass --username ' +
        'and --api-key; or give CF_STORAGE_URL and CF_AUTH_TOKEN',
    );
  }
}

/** Whether a URL is plain http to a host other than loopback (credentials would cross in clear). */
export function isCleartextRemote(url: string): boolean {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:') return false;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  return !(host === 'localhost' || host === '::1' || /^127\./.test(host));
}
