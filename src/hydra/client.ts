import { MAX_RESPONSE_BYTES, nodeTransport, ResponseTooLargeError, TransportTimeoutError, type TransportResponse } from './transport.js';
import { HydraError, HydraUnavailableError, UnsupportedOperationError, parseErrorBody } from './errors.js';
import {
  checkShape,
  consentRequestShape,
  HydraResponseError,
  introspectionShape,
  keySetShape,
  loginRequestShape,
  logoutRequestShape,
  objectShape,
  redirectToShape,
  deviceRedirectShape,
} from './shapes.js';
import type { z } from 'zod';
import type {
  AcceptConsentRequest,
  AcceptLoginRequest,
  ApiVersion,
  ConsentRequest,
  ConsentSession,
  CreateJsonWebKeySet,
  FlushInactiveTokensRequest,
  IntrospectRequest,
  IntrospectedToken,
  JsonPatch,
  JsonWebKey,
  JsonWebKeySet,
  ListClientsQuery,
  ListConsentSessionsQuery,
  ListTrustedIssuersQuery,
  LoginRequest,
  LogoutRequest,
  OAuth2Client,
  Page,
  PageRequest,
  RedirectTo,
  RejectRequest,
  RevokeConsentSessionsQuery,
  TrustJwtGrantIssuer,
  TrustedJwtGrantIssuer,
} from './types.js';

/** The deadline of a call that makes Hydra generate a key, when HYDRA_TIMEOUT_MS is shorter. */
export const KEY_GENERATION_TIMEOUT_MS = 30_000;

/**
 * Every admin operation we call, by its Hydra v1.11 operation name, with its v1 path.
 * Hydra v2 serves each of them under `/admin` + the same path (contract §1); v2.0–2.3 only
 * redirect unprefixed paths, so we always send the prefix. `only` marks an operation one
 * layout lacks. The contract test checks this table against the OpenAPI specs.
 */
export const OPERATIONS = {
  getLoginRequest: { method: 'GET', path: '/oauth2/auth/requests/login' },
  acceptLoginRequest: { method: 'PUT', path: '/oauth2/auth/requests/login/accept' },
  rejectLoginRequest: { method: 'PUT', path: '/oauth2/auth/requests/login/reject' },
  getConsentRequest: { method: 'GET', path: '/oauth2/auth/requests/consent' },
  acceptConsentRequest: { method: 'PUT', path: '/oauth2/auth/requests/consent/accept' },
  rejectConsentRequest: { method: 'PUT', path: '/oauth2/auth/requests/consent/reject' },
  getLogoutRequest: { method: 'GET', path: '/oauth2/auth/requests/logout' },
  acceptLogoutRequest: { method: 'PUT', path: '/oauth2/auth/requests/logout/accept' },
  rejectLogoutRequest: { method: 'PUT', path: '/oauth2/auth/requests/logout/reject' },
  // The device authorization grant (RFC 8628) arrived in Hydra v25.4; named as in Hydra's spec and SDK.
  acceptUserCodeRequest: { method: 'PUT', path: '/oauth2/auth/requests/device/accept', only: 'v2', since: 'v25.4' },
  createOAuth2Client: { method: 'POST', path: '/clients' },
  getOAuth2Client: { method: 'GET', path: '/clients/{id}' },
  listOAuth2Clients: { method: 'GET', path: '/clients' },
  updateOAuth2Client: { method: 'PUT', path: '/clients/{id}' },
  patchOAuth2Client: { method: 'PATCH', path: '/clients/{id}' },
  deleteOAuth2Client: { method: 'DELETE', path: '/clients/{id}' },
  // Hydra generates the key while we wait: a 4096-bit RSA key takes seconds on a busy machine.
  createJsonWebKeySet: { method: 'POST', path: '/keys/{set}', minTimeoutMs: KEY_GENERATION_TIMEOUT_MS },
  getJsonWebKeySet: { method: 'GET', path: '/keys/{set}' },
  updateJsonWebKeySet: { method: 'PUT', path: '/keys/{set}' },
  deleteJsonWebKeySet: { method: 'DELETE', path: '/keys/{set}' },
  getJsonWebKey: { method: 'GET', path: '/keys/{set}/{kid}' },
  updateJsonWebKey: { method: 'PUT', path: '/keys/{set}/{kid}' },
  deleteJsonWebKey: { method: 'DELETE', path: '/keys/{set}/{kid}' },
  deleteOAuth2Token: { method: 'DELETE', path: '/oauth2/tokens' },
  flushInactiveOAuth2Tokens: { method: 'POST', path: '/oauth2/flush', only: 'v1' },
  introspectOAuth2Token: { method: 'POST', path: '/oauth2/introspect' },
  listSubjectConsentSessions: { method: 'GET', path: '/oauth2/auth/sessions/consent' },
  revokeConsentSessions: { method: 'DELETE', path: '/oauth2/auth/sessions/consent' },
  revokeAuthenticationSession: { method: 'DELETE', path: '/oauth2/auth/sessions/login' },
  trustJwtGrantIssuer: { method: 'POST', path: '/trust/grants/jwt-bearer/issuers' },
  getTrustedJwtGrantIssuer: { method: 'GET', path: '/trust/grants/jwt-bearer/issuers/{id}' },
  listTrustedJwtGrantIssuers: { method: 'GET', path: '/trust/grants/jwt-bearer/issuers' },
  deleteTrustedJwtGrantIssuer: { method: 'DELETE', path: '/trust/grants/jwt-bearer/issuers/{id}' },
} as const satisfies Record<string, { method: string; path: string; only?: ApiVersion; since?: string; minTimeoutMs?: number }>;

