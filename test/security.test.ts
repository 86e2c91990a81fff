/**
 * Secrets stay secret and transport security is on by default. Every check uses canary values
 * (an API key, a password, a token) and looks for them in everything cfimg writes: stdout,
 * stderr, the verbose log, JSON results, error messages and every file it leaves behind other
 * than the 0600 token cache. Against the emulator, in-process and as the real binary.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generatedContent } from '../src/emulator/content.js';
import { type Emulator, startEmulator } from '../src/emulator/index.js';
import { type CliResult, runCli } from './support/cli.js';

const API_KEY = 'canary-apikey-5f0c1e9d77';
const PASSWORD = 'canary-password-a41b77e2';
const CANARY_TOKEN = 'canary-token-0d9e4b1f3c';

/** A self-signed certificate for 127.0.0.1 (test only), so TLS can be checked offline. */
const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3gTvLw+TC8rRE1Lm
4Ai6fFhU9u42Or1NiIRQsY4OP3ehRANCAAS07VUiPTR5A+evSX3zh3BwTN5koyjH
OrWxN18e0iAxXJ3jGhLfCLNb6xIoYnPU0fLzLL20dlpr3E6cb3x7vTZE
-----END PRIVATE KEY-----
`;
const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBpjCCAUygAwIBAgIUbnmNBdg31nTGR4bYsXPySPM3BgMwCgYIKoZIzj0EAwIw
HzEdMBsGA1UEAwwUY2ZpbWcgdGVzdCAxMjcuMC4wLjEwIBcNMjYxMjAzMjMzNDQw
WhgPMjEyNjExMDkyMzM0NDBaMB8xHTAbBgNVBAMMFGNmaW1nIHRlc3QgMTI3LjAu
MC4xMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEtO1VIj00eQPnr0l984dwcEze
ZKMoxzq1sTdfHtIgMVyd4xoS3wizW+sSKGJz1NHy8yy9tHZaa9xOnG98e702RKNk
MGIwHQYDVR0OBBYEFN3vsSGuPtQ9YEhJQfDQr/AhGyIUMB8GA1UdIwQYMBaAFN3v
sSGuPtQ9YEhJQfDQr/AhGyIUMA8GA1UdEwEB/wQFMAMBAf8wDwYDVR0RBAgwBocE
fwAAATAKBggqhkjOPQQDAgNIADBFAiAWWUy8qU2DMfUnTae5UO506C01Ax91n0GY
Sma95TPKhQIhAMidATRQjWWFs28WEhpBqXs+CVbCVcx5DH+QCCE9T6vY
-----END CERTIFICATE-----
`;

let em: Emulator;
let home: string;
let work: string;

/** The tokens the emulator issued to the canary user, read from the requests it answered. */
function issuedTokens(): string[] {
  const tokens = em.requests.map((r) => r.requestHeaders['x-auth-token']);
  return [...new Set(tokens.filter((t): t is string => typeof t === 'string' && t !== ''))];
}

function identityEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: home,
    XDG_CACHE_HOME: join(home, 'cache'),
    CF_AUTH_URL: em.authUrl,
    CF_USERNAME: 'canary',
    CF_API_KEY: API_KEY,
    CF_REGION: 'ORD',
    ...extra,
  };
}

/** Every file below `dir` except the token cache, as text. */
async function filesBelow(dir: string): Promise<{ path: string; text: string }[]> {
  const out: { path: string; text: string }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (!entry.isFile() || entry.name === 'tokens.json') continue;
    out.push({ path, text: await readFile(path, 'latin1') });
  }
  return out;
}

function secrets(): string[] {
  return [API_KEY, PASSWORD, CANARY_TOKEN, ...issuedTokens()];
}

/** Fails naming the secret and where it showed. */
async function expectNoSecret(r: { stdout: Buffer | string; stderr: string }): Promise<void> {
  const places = [
    { path: 'stdout', text: r.stdout.toString('latin1') },
    { path: 'stderr', text: r.stderr },
    ...(await filesBelow(work)),
    ...(await filesBelow(home)),
  ];
  for (const secret of secrets()) {
    for (const place of places)
      expect(place.text, `${secret} in ${place.path}`).not.toContain(secret);
  }
}

beforeAll(async () => {
  em = await startEmulator({
    users: [{ username: 'canary', apiKey: API_KEY, password: PASSWORD, defaultRegion: 'ORD' }],
  });
  em.uploadImage({
    container: 'exports',
    name: 'img.vhd',
    content: generatedContent(5 * 65_536 + 99, 'security-image'),
    segmentSize: 65_536,
  });
});

