/**
 * Rackspace Identity v2 as the emulator plays it: `POST /v2.0/tokens` with API-key or password
 * credentials, tokens that expire, and a service catalog shaped like Rackspace's (Cloud Files
 * per region with public and ServiceNet URLs, a CDN entry, a compute entry and one endpoint
 * without a region).
 */
import { randomBytes } from 'node:crypto';

/** A user the emulator knows. */
export interface EmulatorUser {
  username: string;
  apiKey?: string;
  password?: string;
  /** Numeric Rackspace account; the storage account is `MossoCloudFS_<tenantId>`. */
  tenantId?: string;
  /** `RAX-AUTH:defaultRegion`; the emulator's default region when absent. */
  defaultRegion?: string;
  /** A disabled user gets 403. */
  disabled?: boolean;
}

/** A live token and whom it belongs to. */
export interface Session {
  id: string;
  user: EmulatorUser;
  tenantId: string;
  account: string;
  expiresAt: number;
}

/** Where the catalog points: the storage URL of a region, public or ServiceNet. */
export type StorageUrlOf = (region: string, internal: boolean, account: string) => string;

/** A response of the identity service. */
export interface IdentityAnswer {
  status: number;
  body: unknown;
}

export function tenantOf(user: EmulatorUser, index: number): string {
  return user.tenantId ?? String(123456 + index);
}

/** The identity service: users, tokens and the catalog. */
export class Identity {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly users: EmulatorUser[],
    private readonly regions: string[],
    private readonly defaultRegion: string,
    private readonly ttlMs: number,
    private readonly storageUrlOf: StorageUrlOf,
  ) {}

  /** Answers `POST /v2.0/tokens` for a request body (already parsed, or undefined if not JSON). */
  authenticate(body: unknown): IdentityAnswer {
    const auth = (body as { auth?: Record<string, unknown> } | undefined)?.auth;
    const apiKey = credentials(auth?.['RAX-KSKEY:apiKeyCredentials'], 'apiKey');
    const password = credentials(auth?.passwordCredentials, 'password');
    const given = apiKey ?? password;
    if (given === undefined) return badRequest('Invalid json request body');

    const index = this.users.findIndex((u) => u.username === given.username);
    const user = this.users[index];
    const secret = apiKey !== undefined ? user?.apiKey : user?.password;
    if (user === undefined || secret === undefined || secret !== given.secret) {
      const message =
        apiKey !== undefined
          ? 'Username or api key is invalid.'
          : 'Unable to authenticate user with credentials provided.';
      return { status: 401, body: { unauthorized: { code: 401, message } } };
    }
    if (user.disabled) {
      const message = `User '${user.username}' is disabled.`;
      return { status: 403, body: { forbidden: { code: 403, message } } };
    }
    const session = this.issue(index);
    return {
      status: 200,
      body: this.access(session, apiKey !== undefined ? 'APIKEY' : 'PASSWORD'),
    };
  }

  /** Issues a token for the user at `index`. */
  issue(index: number): Session {
    const user = this.users[index];
    if (user === undefined) throw new Error(`no user #${index}`);
    const tenantId = tenantOf(user, index);
    const session: Session = {
      id: randomBytes(16).toString('hex'),
      user,
      tenantId,
      account: `MossoCloudFS_${tenantId}`,
      expiresAt: Date.now() + this.ttlMs,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The session of a token, if the token is known and not expired. */
  validate(token: string | undefined): Session | undefined {
    const session = token === undefined ? undefined : this.sessions.get(token);
    return session !== undefined && session.expiresAt > Date.now() ? session : undefined;
  }

  /** Makes every token issued so far invalid, as if they had all expired. */
  expireAll(): void {
    for (const session of this.sessions.values()) session.expiresAt = 0;
  }

  private access(session: Session, method: string): unknown {
    const { user, tenantId } = session;
    return {
      access: {
        token: {
          id: session.id,
          expires: new Date(session.expiresAt).toISOString(),
          tenant: { id: tenantId, name: tenantId },
          'RAX-AUTH:authenticatedBy': [method],
        },
        serviceCatalog: this.catalog(session),
        user: {
          id: `user-${tenantId}`,
          name: user.username,
          roles: [
            { id: '3', name: 'identity:user-admin', description: 'User Admin Role.' },
            { id: '5', name: 'object-store:default', tenantId: session.account },
            { id: '6', name: 'compute:default', tenantId },
          ],
          'RAX-AUTH:defaultRegion': user.defaultRegion ?? this.defaultRegion,
        },
      },
    };
  }

  /** The catalog; the CDN entry comes first so clients must choose Cloud Files by type. */
  private catalog(session: Session): unknown[] {
    const { account, tenantId } = session;
    const perRegion = (f: (region: string, i: number) => Record<string, unknown>) =>
      this.regions.map((region, i) => ({ region, tenantId: account, ...f(region, i) }));
    return [
      {
        name: 'cloudFilesCDN',
        type: 'rax:object-cdn',
        endpoints: perRegion((_region, i) => ({
          publicURL: `https://cdn${i + 1}.clouddrive.com/v1/${account}`,
        })),
      },
      {
        name: 'cloudFiles',
        type: 'object-store',
        endpoints: perRegion((region) => ({
          publicURL: this.storageUrlOf(region, false, account),
          internalURL: this.storageUrlOf(region, true, account),
        })),
      },
      {
        name: 'cloudServersOpenStack',
        type: 'compute',
        endpoints: this.regions.map((region) => ({
          region,
          tenantId,
          publicURL: `https://${region.toLowerCase()}.servers.api.rackspacecloud.com/v2/${tenantId}`,
          versionId: '2',
        })),
      },
      {
        name: 'cloudDNS',
        type: 'rax:dns',
        endpoints: [{ tenantId, publicURL: `https://dns.api.rackspacecloud.com/v1.0/${tenantId}` }],
      },
    ];
  }
}

function credentials(
  value: unknown,
  secretKey: 'apiKey' | 'password',
): { username: string; secret: string } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { username } = value as Record<string, unknown>;
  const secret = (value as Record<string, unknown>)[secretKey];
  if (typeof username !== 'string' || typeof secret !== 'string') return undefined;
  return { username, secret };
}

function badRequest(message: string): IdentityAnswer {
  return { status: 400, body: { badRequest: { code: 400, message } } };
}