/** Operations sent a second time after a 5xx: a revocation repeated changes nothing more. */
const RETRIED_ONCE: ReadonlySet<OperationName> = new Set(['revokeConsentSessions', 'revokeAuthenticationSession']);
const RETRY_DELAY_MS = 150;

/** Why an operation is missing from a layout, and what to do instead. */
const UNSUPPORTED: Partial<Record<OperationName, string>> = {
  flushInactiveOAuth2Tokens: 'Hydra v2 removed this endpoint; run `hydra janitor` to flush inactive tokens',
  acceptUserCodeRequest: 'the device authorization grant needs Hydra v25.4 or later (HYDRA_API_VERSION=v2)',
};

export type OperationName = keyof typeof OPERATIONS;

/** The path of an operation in the given layout, with `{param}`s filled in and encoded. */
export function operationPath(operation: OperationName, version: ApiVersion, params: Record<string, string> = {}): string {
  const path = OPERATIONS[operation].path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined || value === '') throw new TypeError(`${operation}: missing path parameter ${name}`);
    return encodeURIComponent(value);
  });
  return version === 'v2' ? `/admin${path}` : path;
}

// Hydra v1.11–v2.3 reject unknown body fields with 400 (contract §2), so each version gets only
// the fields it knows. "v2" means Hydra v2.2 or later (v2.3, v25, v26).
const V2_ONLY_LOGIN_FIELDS = ['extend_session_lifespan', 'identity_provider_session_id'] as const;
const V2_ONLY_CONSENT_FIELDS = ['context'] as const;
const V2_ONLY_CLIENT_FIELDS = ['access_token_strategy', 'skip_consent', 'skip_logout_consent'] as const;
const V1_ONLY_CLIENT_FIELD = /^password_grant_.*_lifespan$/;

function without<T extends object>(body: T, fields: readonly string[]): T {
  const copy = { ...body } as Record<string, unknown>;
  for (const field of fields) delete copy[field];
  return copy as T;
}

export function clientBodyFor(version: ApiVersion, client: OAuth2Client): OAuth2Client {
  if (version === 'v1') return without(client, V2_ONLY_CLIENT_FIELDS);
  return without(client, Object.keys(client).filter((key) => V1_ONLY_CLIENT_FIELD.test(key)));
}

export function loginAcceptBodyFor(version: ApiVersion, body: AcceptLoginRequest): AcceptLoginRequest {
  return version === 'v1' ? without(body, V2_ONLY_LOGIN_FIELDS) : body;
}

export function consentAcceptBodyFor(version: ApiVersion, body: AcceptConsentRequest): AcceptConsentRequest {
  return version === 'v1' ? without(body, V2_ONLY_CONSENT_FIELDS) : body;
}