afterAll(async () => {
  await em.close();
});

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'cfimg-sec-home-'));
  work = await mkdtemp(join(tmpdir(), 'cfimg-sec-work-'));
  em.faults.clear();
  em.clearRequests();
});

describe('secrets never show', () => {
  const commands: [string, string[]][] = [
    ['get to a file', ['get', 'exports/img.vhd', '-o', 'img.vhd']],
    ['get to stdout', ['get', 'exports/img.vhd', '-o', '-']],
    ['head', ['head', 'exports/img.vhd']],
    ['list --full', ['list', '--full', 'exports']],
    ['get-segments', ['get-segments', 'exports/img.vhd', '--dir', 'segs']],
  ];

  const logins: [string, string[], Record<string, string>][] = [
    ['an API key in CF_API_KEY', [], {}],
    ['a password on the command line', ['--password', PASSWORD], { CF_API_KEY: '' }],
  ];

  describe.each(logins)('signed in with %s', (_login, loginArgs, loginEnv) => {
    it.each(commands)('in %s with --verbose, nor with --json', async (_name, args) => {
      for (const mode of ['--verbose', '--json']) {
        const cwd = await mkdtemp(join(work, 'run-'));
        const r = await runCli([mode, ...loginArgs, ...args], {
          env: identityEnv(loginEnv),
          cwd,
        });
        expect(r.code).toBe(0);
        await expectNoSecret(r);
      }
      expect(issuedTokens().length).toBeGreaterThan(0);
    });
  });

  it('in the verbose log of a run that re-signs in after a 401, and in its retries', async () => {
    em.faults.add({ match: { path: '/exports/img.vhd-00002' }, action: { status: 401 } });
    em.faults.add({ match: { path: '/exports/img.vhd-00003' }, times: 2, action: { status: 503 } });
    const r = await runCli(['--verbose', 'get', 'exports/img.vhd', '-o', 'img.vhd'], {
      env: identityEnv(),
      cwd: work,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/x-auth-token: \[redacted\]/);
    expect(issuedTokens().length).toBeGreaterThanOrEqual(2);
    await expectNoSecret(r);
  });

  it.each<[string, string[], Record<string, string>, number]>([
    ['wrong API key', ['head', 'exports/img.vhd'], { CF_API_KEY: `${API_KEY}-wrong` }, 4],
    ['a token storage refuses', ['head', 'exports/img.vhd'], {}, 4],
    ['a missing object', ['get', 'exports/nope', '-o', 'x'], {}, 5],
    ['a server that keeps failing', ['--retries', '1', 'head', 'exports/img.vhd'], {}, 6],
  ])('in the error line and stack of %s', async (name, args, extra, code) => {
    if (name.startsWith('a token'))
      em.faults.add({ match: { method: 'HEAD' }, times: Infinity, action: { status: 401 } });
    if (name.startsWith('a server'))
      em.faults.add({ match: { method: 'HEAD' }, times: Infinity, action: { status: 500 } });
    const r = await runCli(['--verbose', ...args], { env: identityEnv(extra), cwd: work });
    expect(r.code).toBe(code);
    await expectNoSecret({ ...r, stderr: r.stderr.replaceAll(`${API_KEY}-wrong`, '') });
    expect(r.stderr).not.toContain(`${API_KEY}-wrong`);
  });

  it('in the headers head prints, as text or JSON, when metadata holds the token', async () => {
    em.putObject('exports', 'echo.bin', 'x', { headers: { 'X-Object-Meta-Echo': em.token() } });
    const env = { HOME: home, CF_STORAGE_URL: em.storageUrl(), CF_AUTH_TOKEN: em.token() };
    for (const mode of [[], ['--json']]) {
      const r = await runCli([...mode, 'head', 'exports/echo.bin'], { env, cwd: work });
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toMatch(/meta-echo"?:\s+"?\[redacted\]/i);
      await expectNoSecret(r);
    }
  });

  it.each([
    [['--retries', '--api-key', API_KEY, 'get', 'a/b']],
    [['--api-key', API_KEY, '--password', PASSWORD, 'get', 'a/b']],
    [[`--api-key=${API_KEY}`, '--concurrency', API_KEY, 'get', 'a/b']],
    [['--auth-token', CANARY_TOKEN, 'get', 'a/b']],
    [['--auth-url', PASSWORD, '--password', PASSWORD, 'get', 'a/b']],
  ])('in the usage error of the malformed command line %j', async (args) => {
    const r = await runCli(args, { env: { HOME: home }, cwd: work });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    await expectNoSecret(r);
  });
});

describe('the token cache', () => {
  const cacheDir = () => join(home, 'cache', 'cfimg');
  const signIns = () => em.requests.filter((r) => r.method === 'POST').length;

  it('is a 0600 file in a 0700 directory, holds the token but never the key or password', async () => {
    const r = await runCli(['head', 'exports/img.vhd'], { env: identityEnv(), cwd: work });
    expect(r.code).toBe(0);
    expect((await stat(cacheDir())).mode & 0o777).toBe(0o700);
    const file = join(cacheDir(), 'tokens.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, 'utf8');
    expect(text).toContain(issuedTokens()[0]);
    for (const s of [API_KEY, PASSWORD, 'canary']) expect(text).not.toContain(s);
    const again = await runCli(['head', 'exports/img.vhd'], { env: identityEnv(), cwd: work });
    expect(again.code).toBe(0);
    expect(signIns()).toBe(1);
  });

  it('keys its entries under a salt of its own, so two caches of one account share no key', async () => {
    const entryKeys = async (cache: string) => {
      const r = await runCli(['head', 'exports/img.vhd'], {
        env: identityEnv({ XDG_CACHE_HOME: cache }),
        cwd: work,
      });
      expect(r.code).toBe(0);
      const doc = JSON.parse(await readFile(join(cache, 'cfimg', 'tokens.json'), 'utf8'));
      expect(doc.salt).toMatch(/^[0-9a-f]{32}$/);
      return { salt: doc.salt, keys: Object.keys(doc.entries) };
    };
    const a = await entryKeys(join(home, 'cache-a'));
    const b = await entryKeys(join(home, 'cache-b'));
    expect(a.keys).toHaveLength(1);
    expect(b.keys).toHaveLength(1);
    expect(a.salt).not.toBe(b.salt);
    expect(a.keys[0]).not.toBe(b.keys[0]);
    expect(signIns()).toBe(2);
  });

  it('signs in again, and replaces the file, when it is of the unsalted version 1', async () => {
    const first = await runCli(['head', 'exports/img.vhd'], { env: identityEnv(), cwd: work });
    expect(first.code).toBe(0);
    const file = join(cacheDir(), 'tokens.json');
    const doc = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify({ version: 1, entries: doc.entries }), { mode: 0o600 });
    const r = await runCli(['head', 'exports/img.vhd'], { env: identityEnv(), cwd: work });
    expect(r.code).toBe(0);
    expect(signIns()).toBe(2);
    expect(JSON.parse(await readFile(file, 'utf8')).version).toBe(2);
  });

  it.each([
    ['file', 0o644, 'tokens.json has mode 644, expected 600'],
    ['directory', 0o755, 'cfimg has mode 755, expected 700'],
  ])('is ignored, with a warning, when its %s is open to others', async (what, mode, warning) => {
    const first = await runCli(['head', 'exports/img.vhd'], { env: identityEnv(), cwd: work });
    expect(first.code).toBe(0);
    await chmod(what === 'file' ? join(cacheDir(), 'tokens.json') : cacheDir(), mode);
    const r = await runCli(['head', 'exports/img.vhd'], { env: identityEnv(), cwd: work });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`cfimg: warning: ignoring the token cache:`);
    expect(r.stderr).toContain(warning);
    expect(signIns()).toBe(2);
  });

  it('is never read with --no-token-cache', async () => {
    await mkdir(cacheDir(), { recursive: true, mode: 0o700 });
    const r = await runCli(['--no-token-cache', 'head', 'exports/img.vhd'], {
      env: identityEnv(),
      cwd: work,
    });
    expect(r.code).toBe(0);
    expect(await readdir(cacheDir())).toEqual([]);
  });
});

