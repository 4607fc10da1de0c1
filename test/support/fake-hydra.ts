/**
 * A fake Hydra admin API for fast integration tests: a real node:http server on 127.0.0.1:0
 * that answers as ../../../shared/docs/hydra-contract.md says Hydra does ("§n" below), in the
 * v1.11 layout or the v2 one (v2 = Hydra v2.2/v2.3 semantics, plus v25.4+'s device accept,
 * §9, as the v26.2.0 spec and handler describe it). Tests seed login/consent/logout
 * challenges, drive the app, then assert on what the fake recorded (`calls`, `accepted`,
 * `rejected`, `state`). Faults and latency let tests exercise the unhappy paths.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair, generateSecret } from 'jose';
import type {
  ApiVersion,
  ConsentRequest,
  ConsentSession,
  IntrospectedToken,
  JsonWebKey,
  JsonWebKeySet,
  LoginRequest,
  LogoutRequest,
  OAuth2Client,
  TrustedJwtGrantIssuer,
} from '../../src/hydra/types.js';

export interface FakeHydraOptions {
  /** Default v2. */
  apiVersion?: ApiVersion;
  /** Hydra's public URL, the base of every redirect_to. Default http://hydra.test */
  publicUrl?: string;
}

export interface RecordedCall {
  method: string;
  /** The path as received, `/admin` prefix included. */
  path: string;
  query: Record<string, string | string[]>;
  /** Parsed JSON, a form as an object, the raw text when it did not parse, or undefined when empty. */
  body: unknown;
  headers: IncomingHttpHeaders;
  /** How many earlier calls were still unanswered when this one arrived. */
  concurrent: number;
}

/** One accept or reject: the challenge and the body as the client sent it. */
export interface RecordedFlow {
  challenge: string;
  /** `any` so tests can read fields without casts. */
  body: any;
}

export interface FlowRecords {
  login: RecordedFlow[];
  consent: RecordedFlow[];
  logout: RecordedFlow[];
  /** Device user-code accepts (v2 layout only; there is no device reject). */
  device: RecordedFlow[];
}

export type FakeHydraFault = 'none' | 'error500' | 'error500-once' | 'drop' | 'hang';

export interface FakeHydraState {
  /** Clients as stored, secret included (GET and list never return it). */
  clients: Map<string, OAuth2Client>;
  keySets: Map<string, JsonWebKeySet>;
  issuers: Map<string, TrustedJwtGrantIssuer>;
  /** By subject. */
  consentSessions: Map<string, ConsentSession[]>;
  /** Subjects (or, v2, `sid:<sid>`) whose login sessions were revoked. */
  loginSessionsRevoked: string[];
  /** client_ids whose tokens were deleted. */
  tokensDeletedFor: string[];
  /** Bodies of v1 flush calls. */
  flushed: unknown[];
}

export interface FakeHydra {
  /** Admin base URL, e.g. http://127.0.0.1:PORT */
  url: string;
  apiVersion: ApiVersion;
  /** Stops the server and destroys open sockets (hanging requests included). */
  close(): Promise<void>;
  addLoginRequest(overrides?: Partial<LoginRequest>): string;
  addConsentRequest(overrides?: Partial<ConsentRequest>): string;
  addLogoutRequest(overrides?: Partial<LogoutRequest>): string;
  /**
   * A device challenge, as Hydra v25.4+ puts in urls.device.verification when a browser opens
   * /oauth2/device/verify (§9). v2 layout only. Any unused user code can be accepted with it.
   */
  addDeviceChallenge(): string;
  /**
   * A user code, as a device gets it from /oauth2/device/auth, for `client` (default: a public
   * "TV App", token_endpoint_auth_method none). Default code: 8 characters of Hydra's `high` preset.
   */
  addUserCode(options?: { userCode?: string; client?: OAuth2Client; requested_scope?: string[] }): string;
  /** The user code's lifespan (ttl.device_user_code) has passed. */
  expireUserCode(userCode: string): void;
  /** The user code's device flow has completed; the code can no longer be used. */
  useUserCode(userCode: string): void;
  /** GET, accept and reject of this challenge (login, consent, logout or device) answer 401 request_unauthorized (v2.2+ behaviour, §3). */
  expire(challenge: string): void;
  /** GET of this challenge answers 410 {redirect_to: request_url} (verifier consumed, §3). */
  markHandled(challenge: string): void;
  calls: RecordedCall[];
  accepted: FlowRecords;
  rejected: FlowRecords;
  /** Delays every answer by this many milliseconds. */
  setLatency(ms: number): void;
  /** error500: every route answers 500 (error500-once: only the next request); drop: headers and half a body, then the socket is destroyed; hang: no answer. */
  setFault(fault: FakeHydraFault): void;
  addToken(token: string, introspection: IntrospectedToken): void;
  addConsentSession(subject: string, session: ConsentSession): void;
  state: FakeHydraState;
}

type FlowKind = 'login' | 'consent' | 'logout';
type FlowRequest = LoginRequest | ConsentRequest | LogoutRequest;
interface Flow {
  kind: FlowKind;
  request: FlowRequest;
  expired: boolean;
  handled: boolean;
  /** Set by the first accept/reject; v1 answers 409 to a second one on login (§3). */
  decided: boolean;
}

interface Ctx {
  method: string;
  /** Full path as received (for Link headers). */
  fullPath: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  /** Set when the body was not valid JSON. */
  syntaxError?: string;
}

class Answer {
  constructor(
    readonly status: number,
    readonly body?: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** An error answer; always `{"error","error_description"}` (§3). */
class Failure extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(`${status} ${error}: ${description}`);
  }
}

const fail = (status: number, error: string, description: string): never => {
  throw new Failure(status, error, description);
};
// fosite's invalid_request with Hydra's hint appended; Hydra turns " into ' in descriptions (§3).
const INVALID_REQUEST =
  'The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.';
const invalidRequest = (hint: string) => fail(400, 'invalid_request', `${INVALID_REQUEST} ${hint}`.replaceAll('"', "'"));
// herodot errors pass through Hydra's ErrorEnhancer as error = ErrorField, description = reason (§3).
const badRequest = (reason: string) => fail(400, 'The request was malformed or contained invalid parameters', reason.replaceAll('"', "'"));
const resourceNotFound = () => fail(404, 'Unable to locate the resource', '');
const conflict = () => fail(409, 'Unable to insert or update resource because a resource with that value exists already', '');

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');
const now = () => new Date().toISOString();
const clone = <T>(value: T): T => structuredClone(value);
const jsonKind = (value: unknown) =>
  Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value === 'object' ? 'object' : typeof value;