/** Reads `<url>; rel="next"` links and returns the paging token each carries. */
export function parseLinkHeader(header: string | null, version: ApiVersion): Pick<Page<unknown>, 'next' | 'prev' | 'first'> {
  const links: Pick<Page<unknown>, 'next' | 'prev' | 'first'> = {};
  if (!header) return links;
  for (const part of header.split(',')) {
    const match = /<([^>]*)>\s*;\s*rel="?(\w+)"?/.exec(part.trim());
    if (!match) continue;
    const [, target = '', rel] = match;
    if (rel !== 'next' && rel !== 'prev' && rel !== 'first') continue;
    const query = new URL(target, 'http://hydra.invalid').searchParams;
    const token = version === 'v2' ? query.get('page_token') : query.get('offset');
    if (token !== null) links[rel] = token;
  }
  return links;
}

export interface HydraAdminOptions {
  /** Hydra's admin URL, e.g. http://127.0.0.1:4445 (a sub-path is kept). */
  baseUrl: string;
  apiVersion: ApiVersion;
  /** Every call is aborted after this many milliseconds. */
  timeoutMs: number;
  /** Sent as `Authorization: Bearer` (Ory Network, or an admin API behind a gateway). */
  token?: string;
  /**
   * Told of every admin call once it has settled: its operation, how long it took, and what it
   * threw, if anything (the metrics hook, src/metrics.ts). Not called for an operation the layout
   * lacks, which never leaves the process.
   */
  onCall?: (call: { operation: OperationName; seconds: number; error?: unknown }) => void;
}

interface Call {
  params?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  form?: Record<string, string | undefined>;
}

export type HydraAdmin = ReturnType<typeof createHydraAdmin>;

