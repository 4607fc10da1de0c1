import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { decodeJwt, type JWTPayload } from 'jose';

/**
 * An HTTP-level OAuth2/OIDC user agent for the end-to-end suites: a cookie jar, manual redirects,
 * and just enough HTML form handling to press our pages' buttons the way a browser would.
 */

// ---------------------------------------------------------------------------------------------
// Cookie jar

interface StoredCookie {
  name: string;
  value: string;
  path: string;
  /** epoch ms; undefined for a session cookie */
  expires?: number;
}

/**
 * Cookies keyed by host:port (an origin-level jar; a browser would share cookies across ports
 * of one host, which only matters if two servers used the same cookie name). Honours name,
 * value, Path, Expires and Max-Age; Domain, Secure and SameSite are irrelevant on plain loopback.
 */
export class CookieJar {
  private readonly byHost = new Map<string, Map<string, StoredCookie>>();

  store(url: string | URL, setCookieHeaders: readonly string[]): void {
    const u = new URL(url);
    let cookies = this.byHost.get(u.host);
    if (cookies === undefined) {
      cookies = new Map();
      this.byHost.set(u.host, cookies);
    }
    for (const header of setCookieHeaders) {
      const [pair = '', ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie: StoredCookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        path: defaultPath(u.pathname),
      };
      let maxAge: number | undefined;
      for (const attribute of attributes) {
        const [rawKey = '', ...rest] = attribute.split('=');
        const key = rawKey.trim().toLowerCase();
        const value = rest.join('=').trim();
        if (key === 'path' && value.startsWith('/')) cookie.path = value;
        else if (key === 'max-age' && /^-?\d+$/.test(value)) maxAge = Number(value);
        else if (key === 'expires') {
          const at = Date.parse(value);
          if (!Number.isNaN(at)) cookie.expires = at;
        }
      }
      // Max-Age wins over Expires (RFC 6265 §5.3 step 3).
      if (maxAge !== undefined) cookie.expires = Date.now() + maxAge * 1000;
      const key = `${cookie.name}\u0000${cookie.path}`;
      if (cookie.expires !== undefined && cookie.expires <= Date.now()) cookies.delete(key);
      else cookies.set(key, cookie);
    }
  }

  private matching(url: string | URL): StoredCookie[] {
    const u = new URL(url);
    const cookies = this.byHost.get(u.host);
    if (cookies === undefined) return [];
    const now = Date.now();
    const found: StoredCookie[] = [];
    for (const [key, cookie] of cookies) {
      if (cookie.expires !== undefined && cookie.expires <= now) {
        cookies.delete(key);
        continue;
      }
      if (pathMatches(u.pathname, cookie.path)) found.push(cookie);
    }
    // Longer paths first, as browsers send them.
    return found.sort((a, b) => b.path.length - a.path.length);
  }

  /** The Cookie header for a request to url, or undefined. */
  header(url: string | URL): string | undefined {
    const cookies = this.matching(url);
    return cookies.length === 0 ? undefined : cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  }

  get(url: string | URL, name: string): string | undefined {
    return this.matching(url).find((c) => c.name === name)?.value;
  }

  names(url: string | URL): string[] {
    return this.matching(url).map((c) => c.name);
  }

  clear(): void {
    this.byHost.clear();
  }
}

function defaultPath(requestPath: string): string {
  if (!requestPath.startsWith('/')) return '/';
  const slash = requestPath.lastIndexOf('/');
  return slash <= 0 ? '/' : requestPath.slice(0, slash);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

// ---------------------------------------------------------------------------------------------
// HTML forms (only what our EJS views produce: attributes in quotes, entities escaped by EJS)

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return Number.isNaN(code) ? whole : String.fromCodePoint(code);
    }
    return ENTITIES[body.toLowerCase()] ?? whole;
  });
}

