import { describe, expect, it } from 'vitest';
import {
  type Access,
  authRequestBody,
  chooseStorageUrl,
  parseAccess,
} from '../../src/core/identity.js';

const catalog = {
  access: {
    token: { id: 'tok', expires: '2030-01-01T00:00:00.000Z', tenant: { id: '123', name: '123' } },
    user: { id: 'u1', name: 'joe', 'RAX-AUTH:defaultRegion': 'ORD' },
    serviceCatalog: [
      {
        name: 'cloudDNS',
        type: 'rax:dns',
        endpoints: [{ publicURL: 'https://dns/v1.0/123', tenantId: '123' }],
      },
      {
        name: 'cloudFilesCDN',
        type: 'rax:object-cdn',
        endpoints: [{ region: 'ORD', publicURL: 'https://cdn.ord/v1/MossoCloudFS_x' }],
      },
      {
        name: 'cloudFiles',
        type: 'object-store',
        endpoints: [
          {
            region: 'ORD',
            publicURL: 'https://storage101.ord1/v1/M_x',
            internalURL: 'https://snet-storage101.ord1/v1/M_x',
          },
          {
            region: 'DFW',
            publicURL: 'https://storage101.dfw1/v1/M_x',
            internalURL: 'https://snet-storage101.dfw1/v1/M_x',
          },
          { region: 'SYD', publicURL: 'https://storage101.syd2/v1/M_x' },
        ],
      },
    ],
  },
};

describe('Identity v2 documents', () => {
  it('sends API-key credentials when a key is given, password credentials otherwise', () => {
    expect(JSON.parse(authRequestBody({ username: 'joe', apiKey: 'k' }))).toEqual({
      auth: { 'RAX-KSKEY:apiKeyCredentials': { username: 'joe', apiKey: 'k' } },
    });
    expect(JSON.parse(authRequestBody({ username: 'joe', password: 'p' }))).toEqual({
      auth: { passwordCredentials: { username: 'joe', password: 'p' } },
    });
  });

  it('reads the token, its expiry, the default region and the catalog', () => {
    const access = parseAccess(catalog);
    expect(access.token).toBe('tok');
    expect(access.expires.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    expect(access.defaultRegion).toBe('ORD');
    expect(access.catalog.map((s) => s.name)).toEqual(['cloudDNS', 'cloudFilesCDN', 'cloudFiles']);
  });

  it.each([[null], [{}], [{ access: {} }], [{ access: { token: { id: '' } } }], ['text']])(
    'refuses a document that is not a token: %j',
    (doc) => {
      expect(() => parseAccess(doc)).toThrow(/not a v2 token/);
    },
  );
});

describe('endpoint choice', () => {
  const access: Access = parseAccess(catalog);
  it.each([
    ['the default region, public', {}, 'https://storage101.ord1/v1/M_x'],
    ['a region in any case', { region: 'dfw' }, 'https://storage101.dfw1/v1/M_x'],
    ['ServiceNet for --snet', { region: 'DFW', snet: true }, 'https://snet-storage101.dfw1/v1/M_x'],
    ['ServiceNet in the default region', { snet: true }, 'https://snet-storage101.ord1/v1/M_x'],
  ])('picks %s', (_name, choice, url) => {
    expect(chooseStorageUrl(access, { snet: false, ...choice }).url).toBe(url);
  });

  it('names the regions on offer for an unknown region', () => {
    expect(() => chooseStorageUrl(access, { region: 'LON', snet: false })).toThrow(
      "region 'LON' has no Cloud Files endpoint: use --region (CF_REGION) with one of ORD, DFW, SYD",
    );
  });

  it('says when a region has no ServiceNet endpoint', () => {
    expect(() => chooseStorageUrl(access, { region: 'SYD', snet: true })).toThrow(/no ServiceNet/);
  });

  it('asks for a region when the user has no default and there are several', () => {
    const noDefault = { ...access, defaultRegion: undefined } as Access;
    expect(() => chooseStorageUrl(noDefault, { snet: false })).toThrow(
      /no region given.*ORD, DFW, SYD/,
    );
  });

  it('fails clearly when the catalog has no object store', () => {
    expect(() => chooseStorageUrl({ ...access, catalog: [] }, { snet: false })).toThrow(
      /no object-store/,
    );
  });
});