describe('plain http', () => {
  it('warns when the auth URL is plain http to a host that is not loopback', async () => {
    const r = await runCli(['--retries', '0', 'head', 'exports/img.vhd'], {
      env: identityEnv({ CF_AUTH_URL: 'http://0.0.0.0:9/v2.0' }),
      cwd: work,
    });
    expect(r.stderr).toMatch(
      /^cfimg: warning: http:\/\/0\.0\.0\.0:9\/v2\.0 is plain http: your credentials cross the network unencrypted$/m,
    );
    expect(r.code).toBe(6);
  });

  it('warns when the storage URL given with a token is plain http to another host', async () => {
    const r = await runCli(['--retries', '0', 'head', 'exports/img.vhd'], {
      env: { HOME: home, CF_STORAGE_URL: 'http://0.0.0.0:9/v1/AUTH_x', CF_AUTH_TOKEN: 'tok-x' },
      cwd: work,
    });
    expect(r.stderr).toMatch(/^cfimg: warning: http:\/\/0\.0\.0\.0:9\/v1\/AUTH_x is plain http/m);
    expect(r.code).toBe(6);
  });

  it('does not warn for loopback', async () => {
    const r = await runCli(['head', 'exports/img.vhd'], { env: identityEnv(), cwd: work });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/warning/);
  });
});