function attributes(tag: string): Map<string, string> {
  const attrs = new Map<string, string>();
  const re = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  // Skip the tag name itself.
  const body = tag.replace(/^<\s*[a-z0-9]+/i, '').replace(/\/?>$/, '');
  for (const m of body.matchAll(re)) {
    attrs.set(m[1]!.toLowerCase(), decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return attrs;
}

export interface FormControl {
  tag: 'input' | 'button' | 'textarea' | 'select';
  type: string;
  name?: string;
  value: string;
  id?: string;
  checked: boolean;
}

export interface HtmlForm {
  method: string;
  /** Resolved against the page URL. */
  action: URL;
  controls: FormControl[];
}

/** Every <form> on the page with its controls. */
export function parseForms(html: string, pageUrl: URL): HtmlForm[] {
  const forms: HtmlForm[] = [];
  for (const m of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/gi)) {
    const formTag = m[0].slice(0, m[0].indexOf('>') + 1);
    const formAttrs = attributes(formTag);
    const controls: FormControl[] = [];
    for (const c of m[1]!.matchAll(/<(input|button|textarea|select)\b[^>]*>/gi)) {
      const tag = c[1]!.toLowerCase() as FormControl['tag'];
      const a = attributes(c[0]);
      const type = (a.get('type') ?? (tag === 'button' ? 'submit' : 'text')).toLowerCase();
      let value = a.get('value') ?? '';
      if (tag === 'textarea') {
        const rest = m[1]!.slice(c.index! + c[0].length);
        value = decodeEntities(rest.slice(0, rest.search(/<\/textarea>/i)));
      }
      if ((type === 'checkbox' || type === 'radio') && !a.has('value')) value = 'on';
      controls.push({ tag, type, name: a.get('name'), value, id: a.get('id'), checked: a.has('checked') });
    }
    const action = formAttrs.get('action');
    forms.push({
      method: (formAttrs.get('method') ?? 'get').toUpperCase(),
      action: new URL(action === undefined || action === '' ? pageUrl.href : action, pageUrl),
      controls,
    });
  }
  return forms;
}

// ---------------------------------------------------------------------------------------------
// Test clients and Hydra's admin API (direct; the admin suite goes through our /admin instead)

export interface TestClient {
  client_id: string;
  client_secret: string;
  redirect_uri: string;
  post_logout_redirect_uri: string;
  scope: string;
}

/** URLs nothing listens on: the driver stops at any redirect that leaves the app and Hydra. */
export const CALLBACK_URL = 'http://127.0.0.1:9/callback';
export const POST_LOGOUT_URL = 'http://127.0.0.1:9/logged-out';

export function clientBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_name: 'e2e',
    redirect_uris: [CALLBACK_URL],
    post_logout_redirect_uris: [POST_LOGOUT_URL],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid offline_access email profile',
    token_endpoint_auth_method: 'client_secret_basic',
    ...overrides,
  };
}

/** A TestClient from a Hydra client JSON as Hydra (or our /admin API) returns it on create. */
export function toTestClient(created: Record<string, unknown>): TestClient {
  const redirectUris = created.redirect_uris as string[] | undefined;
  const postLogout = created.post_logout_redirect_uris as string[] | undefined;
  if (typeof created.client_id !== 'string' || typeof created.client_secret !== 'string') {
    throw new Error(`not a created client with a secret: ${JSON.stringify(created)}`);
  }
  return {
    client_id: created.client_id,
    client_secret: created.client_secret,
    redirect_uri: redirectUris?.[0] ?? CALLBACK_URL,
    post_logout_redirect_uri: postLogout?.[0] ?? POST_LOGOUT_URL,
    scope: typeof created.scope === 'string' ? created.scope : '',
  };
}

async function expectJson(res: Response, what: string, status: number): Promise<any> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status}: ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

/** Hydra's own admin API, straight (no app in between): a HydraInstance is one. */
export interface HydraAdminApi {
  /** adminUrl plus the layout's prefix: /admin on v2, nothing on v1. */
  adminApiUrl: string;
}

