/**
 * Properties of the Identity v2 parser and of the endpoint choice, over generated service
 * catalogs: the chosen URL is always Cloud Files' in the wanted region, and a failure names the
 * regions on offer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, TransferError } from '../../src/core/errors.js';
import {
  type Access,
  authRequestBody,
  chooseStorageUrl,
  parseAccess,
} from '../../src/core/identity.js';

const REGIONS = ['DFW', 'ORD', 'IAD', 'LON', 'SYD', 'HKG'];
const region = fc.constantFrom(...REGIONS, 'ord', 'Lon');
const url = (tag: string) => fc.nat({ max: 999 }).map((n) => `https://${tag}${n}.example/v1/M_x`);

const endpoint = fc.record(
  {
    region,
    publicURL: url('storage'),
    internalURL: url('snet'),
    tenantId: fc.constant('123'),
  },
  { requiredKeys: ['publicURL'] },
);
const service = fc.record({
  name: fc.constantFrom('cloudFiles', 'cloudFilesCDN', 'cloudServers', 'swift'),
  type: fc.constantFrom('object-store', 'rax:object-cdn', 'compute'),
  endpoints: fc.array(endpoint, { maxLength: 4 }),
});
const access: fc.Arbitrary<Access> = fc.record(
  {
    token: fc.constant('tok'),
    expires: fc.constant(new Date('2030-01-01T00:00:00Z')),
    defaultRegion: region,
    catalog: fc.array(service, { maxLength: 5 }),
  },
  { requiredKeys: ['token', 'expires', 'catalog'] },
);

/** The object store cfimg must use: Cloud Files by name, else the first object store. */
function objectStore(a: Access) {
  return (
    a.catalog.find((s) => s.type === 'object-store' && s.name === 'cloudFiles') ??
    a.catalog.find((s) => s.type === 'object-store')
  );
}

describe('chooseStorageUrl', () => {
  it("returns the wanted region's URL of the right kind from the object store, or a ConfigError", () => {
    fc.assert(
      fc.property(
        access,
        fc.option(region, { nil: undefined }),
        fc.boolean(),
        (a, wanted, snet) => {
          const store = objectStore(a);
          let chosen: { url: string; region: string };
          try {
            chosen = chooseStorageUrl(a, { snet, ...(wanted ? { region: wanted } : {}) });
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
            const offered = (store?.endpoints ?? []).map((e) => e.region).filter(Boolean);
            if (store?.endpoints.length && /use --region/.test((err as Error).message))
              for (const r of offered) expect((err as Error).message).toContain(r);
            return;
          }
          const want = wanted ?? a.defaultRegion;
          const match = store?.endpoints.find((e) =>
            want ? e.region?.toLowerCase() === want.toLowerCase() : true,
          );
          expect(match).toBeDefined();
          expect(chosen.url).toBe(snet ? match?.internalURL : match?.publicURL);
          if (want) expect(chosen.region.toLowerCase()).toBe(want.toLowerCase());
        },
      ),
    );
  });

  it('never fails when the wanted region has an endpoint of the wanted kind', () => {
    fc.assert(
      fc.property(access, region, fc.boolean(), (a, wanted, snet) => {
        const store = objectStore(a);
        const match = store?.endpoints.find(
          (e) => e.region?.toLowerCase() === wanted.toLowerCase(),
        );
        fc.pre(!!match && !!(snet ? match.internalURL : match.publicURL));
        expect(() => chooseStorageUrl(a, { region: wanted, snet })).not.toThrow();
      }),
    );
  });
});

describe('parseAccess', () => {
  it('throws nothing but a TransferError, whatever the document', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.record({ access: fc.jsonValue() })), (doc) => {
        try {
          const a = parseAccess(doc);
          expect(typeof a.token).toBe('string');
          expect(Number.isNaN(a.expires.getTime())).toBe(false);
          expect(Array.isArray(a.catalog)).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(TransferError);
        }
      }),
    );
  });

  it('reads back the token, the expiry, the default region and the catalog', () => {
    fc.assert(
      fc.property(access, (a) => {
        const doc = {
          access: {
            token: { id: a.token, expires: a.expires.toISOString(), tenant: { id: '123' } },
            user: { 'RAX-AUTH:defaultRegion': a.defaultRegion },
            serviceCatalog: a.catalog,
          },
        };
        const parsed = parseAccess(JSON.parse(JSON.stringify(doc)));
        expect(parsed).toMatchObject({ token: a.token, catalog: a.catalog, tenantId: '123' });
        expect(parsed.expires.getTime()).toBe(a.expires.getTime());
        expect(parsed.defaultRegion).toBe(a.defaultRegion);
      }),
    );
  });
});

describe('authRequestBody', () => {
  it('carries the username and the API key, or else the password, exactly', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.option(fc.string({ minLength: 1 })),
        fc.string(),
        (username, apiKey, password) => {
          const body = JSON.parse(
            authRequestBody({ username, password, ...(apiKey ? { apiKey } : {}) }),
          );
          if (apiKey)
            expect(body).toEqual({ auth: { 'RAX-KSKEY:apiKeyCredentials': { username, apiKey } } });
          else expect(body).toEqual({ auth: { passwordCredentials: { username, password } } });
        },
      ),
    );
  });
});