/** A typed client for Hydra's admin API, v1.11 or v2 layout. Holds no state but its options. */
export function createHydraAdmin(options: HydraAdminOptions) {
  const { apiVersion: version, timeoutMs } = options;
  const base = options.baseUrl.replace(/\/+$/, '');
  // Parsed once; each call only appends its path and query.
  const origin = new URL(base);
  const basePath = origin.pathname.replace(/\/+$/, '');

  async function send(operation: OperationName, call: Call = {}): Promise<TransportResponse> {
    const spec: { method: string; only?: ApiVersion; minTimeoutMs?: number } = OPERATIONS[operation];
    if (spec.only && spec.only !== version) {
      throw new UnsupportedOperationError(operation, version, UNSUPPORTED[operation] ?? 'not available in this layout');
    }
    let path = basePath + operationPath(operation, version, call.params);
    let separator = '?';
    for (const [key, value] of Object.entries(call.query ?? {})) {
      if (value === undefined || value === '') continue;
      path += `${separator}${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`;
      separator = '&';
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (call.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(call.json);
    } else if (call.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      const form = new URLSearchParams();
      for (const [key, value] of Object.entries(call.form)) if (value !== undefined) form.set(key, value);
      body = form.toString();
    }

    let response: TransportResponse;
    try {
      response = await nodeTransport({ method: spec.method, origin, path, headers, body, timeoutMs: Math.max(timeoutMs, spec.minTimeoutMs ?? 0) });
    } catch (err) {
      if (err instanceof ResponseTooLargeError) {
        throw new HydraResponseError(operation, `the answer is larger than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB`);
      }
      throw new HydraUnavailableError(operation, err instanceof TransportTimeoutError ? 'timeout' : 'unreachable', { cause: err });
    }
    if (response.status < 200 || response.status > 299) {
      const parsed = parseErrorBody(response.body);
      throw new HydraError(
        operation,
        response.status,
        parsed.error ?? (response.statusText || 'error'),
        parsed.description ?? '',
        parsed.redirectTo,
      );
    }
    return response;
  }

  function parse(operation: OperationName, response: TransportResponse): unknown {
    try {
      return JSON.parse(response.body);
    } catch {
      throw new HydraResponseError(operation, 'the answer is not JSON');
    }
  }

  /**
   * Runs one operation and, with `onCall`, reports it once settled: the whole call, answer checks
   * included, so a malformed answer counts as the failure (502) it becomes.
   */
  async function observed<T>(operation: OperationName, run: () => Promise<T>): Promise<T> {
    const { onCall } = options;
    const only: ApiVersion | undefined = (OPERATIONS[operation] as { only?: ApiVersion }).only;
    if (!onCall || (only && only !== version)) return run();
    const started = performance.now();
    try {
      const result = await run();
      onCall({ operation, seconds: (performance.now() - started) / 1000 });
      return result;
    } catch (error) {
      onCall({ operation, seconds: (performance.now() - started) / 1000, error });
      throw error;
    }
  }

  /** A JSON answer that has the shape the callers rely on (shapes.ts), else a 502. */
  function json<T>(operation: OperationName, call?: Call, shape: z.ZodType = objectShape): Promise<T> {
    return observed(operation, async () => {
      const response = await send(operation, call);
      return checkShape<T>(operation, shape, parse(operation, response));
    });
  }

  function none(operation: OperationName, call?: Call): Promise<void> {
    return observed(operation, async () => {
      try {
        await send(operation, call);
      } catch (err) {
        if (!(RETRIED_ONCE.has(operation) && err instanceof HydraError && err.status >= 500)) throw err;
        // Revoking sessions is the same request however often it is sent; Hydra on SQLite
        // answers a revocation racing another write with a 500 now and then. Once more, shortly after.
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
        await send(operation, call);
      }
    });
  }

  function page<T>(operation: OperationName, paging: PageRequest, query: Record<string, string | undefined>): Promise<Page<T>> {
    return observed(operation, () => pageOf<T>(operation, paging, query));
  }

  async function pageOf<T>(operation: OperationName, paging: PageRequest, query: Record<string, string | undefined>): Promise<Page<T>> {
    const pagingQuery =
      version === 'v2'
        ? { page_size: paging.pageSize, page_token: paging.pageToken }
        : { limit: paging.pageSize, offset: paging.pageToken };
    const response = await send(operation, { query: { ...query, ...pagingQuery } });
    const items = parse(operation, response);
    // Go marshals an empty list as null; anything else that is not a list is a fault.
    if (items !== null && !Array.isArray(items)) throw new HydraResponseError(operation, 'expected a JSON array');
    const totalHeader = response.headers.get('x-total-count');
    const total = totalHeader !== null && /^\d+$/.test(totalHeader) ? Number(totalHeader) : undefined;
    return {
      items: (items ?? []) as T[],
      ...parseLinkHeader(response.headers.get('link'), version),
      ...(total === undefined ? {} : { total }),
    };
  }

  return {
    apiVersion: version,

    /** True when Hydra's admin API answers its readiness probe. */
    async isReady(): Promise<boolean> {
      try {
        const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
        const response = await nodeTransport({ method: 'GET', origin, path: `${basePath}/health/ready`, headers, timeoutMs });
        return response.status >= 200 && response.status < 300;
      } catch {
        return false;
      }
    },

    // Login
    getLoginRequest: (challenge: string) =>
      json<LoginRequest>('getLoginRequest', { query: { login_challenge: challenge } }, loginRequestShape),
    acceptLoginRequest: (challenge: string, body: AcceptLoginRequest) =>
      json<RedirectTo>('acceptLoginRequest', { query: { login_challenge: challenge }, json: loginAcceptBodyFor(version, body) }, redirectToShape),
    rejectLoginRequest: (challenge: string, body: RejectRequest) =>
      json<RedirectTo>('rejectLoginRequest', { query: { login_challenge: challenge }, json: body }, redirectToShape),

    // Consent
    getConsentRequest: (challenge: string) =>
      json<ConsentRequest>('getConsentRequest', { query: { consent_challenge: challenge } }, consentRequestShape),
    acceptConsentRequest: (challenge: string, body: AcceptConsentRequest) =>
      json<RedirectTo>('acceptConsentRequest', { query: { consent_challenge: challenge }, json: consentAcceptBodyFor(version, body) }, redirectToShape),
    rejectConsentRequest: (challenge: string, body: RejectRequest) =>
      json<RedirectTo>('rejectConsentRequest', { query: { consent_challenge: challenge }, json: body }, redirectToShape),

    // Logout
    getLogoutRequest: (challenge: string) =>
      json<LogoutRequest>('getLogoutRequest', { query: { logout_challenge: challenge } }, logoutRequestShape),
    acceptLogoutRequest: (challenge: string) =>
      json<RedirectTo>('acceptLogoutRequest', { query: { logout_challenge: challenge } }, redirectToShape),
    /** Hydra answers 204; where the browser goes next is ours to decide. */
    rejectLogoutRequest: (challenge: string) => none('rejectLogoutRequest', { query: { logout_challenge: challenge } }),

    // Device authorization (Hydra v25.4+; v1 layout: UnsupportedOperationError, a 501)
    /**
     * Hands Hydra the user code the person typed for this device challenge. 200: the redirect to
     * Hydra's /oauth2/device/verify?device_verifier=…; 400 invalid_request: the code is unknown,
     * expired or already used (Hydra does not say which); 404: an unknown challenge; 401: an
     * expired one.
     */
    acceptUserCodeRequest: (deviceChallenge: string, userCode: string) =>
      json<RedirectTo>('acceptUserCodeRequest', { query: { device_challenge: deviceChallenge }, json: { user_code: userCode } }, deviceRedirectShape),

    // OAuth2 clients
    createOAuth2Client: (client: OAuth2Client) =>
      json<OAuth2Client>('createOAuth2Client', { json: clientBodyFor(version, client) }),
    getOAuth2Client: (id: string) => json<OAuth2Client>('getOAuth2Client', { params: { id } }),
    listOAuth2Clients: ({ client_name, owner, ...paging }: ListClientsQuery = {}) =>
      page<OAuth2Client>('listOAuth2Clients', paging, { client_name, owner }),
    /** Replaces the whole client; the id comes from the path. */
    updateOAuth2Client: (id: string, client: OAuth2Client) =>
      json<OAuth2Client>('updateOAuth2Client', { params: { id }, json: clientBodyFor(version, client) }),
    patchOAuth2Client: (id: string, patch: JsonPatch[]) =>
      json<OAuth2Client>('patchOAuth2Client', { params: { id }, json: patch }),
    deleteOAuth2Client: (id: string) => none('deleteOAuth2Client', { params: { id } }),

    // JSON Web Keys
    createJsonWebKeySet: (set: string, body: CreateJsonWebKeySet) =>
      json<JsonWebKeySet>('createJsonWebKeySet', { params: { set }, json: body }, keySetShape),
    getJsonWebKeySet: (set: string) => json<JsonWebKeySet>('getJsonWebKeySet', { params: { set } }, keySetShape),
    updateJsonWebKeySet: (set: string, body: JsonWebKeySet) =>
      json<JsonWebKeySet>('updateJsonWebKeySet', { params: { set }, json: body }, keySetShape),
    deleteJsonWebKeySet: (set: string) => none('deleteJsonWebKeySet', { params: { set } }),
    getJsonWebKey: (set: string, kid: string) => json<JsonWebKeySet>('getJsonWebKey', { params: { set, kid } }, keySetShape),
    updateJsonWebKey: (set: string, kid: string, key: JsonWebKey) =>
      json<JsonWebKey>('updateJsonWebKey', { params: { set, kid }, json: key }),
    deleteJsonWebKey: (set: string, kid: string) => none('deleteJsonWebKey', { params: { set, kid } }),

    // Tokens
    deleteOAuth2Token: (clientId: string) => none('deleteOAuth2Token', { query: { client_id: clientId } }),
    /** Hydra v1 only; v2 throws UnsupportedOperationError pointing to `hydra janitor`. */
    flushInactiveOAuth2Tokens: (body: FlushInactiveTokensRequest = {}) =>
      none('flushInactiveOAuth2Tokens', { json: body }),
    introspectOAuth2Token: ({ token, scope }: IntrospectRequest) =>
      json<IntrospectedToken>('introspectOAuth2Token', { form: { token, scope: scope || undefined } }, introspectionShape),

    // Sessions
    listSubjectConsentSessions: ({ subject, login_session_id, ...paging }: ListConsentSessionsQuery) =>
      page<ConsentSession>('listSubjectConsentSessions', paging, { subject, login_session_id }),
    revokeConsentSessions: (query: RevokeConsentSessionsQuery) =>
      none('revokeConsentSessions', {
        query: { subject: query.subject, client: query.client, all: query.all ? 'true' : undefined },
      }),
    revokeAuthenticationSession: (subject: string) =>
      none('revokeAuthenticationSession', { query: { subject } }),

    // Trusted JWT-grant issuers
    trustJwtGrantIssuer: (body: TrustJwtGrantIssuer) =>
      json<TrustedJwtGrantIssuer>('trustJwtGrantIssuer', { json: body }),
    getTrustedJwtGrantIssuer: (id: string) =>
      json<TrustedJwtGrantIssuer>('getTrustedJwtGrantIssuer', { params: { id } }),
    listTrustedJwtGrantIssuers: ({ issuer, ...paging }: ListTrustedIssuersQuery = {}) =>
      page<TrustedJwtGrantIssuer>('listTrustedJwtGrantIssuers', paging, { issuer }),
    deleteTrustedJwtGrantIssuer: (id: string) => none('deleteTrustedJwtGrantIssuer', { params: { id } }),
  };
}