// Known fields of the strictly decoded bodies (§2 "Request bodies to send"); a nested record is a
// nested struct, which DisallowUnknownFields also checks.
type FieldType = 'string' | 'boolean' | 'number' | 'array' | 'object' | 'any' | { [field: string]: FieldType };
const LOGIN_ACCEPT_V1: Record<string, FieldType> = {
  subject: 'string', remember: 'boolean', remember_for: 'number', acr: 'string', amr: 'array',
  context: 'any', force_subject_identifier: 'string',
};
const LOGIN_ACCEPT_V2: Record<string, FieldType> = { ...LOGIN_ACCEPT_V1, extend_session_lifespan: 'boolean', identity_provider_session_id: 'string' };
const CONSENT_ACCEPT_V1: Record<string, FieldType> = {
  grant_scope: 'array', grant_access_token_audience: 'array', remember: 'boolean', remember_for: 'number',
  session: { access_token: 'any', id_token: 'any' }, handled_at: 'any',
};
const CONSENT_ACCEPT_V2: Record<string, FieldType> = { ...CONSENT_ACCEPT_V1, context: 'any' };
const REJECT: Record<string, FieldType> = {
  error: 'string', error_description: 'string', error_hint: 'string', error_debug: 'string', status_code: 'number',
};

/** What Go's json.Decoder with DisallowUnknownFields would complain about, if anything. */
function goDecodeProblem(ctx: Ctx, struct: string, fields: Record<string, FieldType>): string | undefined {
  if (ctx.syntaxError !== undefined) return ctx.syntaxError;
  if (ctx.body === undefined) return 'EOF';
  return structProblem(ctx.body, struct, fields);
}

function structProblem(value: unknown, struct: string, fields: Record<string, FieldType>): string | undefined {
  if (value === null) return undefined;
  if (!isObject(value)) return `json: cannot unmarshal ${jsonKind(value)} into Go value of type ${struct}`;
  for (const [key, field] of Object.entries(value)) {
    const type = fields[key];
    if (type === undefined) return `json: unknown field "${key}"`;
    if (field === null || type === 'any') continue;
    if (typeof type === 'object') {
      const nested = structProblem(field, `${struct}.${key}`, type);
      if (nested) return nested;
    } else if (jsonKind(field) !== type) {
      return `json: cannot unmarshal ${jsonKind(field)} into Go struct field ${struct}.${key} of type ${type}`;
    }
  }
  return undefined;
}

// v2.0–2.3 page tokens are base64url({"offset":"N","v":2}) (ory/x tokenpagination, §1); a token
// that does not decode means the first page, as there.
const encodePageToken = (offset: number) => Buffer.from(JSON.stringify({ offset: String(offset), v: 2 })).toString('base64url');
function decodePageToken(token: string | null): number | undefined {
  if (!token) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset?: unknown };
    const offset = Number(parsed.offset);
    return Number.isInteger(offset) ? offset : undefined;
  } catch {
    return undefined;
  }
}

const HEALTH_PATHS = new Set(['/health/alive', '/health/ready']);
/** What each real Hydra generates (tried on v1.11.10 and v2.3.0): v1 has no RS384+, PS or ES384; v2 no HS. */
const SUPPORTED_ALGS: Record<ApiVersion, ReadonlySet<string>> = {
  v1: new Set(['RS256', 'ES256', 'ES512', 'EdDSA', 'HS256', 'HS512']),
  v2: new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']),
};
const CLIENT_ARRAYS = ['redirect_uris', 'post_logout_redirect_uris', 'grant_types', 'response_types', 'audience', 'allowed_cors_origins', 'contacts', 'request_uris'] as const;