/** Registers a client straight through Hydra's admin API, in the layout of that Hydra. */
export async function createHydraClient(hydra: HydraAdminApi, overrides: Record<string, unknown> = {}): Promise<TestClient> {
  const res = await fetch(`${hydra.adminApiUrl}/clients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(clientBody(overrides)),
  });
  return toTestClient(await expectJson(res, 'create client', 201));
}

export interface Introspection {
  active: boolean;
  scope?: string;
  sub?: string;
  client_id?: string;
  [key: string]: unknown;
}

/** Hydra's own introspection endpoint, as ground truth. */
export async function introspectAtHydra(hydra: HydraAdminApi, token: string): Promise<Introspection> {
  const res = await fetch(`${hydra.adminApiUrl}/oauth2/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  return expectJson(res, 'introspect', 200);
}

// ---------------------------------------------------------------------------------------------
// The driver

export type PageKind = 'login' | 'consent' | 'logout' | 'error' | 'callback' | 'other';

export interface Landing {
  /** Which of our pages we landed on; `callback` = a redirect leaving app and Hydra (not fetched). */
  kind: PageKind;
  url: URL;
  /** Status of the last response (for `callback`, of the redirect that pointed there). */
  status: number;
  /** Body of the last response ('' for `callback`). */
  html: string;
  /** For `callback`: query (or fragment) parameters, e.g. code, state, error. */
  params: URLSearchParams;
  /** Headers of the last response (for `callback`, of the redirect). */
  headers: Headers;
  /** Every URL requested on the way, for failure messages. */
  trail: string[];
}

export interface Authorization {
  landing: Landing;
  url: URL;
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface AuthorizationOptions {
  client: TestClient;
  scope: string;
  prompt?: string;
  /** More query parameters (max_age, login_hint, audience, …); they override the defaults. */
  extra?: Record<string, string>;
}

/** An /oauth2/auth URL with fresh PKCE (S256), state and nonce; also for the browser suite. */
export function authorizationRequest(hydraPublicUrl: string, options: AuthorizationOptions): Omit<Authorization, 'landing'> {
  const codeVerifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const url = new URL(`${hydraPublicUrl.replace(/\/+$/, '')}/oauth2/auth`);
  const q = url.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', options.client.client_id);
  q.set('redirect_uri', options.client.redirect_uri);
  q.set('scope', options.scope);
  q.set('state', state);
  q.set('nonce', nonce);
  q.set('code_challenge', createHash('sha256').update(codeVerifier).digest('base64url'));
  q.set('code_challenge_method', 'S256');
  if (options.prompt !== undefined) q.set('prompt', options.prompt);
  for (const [key, value] of Object.entries(options.extra ?? {})) q.set(key, value);
  return { url, state, nonce, codeVerifier };
}

/** Hydra's RP-initiated logout URL. */
export function logoutUrl(
  hydraPublicUrl: string,
  options: { idToken?: string; postLogoutRedirectUri?: string; state?: string } = {},
): URL {
  const url = new URL(`${hydraPublicUrl.replace(/\/+$/, '')}/oauth2/sessions/logout`);
  if (options.idToken !== undefined) url.searchParams.set('id_token_hint', options.idToken);
  if (options.postLogoutRedirectUri !== undefined) url.searchParams.set('post_logout_redirect_uri', options.postLogoutRedirectUri);
  if (options.state !== undefined) url.searchParams.set('state', options.state);
  return url;
}

export interface TokenSet {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  id_token?: string;
  refresh_token?: string;
  /** Decoded (not verified: the token came straight from Hydra's token endpoint) ID token claims. */
  claims?: JWTPayload & Record<string, unknown>;
}

export interface DriverOptions {
  /** Hydra's public URL, with or without a trailing slash. */
  hydraPublicUrl: string;
  /** The app's base URL (origin + optional base path). */
  appBaseUrl: string;
  /** Per-request timeout; default 15 s. */
  timeoutMs?: number;
}

export type Action = 'accept' | 'reject';

export const DEMO_USER = { email: 'foo@bar.com', password: 'foobar' } as const;

/** A URL with long values (v2.2+ challenges are ~1.5 KB) cut short, for messages. */
export function shortUrl(url: string): string {
  return url.replace(/=([^&#\s]{40})[^&#\s]+/g, '=$1…');
}

export function describeLanding(l: Landing): string {
  const text = l.html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 400);
  return `${l.kind} ${l.status} ${shortUrl(l.url.href)}\n  trail: ${l.trail.map(shortUrl).join(' -> ')}\n  text: ${text}`;
}

export class OAuthDriver {
  readonly jar = new CookieJar();
  readonly hydraPublicUrl: string;
  readonly appBaseUrl: string;
  private readonly timeoutMs: number;

  constructor(options: DriverOptions) {
    this.hydraPublicUrl = options.hydraPublicUrl.replace(/\/+$/, '');
    this.appBaseUrl = options.appBaseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** One request with the jar, no redirect following. */
  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.jar.header(url);
    if (cookie !== undefined) headers.set('cookie', cookie);
    if (!headers.has('accept')) headers.set('accept', 'text/html,application/xhtml+xml');
    const res = await fetch(url, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
    this.jar.store(url, res.headers.getSetCookie());
    return res;
  }

  private ours(url: URL): boolean {
    const app = new URL(this.appBaseUrl);
    const hydra = new URL(this.hydraPublicUrl);
    return url.host === app.host || url.host === hydra.host;
  }

  private classify(url: URL): PageKind {
    const app = new URL(`${this.appBaseUrl}/`);
    if (url.host !== app.host || !url.pathname.startsWith(app.pathname)) return 'other';
    const rest = url.pathname.slice(app.pathname.length - 1).replace(/\/+$/, '');
    const kinds: Record<string, PageKind> = { '/login': 'login', '/consent': 'consent', '/logout': 'logout', '/error': 'error' };
    return kinds[rest] ?? 'other';
  }

  /**
   * Requests url and follows redirects (GET after 301/302/303) through the app and Hydra,
   * stopping at the first non-redirect response or at a redirect that leaves both.
   */
  async follow(url: string | URL, init: RequestInit = {}): Promise<Landing> {
    let current = new URL(url);
    let currentInit = init;
    const trail: string[] = [];
    for (let hop = 0; hop < 25; hop++) {
      trail.push(`${currentInit.method ?? 'GET'} ${current.href}`);
      const res = await this.request(current, currentInit);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location !== null) {
        await res.body?.cancel();
        const next = new URL(location, current);
        if (!this.ours(next)) {
          const params = new URLSearchParams(next.hash.length > 1 ? next.hash.slice(1) : next.search);
          return { kind: 'callback', url: next, status: res.status, html: '', params, headers: res.headers, trail };
        }
        current = next;
        // 307/308 repeat the request as it was; the others continue with a plain GET.
        if (res.status !== 307 && res.status !== 308) currentInit = {};
        continue;
      }
      const html = await res.text();
      return { kind: this.classify(current), url: current, status: res.status, html, params: current.searchParams, headers: res.headers, trail };
    }
    throw new Error(`too many redirects: ${trail.join(' -> ')}`);
  }

  /** Builds /oauth2/auth with PKCE (S256), state and nonce, and follows it to our first page or the callback. */
  async startAuthorization(options: AuthorizationOptions): Promise<Authorization> {
    const request = authorizationRequest(this.hydraPublicUrl, options);
    const landing = await this.follow(request.url);
    return { ...request, landing };
  }

  /** The form on the page that holds the button with this id (our pages: #accept / #reject). */
  formWith(landing: Landing, buttonId: string): { form: HtmlForm; button: FormControl } {
    for (const form of parseForms(landing.html, landing.url)) {
      const button = form.controls.find((c) => c.id === buttonId);
      if (button !== undefined) return { form, button };
    }
    throw new Error(`no form with #${buttonId} on\n${describeLanding(landing)}`);
  }

  /** The hidden `challenge` of the page's form (falls back to the URL's *_challenge). */
  challengeOf(landing: Landing): string | undefined {
    for (const form of parseForms(landing.html, landing.url)) {
      const hidden = form.controls.find((c) => c.name === 'challenge');
      if (hidden !== undefined) return hidden.value;
    }
    for (const [key, value] of landing.url.searchParams) if (key.endsWith('challenge')) return value;
    return undefined;
  }

  /** The `_csrf` hidden field of the page's first form that has one. */
  csrfOf(landing: Landing): string | undefined {
    for (const form of parseForms(landing.html, landing.url)) {
      const hidden = form.controls.find((c) => c.name === '_csrf');
      if (hidden !== undefined) return hidden.value;
    }
    return undefined;
  }

  /**
   * Presses #accept or #reject (or any button by id, such as the console's #sign-in): sends the
   * form's fields as a browser would (hidden inputs, text values, checked boxes, the pressed
   * button's name=value), with `set` overriding by element id (`{ email: 'x' }` sets the control
   * whose id is "email"; a checkbox takes a boolean; `grant_scope`-style groups take the list of
   * checked values via `checked`).
   */
  async submit(
    landing: Landing,
    action: Action | (string & {}),
    options: { set?: Record<string, string | boolean>; checked?: Record<string, readonly string[]> } = {},
  ): Promise<Landing> {
    const { form, button } = this.formWith(landing, action);
    const byId = new Map(form.controls.filter((c) => c.id !== undefined).map((c) => [c.id!, c] as const));
    for (const id of Object.keys(options.set ?? {})) {
      if (!byId.has(id)) throw new Error(`no control #${id} in the form on\n${describeLanding(landing)}`);
    }
    const body = new URLSearchParams();
    for (const control of form.controls) {
      if (control.name === undefined || control.name === '') continue;
      if (control.tag === 'button' || ['submit', 'image', 'reset', 'button'].includes(control.type)) continue;
      const override = control.id === undefined ? undefined : options.set?.[control.id];
      if (control.type === 'checkbox' || control.type === 'radio') {
        const group = options.checked?.[control.name];
        const on = group !== undefined ? group.includes(control.value) : typeof override === 'boolean' ? override : control.checked;
        if (on) body.append(control.name, control.value);
        continue;
      }
      body.append(control.name, typeof override === 'string' ? override : control.value);
    }
    for (const [name, values] of Object.entries(options.checked ?? {})) {
      const known = new Set(form.controls.filter((c) => c.name === name).map((c) => c.value));
      const unknown = values.filter((v) => !known.has(v));
      if (unknown.length > 0) throw new Error(`no ${name} checkbox for ${unknown.join(', ')} on\n${describeLanding(landing)}`);
    }
    if (button.name !== undefined && button.name !== '') body.append(button.name, button.value);
    if (form.method === 'GET') {
      const target = new URL(form.action);
      target.search = body.toString();
      return this.follow(target);
    }
    return this.follow(form.action, {
      method: form.method,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
  }

  /** Fills and submits our login page. Defaults: the demo user, remember off, accept. */
  async login(
    landing: Landing,
    options: { email?: string; password?: string; remember?: boolean; action?: Action } = {},
  ): Promise<Landing> {
    expectKind(landing, 'login');
    const action = options.action ?? 'accept';
    if (action === 'reject') return this.submit(landing, 'reject');
    return this.submit(landing, 'accept', {
      set: {
        email: options.email ?? DEMO_USER.email,
        password: options.password ?? DEMO_USER.password,
        remember: options.remember ?? false,
      },
    });
  }

  /**
   * Submits our consent page. `grant` defaults to every scope offered, as a person who ticks every
   * box (the boxes start unticked unless CONSENT_PRESELECT_SCOPES=true); `'as-rendered'` sends the
   * boxes as the page renders them, as a person who clicks only "Allow access".
   */
  async consent(
    landing: Landing,
    options: { grant?: readonly string[] | 'as-rendered'; remember?: boolean; action?: Action } = {},
  ): Promise<Landing> {
    expectKind(landing, 'consent');
    const action = options.action ?? 'accept';
    if (action === 'reject') return this.submit(landing, 'reject');
    const grant = options.grant ?? [...this.offeredScopes(landing).keys()];
    return this.submit(landing, 'accept', {
      set: { remember: options.remember ?? false },
      checked: grant === 'as-rendered' ? undefined : { grant_scope: grant },
    });
  }

  /** The grant_scope checkboxes our consent page renders: value → checked. */
  offeredScopes(landing: Landing): Map<string, boolean> {
    const { form } = this.formWith(landing, 'accept');
    return new Map(form.controls.filter((c) => c.name === 'grant_scope').map((c) => [c.value, c.checked]));
  }

  /** Authorization code → tokens at /oauth2/token (client_secret_basic), ID token decoded. */
  async exchangeCode(client: TestClient, callback: Landing | string, codeVerifier: string): Promise<TokenSet> {
    const code = typeof callback === 'string' ? callback : callback.params.get('code');
    if (code === null || code === '') {
      throw new Error(`no code in callback: ${typeof callback === 'string' ? callback : describeLanding(callback)}`);
    }
    const basic = Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64');
    const res = await fetch(`${this.hydraPublicUrl}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: client.redirect_uri, code_verifier: codeVerifier }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const tokens = (await expectJson(res, 'token exchange', 200)) as TokenSet;
    if (tokens.id_token !== undefined) tokens.claims = decodeJwt(tokens.id_token) as TokenSet['claims'];
    return tokens;
  }

  /** A refresh_token grant at /oauth2/token (client_secret_basic): the status and the JSON answer. */
  async refresh(client: TestClient, refreshToken: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const basic = Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64');
    const res = await fetch(`${this.hydraPublicUrl}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** RP-initiated logout at Hydra, followed to our /logout page (or straight to the post-logout URL). */
  async startLogout(options: { idToken?: string; postLogoutRedirectUri?: string; state?: string } = {}): Promise<Landing> {
    return this.follow(logoutUrl(this.hydraPublicUrl, options));
  }

  /**
   * The whole happy path: authorize, log in (unless skipped), consent (unless skipped),
   * exchange the code. Fails with the trail when a step lands somewhere unexpected.
   */
  async authorizeAndExchange(options: {
    client: TestClient;
    scope: string;
    rememberLogin?: boolean;
    rememberConsent?: boolean;
    grant?: readonly string[];
    prompt?: string;
  }): Promise<{ authorization: Authorization; callback: Landing; tokens: TokenSet; screens: PageKind[] }> {
    const authorization = await this.startAuthorization(options);
    const screens: PageKind[] = [];
    let landing = authorization.landing;
    if (landing.kind === 'login') {
      screens.push('login');
      landing = await this.login(landing, { remember: options.rememberLogin });
    }
    if (landing.kind === 'consent') {
      screens.push('consent');
      landing = await this.consent(landing, { remember: options.rememberConsent, grant: options.grant });
    }
    expectKind(landing, 'callback');
    if (landing.params.get('error') !== null) throw new Error(`authorization failed: ${landing.url.href}`);
    if (landing.params.get('state') !== authorization.state) throw new Error(`state mismatch: ${landing.url.href}`);
    const tokens = await this.exchangeCode(options.client, landing, authorization.codeVerifier);
    return { authorization, callback: landing, tokens, screens };
  }
}

/** The sources of one CSP directive of a response, e.g. cspSources(landing, 'form-action'). */
export function cspSources(landing: Landing, directive: string): string[] {
  const policy = landing.headers.get('content-security-policy') ?? '';
  for (const part of policy.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name === directive) return sources;
  }
  return [];
}

export function expectKind(landing: Landing, kind: PageKind): void {
  if (landing.kind !== kind) throw new Error(`expected to land on ${kind}, got\n${describeLanding(landing)}`);
}

// ---------------------------------------------------------------------------------------------
// A real callback endpoint, for the browser (which, unlike the driver, loads the redirect URI)

export interface CallbackServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  callbackUrl: string;
  postLogoutUrl: string;
  /** Every URL requested, in order. */
  hits: URL[];
  close(): Promise<void>;
}

export async function startCallbackServer(): Promise<CallbackServer> {
  const hits: URL[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    hits.push(url);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'" });
    res.end(`<!doctype html><title>client</title><h1 id="landed">${url.pathname === '/callback' ? 'callback' : 'logged out'}</h1>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const origin = `http://127.0.0.1:${address.port}`;
  return {
    origin,
    callbackUrl: `${origin}/callback`,
    postLogoutUrl: `${origin}/logged-out`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