describe('TLS', () => {
  let tls: Server;
  let tlsUrl: string;

  beforeAll(async () => {
    // An https front that passes every request on to the emulator over loopback http.
    tls = createHttpsServer({ key: TLS_KEY, cert: TLS_CERT }, (req, res) => {
      const up = httpRequest(`${em.url}${req.url}`, { method: req.method, headers: req.headers });
      up.on('response', (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    tlsUrl = `https://127.0.0.1:${(tls.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    tls.closeAllConnections();
    await new Promise((resolve) => tls.close(resolve));
  });

  function tlsEnv(): Record<string, string> {
    const storage = new URL(em.storageUrl());
    return {
      HOME: home,
      CF_STORAGE_URL: `${tlsUrl}${storage.pathname}`,
      CF_AUTH_TOKEN: em.token(),
    };
  }

  it('verifies certificates by default: a self-signed one is refused, naming the problem', async () => {
    const r = await runCli(['head', 'exports/img.vhd'], { env: tlsEnv(), cwd: work });
    expect(r.code).toBe(6);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/certificate/i);
    expect(r.stderr).toMatch(/--insecure/);
    expect(em.requests).toHaveLength(0);
  });

  it('refuses a self-signed Identity too, before any credential is sent', async () => {
    const r = await runCli(['head', 'exports/img.vhd'], {
      env: identityEnv({ CF_AUTH_URL: `${tlsUrl}/v2.0` }),
      cwd: work,
    });
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/certificate/i);
    expect(em.requests).toHaveLength(0);
  });

  it('skips verification only with --insecure, and warns', async () => {
    const r = await runCli(['--insecure', '--quiet', 'head', 'exports/img.vhd'], {
      env: tlsEnv(),
      cwd: work,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^cfimg: warning: --insecure: TLS certificates are not verified/m);
  });

  it('trusts the certificate once it is a known CA (the real binary, NODE_EXTRA_CA_CERTS)', async () => {
    const ca = join(work, 'ca.pem');
    await writeFile(ca, TLS_CERT);
    const r = await runBinary(['head', 'exports/img.vhd'], {
      ...tlsEnv(),
      NODE_EXTRA_CA_CERTS: ca,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/warning/);
  });
});

describe('the real binary', () => {
  it('prints no secret in a verbose, failing and a successful run', async () => {
    em.faults.add({
      match: { path: '/exports/img.vhd-00004' },
      times: Infinity,
      action: { status: 503 },
    });
    const failing = await runBinary(
      ['--verbose', '--retries', '1', 'get', 'exports/img.vhd', '-o', join(work, 'img.vhd')],
      { ...identityEnv(), CF_RETRY_BASE_MS: '1' },
    );
    expect(failing.code).toBe(6);
    expect(failing.stderr).toMatch(/\n\s+at /); // --verbose prints the stack: it too is masked
    await expectNoSecret(failing);
    em.faults.clear();
    const ok = await runBinary(
      ['--json', '--password', PASSWORD, 'get', 'exports/img.vhd', '-o', join(work, 'img.vhd')],
      { ...identityEnv(), CF_API_KEY: '' },
    );
    expect(ok.code).toBe(0);
    await expectNoSecret(ok);
  });
});

describe('dependencies', () => {
  it('are only the five runtime packages cfimg needs', async () => {
    const pkg = JSON.parse(await readFile(join(process.cwd(), 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies).sort()).toEqual([
      'chalk',
      'cli-progress',
      'commander',
      'p-retry',
      'undici',
    ]);
  });
});

function runBinary(args: string[], env: Record<string, string>): Promise<CliResult> {
  const child = spawn(process.execPath, [join(process.cwd(), 'bin', 'cfimg.js'), ...args], {
    cwd: work,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
  });
  return new Promise((resolve) =>
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr, stdoutSha256: '' }),
    ),
  );
}