export async function startFakeHydra(options: FakeHydraOptions = {}): Promise<FakeHydra> {
  const version: ApiVersion = options.apiVersion ?? 'v2';
  const publicUrl = (options.publicUrl ?? 'http://hydra.test').replace(/\/+$/, '');
  const flows = new Map<string, Flow>();
  const tokens = new Map<string, IntrospectedToken>();
  const calls: RecordedCall[] = [];
  const accepted: FlowRecords = { login: [], consent: [], logout: [], device: [] };
  const rejected: FlowRecords = { login: [], consent: [], logout: [], device: [] };
  // Device flow (§9): challenges (the browser's) and user codes (the device's) are independent in
  // Hydra; one is checked against the other only in that the code must be active.
  const deviceChallenges = new Map<string, { expired: boolean }>();
  const userCodes = new Map<string, { client: OAuth2Client; requested_scope: string[]; state: 'unused' | 'used'; expired: boolean }>();
  const state: FakeHydraState = {
    clients: new Map(), keySets: new Map(), issuers: new Map(), consentSessions: new Map(),
    loginSessionsRevoked: [], tokensDeletedFor: [], flushed: [],
  };
  let latency = 0;
  let inFlight = 0;
  let fault: FakeHydraFault = 'none';

  // v2.2+ challenges are long AEAD strings (§4 "Size"); v1 ones are 32 hex digits.
  const newChallenge = () => (version === 'v2' ? randomBytes(120).toString('base64url') : randomBytes(16).toString('hex'));
  const verifierUrl = (path: string, name: string) => `${publicUrl}${path}?${name}=${randomBytes(16).toString('hex')}`;

  // ---- Seeding ------------------------------------------------------------------------------

  function demoClient(): OAuth2Client {
    return withClientDefaults({
      client_id: 'demo-client',
      client_name: 'Demo App',
      redirect_uris: ['http://127.0.0.1:3000/demo/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid offline_access email profile',
      created_at: now(),
      updated_at: now(),
    });
  }
  const requestUrl = () =>
    `${publicUrl}/oauth2/auth?client_id=demo-client&response_type=code&scope=openid+offline_access+email+profile` +
    `&redirect_uri=${encodeURIComponent('http://127.0.0.1:3000/demo/callback')}&state=${randomBytes(8).toString('hex')}`;

  function addFlow<T extends FlowRequest>(kind: FlowKind, defaults: T, overrides: Partial<T>): string {
    const challenge = overrides.challenge ?? newChallenge();
    flows.set(challenge, { kind, request: { ...defaults, ...overrides, challenge }, expired: false, handled: false, decided: false });
    return challenge;
  }

  function flowFor(challenge: string): Flow {
    const flow = flows.get(challenge);
    if (!flow) throw new Error(`fake Hydra: no flow with challenge ${challenge}`);
    return flow;
  }

  // ---- Login, consent, logout (§2, §3, §4) ---------------------------------------------------

  function findFlow(ctx: Ctx): Flow {
    const kind = ctx.params.kind as FlowKind;
    const challenge = ctx.query.get(`${kind}_challenge`) || ctx.query.get('challenge');
    if (!challenge) return invalidRequest(`Query parameter '${kind}_challenge' is not defined but should have been.`);
    const flow = flows.get(challenge);
    if (!flow || flow.kind !== kind) {
      return kind === 'logout' ? resourceNotFound() : fail(404, 'Not Found', 'Unable to locate the requested resource');
    }
    if (flow.expired) {
      fail(401, 'request_unauthorized', `The request could not be authorized. The ${kind} request has expired, please try again.`);
    }
    return flow;
  }

  /** Login bodies fail as invalid_request; consent bodies as the unwrapped "error" (§3). */
  function strictBody(ctx: Ctx, struct: string, fields: Record<string, FieldType>): Record<string, unknown> {
    const problem = goDecodeProblem(ctx, struct, fields);
    if (problem !== undefined) {
      if (ctx.params.kind === 'consent') fail(400, 'error', 'The error is unrecognizable');
      invalidRequest(`Unable to decode body because: ${problem}`);
    }
    return isObject(ctx.body) ? ctx.body : {};
  }

  function getFlow(ctx: Ctx): Answer {
    const flow = findFlow(ctx);
    if (flow.handled) return new Answer(410, { redirect_to: flow.request.request_url });
    return new Answer(200, flow.request);
  }

  function acceptFlow(ctx: Ctx): Answer {
    const flow = findFlow(ctx);
    if (flow.kind === 'login') return acceptLogin(ctx, flow, flow.request as LoginRequest);
    if (flow.kind === 'consent') return acceptConsent(ctx, flow, flow.request as ConsentRequest);
    accepted.logout.push({ challenge: flow.request.challenge ?? '', body: ctx.body });
    return new Answer(200, { redirect_to: verifierUrl('/oauth2/sessions/logout', 'logout_verifier') });
  }

  function acceptLogin(ctx: Ctx, flow: Flow, request: LoginRequest): Answer {
    const body = strictBody(ctx, 'HandledLoginRequest', version === 'v2' ? LOGIN_ACCEPT_V2 : LOGIN_ACCEPT_V1);
    if (typeof body.subject !== 'string' || body.subject === '') invalidRequest("Field 'subject' must not be empty.");
    if (version === 'v1' && flow.decided) conflict();
    // skip=true with another subject: v1 refuses, v2.2+ forces a fresh login (§3).
    const otherSubject = request.skip && body.subject !== request.subject;
    if (otherSubject && version === 'v1') invalidRequest("Field 'subject' does not match subject from previous authentication.");
    flow.decided = true;
    accepted.login.push({ challenge: request.challenge, body });
    if (otherSubject) {
      const separator = request.request_url.includes('?') ? '&' : '?';
      return new Answer(200, { redirect_to: `${request.request_url}${separator}prompt=login` });
    }
    return new Answer(200, { redirect_to: verifierUrl('/oauth2/auth', 'login_verifier') });
  }

  function acceptConsent(ctx: Ctx, flow: Flow, request: ConsentRequest): Answer {
    const body = strictBody(ctx, 'AcceptOAuth2ConsentRequest', version === 'v2' ? CONSENT_ACCEPT_V2 : CONSENT_ACCEPT_V1);
    flow.decided = true;
    accepted.consent.push({ challenge: request.challenge, body });
    rememberConsent(request, body);
    return new Answer(200, { redirect_to: verifierUrl('/oauth2/auth', 'consent_verifier') });
  }

  function rejectFlow(ctx: Ctx): Answer {
    const flow = findFlow(ctx);
    const challenge = flow.request.challenge ?? '';
    if (flow.kind === 'logout') {
      // Logout reject takes no body and answers 204; the challenge is gone afterwards (§3, §4).
      rejected.logout.push({ challenge, body: ctx.body });
      flows.delete(challenge);
      return new Answer(204);
    }
    const body = strictBody(ctx, 'RequestDeniedError', REJECT);
    if (version === 'v1' && flow.kind === 'login' && flow.decided) conflict();
    flow.decided = true;
    rejected[flow.kind].push({ challenge, body });
    return new Answer(200, { redirect_to: verifierUrl('/oauth2/auth', `${flow.kind}_verifier`) });
  }

  /** Handled consents show up in the subject's consent sessions; a re-accept overwrites (§3). */
  function rememberConsent(request: ConsentRequest, body: Record<string, unknown>): void {
    const subject = request.subject ?? '';
    const sessions = (state.consentSessions.get(subject) ?? []).filter((s) => s.consent_request?.challenge !== request.challenge);
    sessions.push({
      grant_scope: (body.grant_scope as string[] | undefined) ?? [],
      grant_access_token_audience: (body.grant_access_token_audience as string[] | undefined) ?? [],
      session: (body.session as ConsentSession['session']) ?? { access_token: {}, id_token: {} },
      remember: body.remember === true,
      remember_for: typeof body.remember_for === 'number' ? body.remember_for : 0,
      handled_at: now(),
      consent_request: clone(request),
      ...(version === 'v2' ? { context: body.context ?? {} } : {}),
    });
    state.consentSessions.set(subject, sessions);
  }

  // ---- Device authorization (§9; Hydra v25.4+/v26.2 consent/handler.go acceptUserCodeRequest) --

  /**
   * PUT /admin/oauth2/auth/requests/device/accept, in the order Hydra checks: the challenge
   * parameter, the body (decoded leniently, unknown fields ignored as on v25.4+), a non-empty
   * user_code, the challenge itself (404 undecryptable, 401 past its age), then the code: unknown,
   * expired or used are all the same 400 invalid_request, as Hydra does not tell them apart.
   */
  function acceptDevice(ctx: Ctx): Answer {
    const challenge = ctx.query.get('device_challenge');
    if (!challenge) return invalidRequest("Query parameter 'device_challenge' is not defined but should have been.");
    if (ctx.syntaxError !== undefined) return invalidRequest(`Unable to decode request body: ${ctx.syntaxError}`);
    if (ctx.body === undefined) return invalidRequest('Unable to decode request body: EOF');
    if (!isObject(ctx.body)) return invalidRequest(`Unable to decode request body: json: cannot unmarshal ${jsonKind(ctx.body)} into Go value of type flow.AcceptDeviceUserCodeRequest`);
    const userCode = ctx.body.user_code;
    if (userCode !== undefined && userCode !== null && typeof userCode !== 'string') {
      return invalidRequest(`Unable to decode request body: json: cannot unmarshal ${jsonKind(userCode)} into Go struct field AcceptDeviceUserCodeRequest.user_code of type string`);
    }
    if (!userCode) return invalidRequest("Field 'user_code' must not be empty.");
    const flow = deviceChallenges.get(challenge);
    if (!flow) return fail(404, 'Not Found', 'Unable to locate the requested resource');
    if (flow.expired) return fail(401, 'request_unauthorized', 'The request could not be authorized. The device request has expired, please try again.');
    // Hydra HMACs the code exactly as sent: no case folding, no trimming.
    const code = userCodes.get(userCode);
    if (!code || code.state !== 'unused' || code.expired) {
      return invalidRequest("The 'user_code' session could not be found or has expired or is otherwise malformed.");
    }
    accepted.device.push({ challenge, body: ctx.body });
    const clientId = code.client.client_id ?? '';
    // The flow's request_url (the verify endpoint) with client_id, then device_verifier (§9).
    const query = new URLSearchParams({ client_id: clientId, device_verifier: randomBytes(16).toString('hex') });
    return new Answer(200, { redirect_to: `${publicUrl}/oauth2/device/verify?${query}` });
  }

  // ---- Pagination (§1 "Pagination") ----------------------------------------------------------

  // We do not copy v2.0–2.3's swapped page/size in the consent-session Link header (§1): no
  // client can work around it, so a faithful copy would only make paging untestable.
  function paginate(ctx: Ctx, items: unknown[]): Answer {
    const int = (name: string) => {
      const value = Number.parseInt(ctx.query.get(name) ?? '', 10);
      return Number.isFinite(value) ? value : undefined;
    };
    const [fallback, max] = version === 'v2' ? [250, 1000] : [100, 500];
    const requested = int(version === 'v2' ? 'page_size' : 'limit');
    const size = requested === undefined || requested < 1 ? fallback : Math.min(requested, max);
    const offset = Math.max(0, (version === 'v2' ? decodePageToken(ctx.query.get('page_token')) : int('offset')) ?? 0);

    const link = (rel: string, at: number) => {
      const query = new URLSearchParams(ctx.query);
      if (version === 'v2') {
        query.set('page_size', String(size));
        query.set('page_token', encodePageToken(at));
      } else {
        query.set('limit', String(size));
        query.set('offset', String(at));
      }
      return `<${ctx.fullPath}?${query}>; rel="${rel}"`;
    };
    const total = items.length;
    const links = [link('first', 0)];
    if (offset + size < total) links.push(link('next', offset + size));
    if (offset > 0) links.push(link('prev', Math.max(0, offset - size)));
    links.push(link('last', total === 0 ? 0 : Math.floor((total - 1) / size) * size));
    return new Answer(200, items.slice(offset, offset + size), { link: links.join(','), 'x-total-count': String(total) });
  }

  // ---- OAuth2 clients (§2 "OAuth2Client") ----------------------------------------------------

  function withClientDefaults(client: OAuth2Client): OAuth2Client {
    const result: OAuth2Client = {
      client_name: '', scope: 'offline_access offline openid', owner: '', policy_uri: '', tos_uri: '', client_uri: '',
      logo_uri: '', client_secret_expires_at: 0, subject_type: 'public', token_endpoint_auth_method: 'client_secret_basic',
      metadata: {}, ...(version === 'v2' ? { skip_consent: false, skip_logout_consent: false } : {}),
      ...client,
    };
    for (const field of CLIENT_ARRAYS) result[field] = client[field] ?? [];
    return result;
  }

  function clientInput(body: unknown): OAuth2Client {
    if (!isObject(body)) return badRequest(`Unable to decode the request body: json: cannot unmarshal ${jsonKind(body)} into Go value of type client.Client`);
    for (const field of CLIENT_ARRAYS) {
      if (body[field] !== undefined && body[field] !== null && !isStringArray(body[field])) {
        badRequest(`Unable to decode the request body: json: cannot unmarshal ${jsonKind(body[field])} into Go struct field Client.${field} of type []string`);
      }
    }
    for (const uri of (body.redirect_uris as string[] | undefined) ?? []) {
      if (!URL.canParse(uri) || uri.includes('#')) {
        fail(400, 'invalid_redirect_uri', `The value of one or more redirect_uris is invalid. Redirect URIs must be absolute URLs without a fragment, got '${uri}'.`);
      }
    }
    if (typeof body.client_secret === 'string' && body.client_secret !== '' && body.client_secret.length < 6) {
      fail(400, 'invalid_client_metadata', 'The value of one of the Client Metadata fields is invalid and the server has rejected this request. Field client_secret must contain a secret that is at least 6 characters long.');
    }
    return body as OAuth2Client;
  }

  /** The secret is returned on create, and on update when the body set a new one (§2). */
  function clientOut(client: OAuth2Client, withSecret: boolean): OAuth2Client {
    const copy = clone(client);
    if (!withSecret) delete copy.client_secret;
    return copy;
  }

  function storedClient(ctx: Ctx): OAuth2Client {
    return state.clients.get(ctx.params.id ?? '') ?? resourceNotFound();
  }

  function createClient(ctx: Ctx): Answer {
    const input = clientInput(ctx.body);
    // v1.11 and v2.2+ accept a chosen client_id (§2); a UUIDv4 otherwise.
    const id = input.client_id || randomUUID();
    if (state.clients.has(id)) conflict();
    const isPublic = input.token_endpoint_auth_method === 'none';
    const client = withClientDefaults({ ...input, client_id: id, created_at: now(), updated_at: now() });
    if (isPublic) delete client.client_secret;
    else client.client_secret = input.client_secret || randomBytes(24).toString('base64url');
    state.clients.set(id, client);
    return new Answer(201, clientOut(client, !isPublic));
  }

  function listClients(ctx: Ctx): Answer {
    const name = ctx.query.get('client_name');
    const owner = ctx.query.get('owner');
    const items = [...state.clients.values()]
      .filter((c) => (!name || c.client_name === name) && (!owner || c.owner === owner))
      .map((c) => clientOut(c, false));
    return paginate(ctx, items);
  }

  function getClient(ctx: Ctx): Answer {
    return new Answer(200, clientOut(storedClient(ctx), false));
  }

  /** PUT replaces the whole client; the id comes from the path (§2). */
  function updateClient(ctx: Ctx): Answer {
    const old = storedClient(ctx);
    const input = clientInput(ctx.body);
    const client = withClientDefaults({ ...input, client_id: old.client_id, created_at: old.created_at, updated_at: now() });
    client.client_secret = input.client_secret || old.client_secret;
    if (client.token_endpoint_auth_method === 'none') delete client.client_secret;
    state.clients.set(old.client_id ?? '', client);
    return new Answer(200, clientOut(client, Boolean(input.client_secret)));
  }

  function patchClient(ctx: Ctx): Answer {
    const old = storedClient(ctx);
    if (!Array.isArray(ctx.body)) return badRequest('Unable to decode the request body: the body must be a JSON Patch array.');
    const patched = applyJsonPatch(clone(old) as Record<string, unknown>, ctx.body, ['/client_id', '/id']);
    const client = withClientDefaults({ ...clientInput(patched), client_id: old.client_id, created_at: old.created_at, updated_at: now() });
    state.clients.set(old.client_id ?? '', client);
    return new Answer(200, clientOut(client, client.client_secret !== old.client_secret));
  }

  function deleteClient(ctx: Ctx): Answer {
    storedClient(ctx);
    state.clients.delete(ctx.params.id ?? '');
    return new Answer(204);
  }

  // ---- JSON Web Keys (§2 "JSONWebKey") -------------------------------------------------------

  /**
   * The keys Hydra stores for one generate call. v2: one key, private parameters included. v1 (as
   * the real v1.11.10 does): a key pair is two keys, `private:<kid>` and `public:<kid>`, the RSA
   * private key without dp/dq/qi and EC/EdDSA keys without alg; a shared secret is one key.
   */
  async function generateKeys(alg: string, kid: string, use: string): Promise<JsonWebKey[]> {
    if (!SUPPORTED_ALGS[version].has(alg)) return fail(400, 'Bad Request', 'Unsupported key algorithm');
    if (alg.startsWith('HS')) return [{ ...(await exportJWK(await generateSecret(alg, { extractable: true }))), kid, alg, use } as JsonWebKey];
    const pair = await generateKeyPair(alg, alg === 'EdDSA' ? { extractable: true, crv: 'Ed25519' } : { extractable: true });
    // Hydra's admin API hands out the private parameters of keys it generates.
    const privateJwk = await exportJWK(pair.privateKey);
    if (version === 'v2') return [{ ...privateJwk, kid, alg, use } as JsonWebKey];
    const { dp: _dp, dq: _dq, qi: _qi, ...v1Private } = privateJwk;
    const v1Alg = privateJwk.kty === 'RSA' ? { alg } : {};
    return [
      { use, ...v1Private, kid: `private:${kid}`, ...v1Alg } as JsonWebKey,
      { use, ...(await exportJWK(pair.publicKey)), kid: `public:${kid}`, ...v1Alg } as JsonWebKey,
    ];
  }

  function storedSet(ctx: Ctx): JsonWebKeySet {
    const set = state.keySets.get(ctx.params.set ?? '');
    return set && set.keys.length > 0 ? set : resourceNotFound();
  }

  function jwkInput(value: unknown): JsonWebKey {
    if (!isObject(value) || typeof value.kty !== 'string' || value.kty === '') {
      return badRequest('Unable to decode the request body: a JSON Web Key needs at least kty.');
    }
    return value as unknown as JsonWebKey;
  }

  async function createKeySet(ctx: Ctx): Promise<Answer> {
    const body = isObject(ctx.body) ? ctx.body : badRequest('Unable to decode the request body: expected {alg, kid, use}.');
    for (const field of ['alg', 'kid', 'use'] as const) {
      if (typeof body[field] !== 'string' || body[field] === '') invalidRequest(`Field '${field}' is required.`);
    }
    if (body.use !== 'sig' && body.use !== 'enc') invalidRequest("Field 'use' must be 'sig' or 'enc'.");
    const name = ctx.params.set ?? '';
    const set = state.keySets.get(name) ?? { keys: [] };
    const keys = await generateKeys(body.alg as string, body.kid as string, body.use as string);
    if (set.keys.some((k) => keys.some((key) => key.kid === k.kid))) conflict();
    set.keys.push(...keys);
    state.keySets.set(name, set);
    return new Answer(201, { keys: keys.map(clone) });
  }

  function getKeySet(ctx: Ctx): Answer {
    return new Answer(200, clone(storedSet(ctx)));
  }

  function updateKeySet(ctx: Ctx): Answer {
    const body = ctx.body;
    if (!isObject(body) || !Array.isArray(body.keys)) return badRequest('Unable to decode the request body: expected {keys: [...]}.');
    const set: JsonWebKeySet = { keys: body.keys.map(jwkInput) };
    state.keySets.set(ctx.params.set ?? '', set);
    return new Answer(200, clone(set));
  }

  /** Real v1.11.10 and v2.3.0 answer 204 for a set that does not exist, too. */
  function deleteKeySet(ctx: Ctx): Answer {
    state.keySets.delete(ctx.params.set ?? '');
    return new Answer(204);
  }

  /** GET of one key still answers a set (§2). */
  function getKey(ctx: Ctx): Answer {
    const key = storedSet(ctx).keys.find((k) => k.kid === ctx.params.kid) ?? resourceNotFound();
    return new Answer(200, { keys: [clone(key)] });
  }

  function updateKey(ctx: Ctx): Answer {
    const name = ctx.params.set ?? '';
    const key = { ...jwkInput(ctx.body), kid: ctx.params.kid ?? '' };
    const set = state.keySets.get(name) ?? { keys: [] };
    set.keys = [...set.keys.filter((k) => k.kid !== key.kid), key];
    state.keySets.set(name, set);
    return new Answer(200, clone(key));
  }

  /** Real v1.11.10 and v2.3.0 answer 204 for a key or set that does not exist, too. */
  function deleteKey(ctx: Ctx): Answer {
    const set = state.keySets.get(ctx.params.set ?? '');
    if (!set) return new Answer(204);
    set.keys = set.keys.filter((k) => k.kid !== ctx.params.kid);
    if (set.keys.length === 0) state.keySets.delete(ctx.params.set ?? '');
    return new Answer(204);
  }

  // ---- Trusted JWT-grant issuers (§2 "TrustJwtGrantIssuerBody") --------------------------------

  function trustIssuer(ctx: Ctx): Answer {
    const body = isObject(ctx.body) ? ctx.body : badRequest(`Unable to decode the request body: json: cannot unmarshal ${jsonKind(ctx.body)} into Go value of type trust.createGrantRequest`);
    if (typeof body.issuer !== 'string' || body.issuer === '') invalidRequest("Field 'issuer' is required.");
    const subject = typeof body.subject === 'string' ? body.subject : '';
    const anySubject = body.allow_any_subject === true;
    if (!subject && !anySubject) invalidRequest("One of 'subject' or 'allow_any_subject' field must be set.");
    if (subject && anySubject) invalidRequest("Both 'subject' and 'allow_any_subject' fields cannot be set at the same time.");
    if (!isStringArray(body.scope)) invalidRequest("Field 'scope' is required and must be an array of strings.");
    if (typeof body.expires_at !== 'string' || Number.isNaN(Date.parse(body.expires_at))) invalidRequest("Field 'expires_at' is required.");
    const jwk = isObject(body.jwk) ? body.jwk : invalidRequest("Field 'jwk' is required.");
    if (typeof jwk.kid !== 'string' || jwk.kid === '') invalidRequest("Field 'jwk' must contain JWK with kid.");
    if (jwk.d !== undefined || jwk.kty === 'oct') invalidRequest("Field 'jwk' must contain a public key.");
    const issuer = body.issuer as string;
    const kid = jwk.kid as string;
    for (const existing of state.issuers.values()) {
      if (existing.issuer === issuer && existing.subject === subject && existing.public_key.kid === kid) conflict();
    }
    const grant: TrustedJwtGrantIssuer = {
      id: randomUUID(), issuer, subject, allow_any_subject: anySubject, scope: body.scope as string[],
      public_key: { set: issuer, kid }, created_at: now(), expires_at: new Date(body.expires_at as string).toISOString(),
    };
    state.issuers.set(grant.id, grant);
    // Hydra keeps the issuer's key in a key set named after the issuer.
    const set = state.keySets.get(issuer) ?? { keys: [] };
    set.keys = [...set.keys.filter((k) => k.kid !== kid), jwk as unknown as JsonWebKey];
    state.keySets.set(issuer, set);
    return new Answer(201, clone(grant));
  }

  function listIssuers(ctx: Ctx): Answer {
    const issuer = ctx.query.get('issuer');
    return paginate(ctx, [...state.issuers.values()].filter((g) => !issuer || g.issuer === issuer).map(clone));
  }

  function getIssuer(ctx: Ctx): Answer {
    return new Answer(200, clone(state.issuers.get(ctx.params.id ?? '') ?? resourceNotFound()));
  }

  function deleteIssuer(ctx: Ctx): Answer {
    const grant = state.issuers.get(ctx.params.id ?? '') ?? resourceNotFound();
    state.issuers.delete(grant.id);
    const set = state.keySets.get(grant.issuer);
    if (set) {
      set.keys = set.keys.filter((k) => k.kid !== grant.public_key.kid);
      if (set.keys.length === 0) state.keySets.delete(grant.issuer);
    }
    return new Answer(204);
  }

  // ---- Sessions (§1 "List consent sessions", "Revoke consent", "Revoke login session") --------

  function listConsentSessions(ctx: Ctx): Answer {
    const subject = ctx.query.get('subject') || invalidRequest("Parameter 'subject' is not defined but should have been.");
    const loginSessionId = ctx.query.get('login_session_id');
    const sessions = (state.consentSessions.get(subject) ?? []).filter(
      (s) => !loginSessionId || s.consent_request?.login_session_id === loginSessionId,
    );
    return paginate(ctx, sessions.map(clone));
  }

  function revokeConsentSessions(ctx: Ctx): Answer {
    const subject = ctx.query.get('subject') || invalidRequest("Parameter 'subject' is not defined but should have been.");
    const client = ctx.query.get('client');
    const all = ctx.query.get('all') === 'true';
    if (!client && !all) invalidRequest("Parameter 'client' is not defined but should have been.");
    const kept = all ? [] : (state.consentSessions.get(subject) ?? []).filter((s) => s.consent_request?.client?.client_id !== client);
    if (kept.length > 0) state.consentSessions.set(subject, kept);
    else state.consentSessions.delete(subject);
    return new Answer(204);
  }

  function revokeLoginSessions(ctx: Ctx): Answer {
    const subject = ctx.query.get('subject');
    const sid = version === 'v2' ? ctx.query.get('sid') : null; // sid exists from v2.1 (§1)
    if (!subject && !sid) invalidRequest("Parameter 'subject' is not defined but should have been.");
    state.loginSessionsRevoked.push(subject || `sid:${sid}`);
    return new Answer(204);
  }

  // ---- Tokens (§1, §2 "OAuth2TokenIntrospection") ----------------------------------------------

  function deleteTokens(ctx: Ctx): Answer {
    const clientId = ctx.query.get('client_id') || invalidRequest("Parameter 'client_id' is not defined but should have been.");
    state.tokensDeletedFor.push(clientId);
    for (const [token, info] of tokens) if (info.client_id === clientId) tokens.delete(token);
    return new Answer(204);
  }

  function introspect(ctx: Ctx): Answer {
    const form = isObject(ctx.body) ? ctx.body : {};
    if (Object.keys(form).length === 0) invalidRequest('The POST body can not be empty.');
    const token = typeof form.token === 'string' ? form.token : '';
    if (!token) invalidRequest('Unable to find token in the request.');
    const info = tokens.get(token);
    const wanted = typeof form.scope === 'string' ? form.scope.split(' ').filter(Boolean) : [];
    const granted = new Set((info?.scope ?? '').split(' '));
    // Unknown, inactive or lacking a requested scope: 200 {"active":false} (§2).
    if (!info || !info.active || !wanted.every((s) => granted.has(s))) return new Answer(200, { active: false });
    return new Answer(200, clone(info));
  }

  /** v1 only; v2 removed it in favour of `hydra janitor` (§1). */
  function flush(ctx: Ctx): Answer {
    if (ctx.syntaxError !== undefined) badRequest(`Unable to decode the request body: ${ctx.syntaxError}`);
    const body = ctx.body ?? {};
    if (!isObject(body)) return badRequest(`Unable to decode the request body: json: cannot unmarshal ${jsonKind(body)} into Go value of type oauth2.FlushInactiveOAuth2TokensRequest`);
    if (body.notAfter !== undefined && (typeof body.notAfter !== 'string' || Number.isNaN(Date.parse(body.notAfter)))) {
      badRequest('Unable to decode the request body: notAfter must be an RFC 3339 date-time.');
    }
    state.flushed.push(body);
    return new Answer(204);
  }

  // ---- Routing -------------------------------------------------------------------------------

  type Handler = (ctx: Ctx) => Answer | Promise<Answer>;
  // Paths are the v1 ones; a v2 fake serves them under /admin (§1).
  const routes: Array<[method: string, path: string, handler: Handler, only?: ApiVersion]> = [
    ['GET', '/oauth2/auth/requests/:kind', getFlow],
    ['PUT', '/oauth2/auth/requests/:kind/accept', acceptFlow],
    ['PUT', '/oauth2/auth/requests/:kind/reject', rejectFlow],
    ['PUT', '/oauth2/auth/requests/device/accept', acceptDevice, 'v2'],
    ['GET', '/clients', listClients],
    ['POST', '/clients', createClient],
    ['GET', '/clients/:id', getClient],
    ['PUT', '/clients/:id', updateClient],
    ['PATCH', '/clients/:id', patchClient],
    ['DELETE', '/clients/:id', deleteClient],
    ['POST', '/keys/:set', createKeySet],
    ['GET', '/keys/:set', getKeySet],
    ['PUT', '/keys/:set', updateKeySet],
    ['DELETE', '/keys/:set', deleteKeySet],
    ['GET', '/keys/:set/:kid', getKey],
    ['PUT', '/keys/:set/:kid', updateKey],
    ['DELETE', '/keys/:set/:kid', deleteKey],
    ['DELETE', '/oauth2/tokens', deleteTokens],
    ['POST', '/oauth2/introspect', introspect],
    ['POST', '/oauth2/flush', flush, 'v1'],
    ['GET', '/oauth2/auth/sessions/consent', listConsentSessions],
    ['DELETE', '/oauth2/auth/sessions/consent', revokeConsentSessions],
    ['DELETE', '/oauth2/auth/sessions/login', revokeLoginSessions],
    ['POST', '/trust/grants/jwt-bearer/issuers', trustIssuer],
    ['GET', '/trust/grants/jwt-bearer/issuers', listIssuers],
    ['GET', '/trust/grants/jwt-bearer/issuers/:id', getIssuer],
    ['DELETE', '/trust/grants/jwt-bearer/issuers/:id', deleteIssuer],
  ];

  function match(pattern: string, path: string): Record<string, string> | undefined {
    const want = pattern.split('/');
    const got = path.split('/');
    if (want.length !== got.length) return undefined;
    const params: Record<string, string> = {};
    for (const [i, segment] of want.entries()) {
      const value = got[i] ?? '';
      if (segment.startsWith(':')) {
        if (value === '') return undefined;
        params[segment.slice(1)] = value;
      } else if (segment !== value) return undefined;
    }
    if (params.kind !== undefined && !['login', 'consent', 'logout'].includes(params.kind)) return undefined;
    return params;
  }

  async function route(method: string, rawPath: string, ctx: Omit<Ctx, 'params'>): Promise<Answer> {
    // Go decodes the path before httprouter matches it (req.URL.Path), so an id holding an
    // encoded "/" (a key set named after an issuer URL, say) cannot be reached on v1.11–v2.3.
    let pathname: string;
    try {
      pathname = decodeURIComponent(rawPath);
    } catch {
      return badRequest(`invalid URL escape in ${rawPath}`);
    }
    if (HEALTH_PATHS.has(pathname)) return new Answer(200, { status: 'ok' });
    const noRoute = () =>
      fail(404, 'Not Found', `fake Hydra (${version} layout) has no route ${method} ${pathname}`);
    // Real v2.0–2.3 answer 307 to unprefixed paths and v25+ rewrite them (§1); the fake says 404
    // so that a missing or extra prefix fails loudly. v1 has no /admin routes at all.
    const isAdmin = pathname === '/admin' || pathname.startsWith('/admin/');
    if (version === 'v2' ? !isAdmin : isAdmin) return noRoute();
    const path = version === 'v2' ? pathname.slice('/admin'.length) : pathname;
    let pathMatched = false;
    for (const [routeMethod, pattern, handler, only] of routes) {
      if (only && only !== version) continue;
      const params = match(pattern, path);
      if (!params) continue;
      pathMatched = true;
      if (routeMethod === method) return handler({ ...ctx, params });
    }
    return pathMatched ? fail(405, 'Method Not Allowed', `${method} is not allowed on ${pathname}`) : noRoute();
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  function parseBody(req: IncomingMessage, raw: string): Pick<Ctx, 'body' | 'syntaxError'> {
    if (raw === '') return { body: undefined };
    if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return { body: Object.fromEntries(new URLSearchParams(raw)) };
    }
    // Hydra decodes JSON whatever the Content-Type says.
    try {
      return { body: JSON.parse(raw) as unknown };
    } catch {
      return { body: raw, syntaxError: 'invalid character looking for beginning of value' };
    }
  }

  function send(res: ServerResponse, answer: Answer): void {
    if (res.destroyed || res.headersSent) return;
    if (answer.body === undefined) {
      res.writeHead(answer.status, answer.headers).end();
      return;
    }
    const text = JSON.stringify(answer.body);
    res
      .writeHead(answer.status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(text)),
        ...answer.headers,
      })
      .end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake-hydra.invalid');
    const method = req.method ?? 'GET';
    const parsed = parseBody(req, raw);
    const query: Record<string, string | string[]> = {};
    for (const key of new Set(url.searchParams.keys())) {
      const values = url.searchParams.getAll(key);
      query[key] = values.length === 1 ? (values[0] ?? '') : values;
    }
    calls.push({ method, path: url.pathname, query, body: parsed.body, headers: req.headers, concurrent: inFlight });
    inFlight += 1;
    res.once('close', () => (inFlight -= 1));

    if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
    if (fault === 'hang' || res.destroyed) return; // close() destroys the socket
    if (fault === 'drop') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
      res.write('{"redirect_to":"http', () => res.socket?.destroy());
      return;
    }
    if (fault === 'error500' || fault === 'error500-once') {
      if (fault === 'error500-once') fault = 'none';
      send(res, new Answer(500, {
        error: 'server_error',
        error_description: 'The authorization server encountered an unexpected condition that prevented it from fulfilling the request.',
      }));
      return;
    }
    try {
      send(res, await route(method, url.pathname, { method, fullPath: url.pathname, query: url.searchParams, ...parsed }));
    } catch (err) {
      if (err instanceof Failure) send(res, new Answer(err.status, { error: err.error, error_description: err.description }));
      else send(res, new Answer(500, { error: 'server_error', error_description: `fake Hydra crashed: ${String(err)}` }));
    }
  }

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, new Answer(500, { error: 'server_error', error_description: String(err) }));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    apiVersion: version,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    addLoginRequest(overrides = {}) {
      const defaults: LoginRequest = {
        challenge: '', skip: false, subject: '', client: demoClient(), request_url: requestUrl(),
        requested_scope: ['openid', 'offline_access', 'email', 'profile'], requested_access_token_audience: [],
        session_id: randomUUID(), oidc_context: {},
      };
      return addFlow('login', defaults, overrides);
    },
    addConsentRequest(overrides = {}) {
      const defaults: ConsentRequest = {
        challenge: '', skip: false, subject: 'foo@bar.com', client: demoClient(), request_url: requestUrl(),
        requested_scope: ['openid', 'offline_access', 'email', 'profile'], requested_access_token_audience: [],
        oidc_context: {}, login_challenge: newChallenge(), login_session_id: randomUUID(), acr: '0', amr: [], context: {},
      };
      return addFlow('consent', defaults, overrides);
    },
    addLogoutRequest(overrides = {}) {
      const defaults: LogoutRequest = {
        challenge: '', subject: 'foo@bar.com', sid: randomUUID(), request_url: `${publicUrl}/oauth2/sessions/logout`,
        rp_initiated: false, client: null,
        // v2.3+ also tells when the request was made and when it expires (§2).
        ...(version === 'v2' ? { requested_at: now(), expires_at: new Date(Date.now() + 30 * 60_000).toISOString() } : {}),
      };
      return addFlow('logout', defaults, overrides);
    },
    addDeviceChallenge() {
      if (version !== 'v2') throw new Error('fake Hydra: the device flow exists on the v2 layout only (Hydra v25.4+)');
      const challenge = newChallenge();
      deviceChallenges.set(challenge, { expired: false });
      return challenge;
    },
    addUserCode(options = {}) {
      const HIGH = 'abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679';
      const userCode = options.userCode ?? Array.from(randomBytes(8), (byte) => HIGH[byte % HIGH.length]).join('');
      const client = options.client ?? withClientDefaults({
        client_id: 'tv-app', client_name: 'TV App', token_endpoint_auth_method: 'none',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'], scope: 'openid offline_access email profile',
        created_at: now(), updated_at: now(),
      });
      userCodes.set(userCode, { client, requested_scope: options.requested_scope ?? ['openid', 'offline_access'], state: 'unused', expired: false });
      return userCode;
    },
    expireUserCode(userCode) {
      const code = userCodes.get(userCode);
      if (!code) throw new Error(`fake Hydra: no user code ${userCode}`);
      code.expired = true;
    },
    useUserCode(userCode) {
      const code = userCodes.get(userCode);
      if (!code) throw new Error(`fake Hydra: no user code ${userCode}`);
      code.state = 'used';
    },
    expire(challenge) {
      const device = deviceChallenges.get(challenge);
      if (device) device.expired = true;
      else flowFor(challenge).expired = true;
    },
    markHandled(challenge) {
      flowFor(challenge).handled = true;
    },
    calls,
    accepted,
    rejected,
    setLatency(ms) {
      latency = ms;
    },
    setFault(next) {
      fault = next;
    },
    addToken(token, introspection) {
      tokens.set(token, clone(introspection));
    },
    addConsentSession(subject, session) {
      state.consentSessions.set(subject, [...(state.consentSessions.get(subject) ?? []), clone(session)]);
    },
    state,
  };
}

