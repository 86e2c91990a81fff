import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdentityFront, startIdentityFront } from '../src/emulator/identity-front.js';
import { REAL_SWIFT_HINT, type RealSwift, realSwift } from './support/real-swift.js';

const swift = await realSwift();
if (!swift) console.warn(REAL_SWIFT_HINT);

interface Endpoint {
  region?: string;
  publicURL?: string;
  internalURL?: string;
}

interface Access {
  token: { id: string; expires: string; tenant: { id: string } };
  user: { name: string; 'RAX-AUTH:defaultRegion': string };
  serviceCatalog: { name: string; type: string; endpoints: Endpoint[] }[];
}

async function signIn(front: IdentityFront, credentials: Record<string, unknown>) {
  const res = await request(`${front.url}/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: credentials }),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

function apiKey(real: RealSwift, key = real.key) {
  return { 'RAX-KSKEY:apiKeyCredentials': { username: real.user, apiKey: key } };
}

(swift ? describe : describe.skip)('the Identity v2 front over real Swift tempauth', () => {
  const real = swift as RealSwift;
  let front: IdentityFront;

  beforeAll(async () => {
    front = await startIdentityFront({ authV1Url: real.authV1Url, region: 'ORD' });
  });
  afterAll(() => front?.close());

  it('issues a token that lists the account', async () => {
    const { status, body } = await signIn(front, apiKey(real));
    expect(status).toBe(200);
    const access = body.access as Access;
    const files = access.serviceCatalog.find((s) => s.type === 'object-store');

    const listing = await request(`${files?.endpoints[0]?.publicURL}?format=json`, {
      headers: { 'x-auth-token': access.token.id },
    });
    await listing.body.dump();
    expect([200, 204]).toContain(listing.statusCode);
  });

  it('points Cloud Files of the region at the tempauth storage URL', async () => {
    const { body } = await signIn(front, apiKey(real));
    const access = body.access as Access;
    const files = access.serviceCatalog.find((s) => s.name === 'cloudFiles');

    expect(files?.type).toBe('object-store');
    expect(files?.endpoints).toEqual([
      expect.objectContaining({
        region: 'ORD',
        publicURL: real.storageUrl,
        internalURL: real.storageUrl,
      }),
    ]);
    expect(access.user['RAX-AUTH:defaultRegion']).toBe('ORD');
    expect(access.token.tenant.id).toBe('AUTH_test');
    expect(Date.parse(access.token.expires)).toBeGreaterThan(Date.now());
    expect(access.serviceCatalog.map((s) => s.type)).toContain('rax:object-cdn');
    expect(access.serviceCatalog.some((s) => s.endpoints.some((e) => !e.region))).toBe(true);
  });

  it('accepts password credentials like an API key', async () => {
    const { status, body } = await signIn(front, {
      passwordCredentials: { username: real.user, password: real.key },
    });
    expect(status).toBe(200);
    expect((body.access as Access).token.id).toMatch(/^AUTH_tk/);
  });

  it('answers 401 with the Rackspace body for a wrong key', async () => {
    const { status, body } = await signIn(front, apiKey(real, `${real.key}-wrong`));
    expect(status).toBe(401);
    expect(body).toEqual({ unauthorized: { code: 401, message: expect.any(String) } });
  });

  it('answers 400 to a request without credentials', async () => {
    const { status, body } = await signIn(front, {});
    expect(status).toBe(400);
    expect(body).toHaveProperty('badRequest.code', 400);
  });
});
