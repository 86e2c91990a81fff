import { describe, expect, it } from 'vitest';
import {
  DEFAULT_AUTH_URL,
  isCleartextRemote,
  requireCredentials,
  resolveConfig,
} from '../../src/cli/config.js';

describe('option and environment precedence', () => {
  it.each([
    [
      'flag wins over CF_ and OS_ variables',
      { region: 'ord' },
      { CF_REGION: 'DFW', OS_REGION_NAME: 'IAD' },
      'ord',
    ],
    ['CF_ variable wins over OS_ variable', {}, { CF_REGION: 'DFW', OS_REGION_NAME: 'IAD' }, 'DFW'],
    ['OS_ variable is the fallback', {}, { OS_REGION_NAME: 'IAD' }, 'IAD'],
    ['nothing set leaves the region to the account', {}, {}, undefined],
  ])('%s', (_name, flags, env, region) => {
    expect(resolveConfig(flags, env).region).toBe(region);
  });

  it('uses the Rackspace Identity URL by default and OS_AUTH_URL as a fallback', () => {
    expect(resolveConfig({}, {}).authUrl).toBe(DEFAULT_AUTH_URL);
    expect(resolveConfig({}, { OS_AUTH_URL: 'http://127.0.0.1:5000/v2.0' }).authUrl).toBe(
      'http://127.0.0.1:5000/v2.0',
    );
    expect(
      resolveConfig({ authUrl: 'https://a/v2.0' }, { CF_AUTH_URL: 'https://b/v2.0' }).authUrl,
    ).toBe('https://a/v2.0');
  });

  it('reads every credential variable', () => {
    const c = resolveConfig(
      {},
      { CF_USERNAME: 'u', CF_API_KEY: 'k', CF_STORAGE_URL: 'https://s/v1/a', CF_AUTH_TOKEN: 't' },
    );
    expect([c.username, c.apiKey, c.storageUrl, c.authToken]).toEqual([
      'u',
      'k',
      'https://s/v1/a',
      't',
    ]);
    const os = resolveConfig(
      {},
      { OS_USERNAME: 'u', OS_PASSWORD: 'p', OS_STORAGE_URL: 'https://s/v1/b', OS_AUTH_TOKEN: 't2' },
    );
    expect([os.username, os.password, os.storageUrl, os.authToken]).toEqual([
      'u',
      'p',
      'https://s/v1/b',
      't2',
    ]);
  });

  it.each([
    ['CF_SNET=1 turns ServiceNet on', {}, { CF_SNET: '1' }, true],
    ['CF_SNET=0 leaves it off', {}, { CF_SNET: '0' }, false],
    ['--snet wins', { snet: true }, { CF_SNET: '0' }, true],
  ])('%s', (_name, flags, env, snet) => {
    expect(resolveConfig(flags, env).snet).toBe(snet);
  });

  it('takes defaults for retries and concurrency, and flags over variables', () => {
    expect(resolveConfig({}, {})).toMatchObject({
      retries: 5,
      concurrency: 4,
      tokenCache: true,
      color: true,
    });
    expect(resolveConfig({ retries: '2' }, { CF_RETRIES: '9' }).retries).toBe(2);
    expect(resolveConfig({}, { CF_CONCURRENCY: '8' }).concurrency).toBe(8);
  });

  it('turns colour off for NO_COLOR and the token cache off for --no-token-cache', () => {
    expect(resolveConfig({}, { NO_COLOR: '1' }).color).toBe(false);
    expect(resolveConfig({ tokenCache: false }, {}).tokenCache).toBe(false);
    expect(resolveConfig({}, { CF_TOKEN_CACHE: '0' }).tokenCache).toBe(false);
  });

  it('puts the token cache under XDG_CACHE_HOME', () => {
    expect(resolveConfig({}, { XDG_CACHE_HOME: '/x/cache' }).cacheDir).toBe('/x/cache/cfimg');
    expect(resolveConfig({}, { HOME: '/home/u' }).cacheDir).toBe('/home/u/.cache/cfimg');
  });

  it.each([
    [{ retries: 'many' }, /--retries must be a whole number from 0 to 100/],
    [{ retries: '-1' }, /--retries must be a whole number/],
    [{ concurrency: '0' }, /--concurrency must be a whole number from 1 to 64/],
    [{ concurrency: '1e3' }, /--concurrency/],
    [{ apiKey: 'k', password: 'p' }, /--api-key or --password, not both/],
    [{ quiet: true, verbose: true }, /--quiet or --verbose/],
    [{ authUrl: 'not a url' }, /--auth-url 'not a url' is not a URL/],
    [{ authUrl: 'ftp://x/y' }, /http or https/],
  ])('refuses %o', (flags, message) => {
    expect(() => resolveConfig(flags, {})).toThrow(message);
  });
});

describe('credentials', () => {
  it('names the variables to set when nothing is given', () => {
    expect(() => requireCredentials(resolveConfig({}, {}))).toThrow(
      /set CF_USERNAME and CF_API_KEY/,
    );
  });

  it('wants a token with a storage URL and the other way round', () => {
    expect(() => requireCredentials(resolveConfig({ storageUrl: 'https://s/v1/a' }, {}))).toThrow(
      /--auth-token/,
    );
    expect(() => requireCredentials(resolveConfig({ authToken: 'tok' }, {}))).toThrow(
      /--storage-url/,
    );
  });

  it('accepts a username with a key, or a storage URL with a token', () => {
    expect(() =>
      requireCredentials(resolveConfig({ username: 'u', apiKey: 'k' }, {})),
    ).not.toThrow();
    expect(() =>
      requireCredentials(resolveConfig({ storageUrl: 'https://s/v1/a', authToken: 't' }, {})),
    ).not.toThrow();
  });
});

describe('clear-text warning', () => {
  it.each([
    ['http://identity.example.com/v2.0', true],
    ['https://identity.example.com/v2.0', false],
    ['http://127.0.0.1:5000/v2.0', false],
    ['http://localhost/v2.0', false],
    ['http://[::1]:80/v2.0', false],
  ])('%s -> %s', (url, warn) => {
    expect(isCleartextRemote(url)).toBe(warn);
  });
});