// ---- JSON Patch (RFC 6902), enough for PATCH /clients/{id} --------------------------------------

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) return badRequest(`invalid JSON pointer: ${path}`);
  return path.slice(1).split('/').map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function parentOf(doc: unknown, path: string): [container: Record<string, unknown> | unknown[], key: string] {
  const parts = pointer(path);
  const key = parts.pop();
  if (key === undefined) return badRequest('patch may not replace the whole document');
  let node: unknown = doc;
  for (const part of parts) {
    node = Array.isArray(node) ? node[Number(part)] : isObject(node) ? node[part] : undefined;
    if (node === undefined) return badRequest(`patch path does not exist: ${path}`);
  }
  if (!Array.isArray(node) && !isObject(node)) return badRequest(`patch path does not exist: ${path}`);
  return [node, key];
}

function getAt(doc: unknown, path: string): unknown {
  const [container, key] = parentOf(doc, path);
  const value = Array.isArray(container) ? container[Number(key)] : container[key];
  return value === undefined ? badRequest(`patch path does not exist: ${path}`) : value;
}

function addAt(doc: unknown, path: string, value: unknown): void {
  const [container, key] = parentOf(doc, path);
  if (!Array.isArray(container)) container[key] = value;
  else if (key === '-') container.push(value);
  else {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index > container.length) badRequest(`patch index out of range: ${path}`);
    container.splice(index, 0, value);
  }
}

function removeAt(doc: unknown, path: string): void {
  getAt(doc, path);
  const [container, key] = parentOf(doc, path);
  if (Array.isArray(container)) container.splice(Number(key), 1);
  else delete container[key];
}

function applyJsonPatch(doc: Record<string, unknown>, operations: unknown[], denied: string[]): Record<string, unknown> {
  for (const operation of operations) {
    if (!isObject(operation) || typeof operation.op !== 'string' || typeof operation.path !== 'string') {
      return badRequest('every patch operation needs op and path');
    }
    const { op, path, from, value } = operation;
    for (const target of [path, from]) {
      if (typeof target === 'string' && denied.some((d) => target === d || target.startsWith(`${d}/`))) {
        badRequest(`patch includes denied path: ${target}`);
      }
    }
    switch (op) {
      case 'add': addAt(doc, path, clone(value)); break;
      case 'remove': removeAt(doc, path); break;
      case 'replace': removeAt(doc, path); addAt(doc, path, clone(value)); break;
      case 'move': { const moved = getAt(doc, String(from)); removeAt(doc, String(from)); addAt(doc, path, moved); break; }
      case 'copy': addAt(doc, path, clone(getAt(doc, String(from)))); break;
      case 'test':
        if (JSON.stringify(getAt(doc, path)) !== JSON.stringify(value)) badRequest(`patch test failed at ${path}`);
        break;
      default: badRequest(`unsupported patch operation: ${op}`);
    }
  }
  return doc;
}
