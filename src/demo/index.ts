import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import type { AppDeps } from '../app.js';
import { operationPath } from '../hydra/client.js';
import { sessionCsrfProtection } from '../http/csrf.js';
import { allowFormTargets, noStore } from '../http/security.js';
import { sessionMiddleware } from '../http/session.js';
import { DEMO_AUDIENCE, DEMO_M2M_SCOPE, DEMO_SCOPES } from './clients.js';
import { describeDemoError, meaningOf, type DemoError } from './errors.js';
import { createDemoOidc } from './oidc.js';
import { demoSession, saveSession, type DemoTokens } from './session.js';

/**
 * The demo relying party at /demo: a small OAuth2/OIDC client of our own Hydra, built with
 * openid-client v6, that shows each step of the authorization code + PKCE flow, refresh, RP-initiated
 * logout and client credentials, with one sentence per step about what went over the wire.
 * Tokens live only in the server-side session; they are shown on the page to the person they
 * were issued to, and never logged.
 */

const FORM_LIMIT = '16kb';
const PROMPTS = ['', 'none', 'login', 'consent'] as const;
/** RFC 6749 scope-token characters; an audience may be any such token too (Hydra takes URLs or names). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/;

interface Block {
  label: string;
  json: unknown;
}

interface Step {
  title: string;
  /** One sentence: what just went over the wire. */
  wire: string;
  blocks?: Block[];
  error?: DemoError & { meaning?: string };
  note?: string;
}

interface StartForm {
  scopes: string[];
  prompt: string;
  audience: string;
  maxAge: string;
  m2mScope: string;
}

const DEFAULT_FORM: StartForm = { scopes: [...DEMO_SCOPES], prompt: '', audience: '', maxAge: '', m2mScope: DEMO_M2M_SCOPE };

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

function list(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** The start form as posted, and what is wrong with it (nothing: undefined). */
function readStartForm(body: Record<string, unknown>): { form: StartForm; problem?: string } {
  const form: StartForm = {
    scopes: list(body.scope).filter((scope) => (DEMO_SCOPES as readonly string[]).includes(scope)),
    prompt: text(body.prompt),
    audience: text(body.audience),
    maxAge: text(body.max_age),
    m2mScope: DEFAULT_FORM.m2mScope,
  };
  if (form.scopes.length === 0) return { form, problem: 'Choose at least one scope.' };
  if (!(PROMPTS as readonly string[]).includes(form.prompt)) return { form, problem: 'prompt must be empty, none, login or consent.' };
  const audiences = form.audience.split(/\s+/).filter(Boolean);
  if (audiences.length > 5 || !audiences.every((audience) => SCOPE_TOKEN.test(audience))) {
    return { form, problem: 'audience is up to five space-separated values, without quotes or backslashes.' };
  }
  if (form.maxAge !== '' && !/^\d{1,8}$/.test(form.maxAge)) return { form, problem: 'max_age is a number of seconds.' };
  return { form };
}

/** Tokens as the page summarises them: who, which scopes, until when, and which buttons work. */
function summary(tokens: DemoTokens | undefined) {
  if (!tokens) return undefined;
  return {
    subject: tokens.subject,
    scope: tokens.scope,
    expiresAt: tokens.expiresAt ? new Date(tokens.expiresAt * 1000).toISOString() : undefined,
    canRefresh: Boolean(tokens.refreshToken),
    canLogout: Boolean(tokens.idToken),
  };
}

/** The session's tokens after a token response; what the response leaves out comes from `previous`. */
function tokensFrom(response: client.TokenEndpointResponse, previous: Partial<DemoTokens> = {}): DemoTokens {
  const claims = response.id_token ? decodeJwt(response.id_token) : undefined;
  return {
    accessToken: response.access_token,
    // Hydra rotates refresh tokens; a response without one leaves none usable.
    refreshToken: response.refresh_token,
    idToken: response.id_token ?? previous.idToken,
    scope: response.scope ?? previous.scope,
    expiresAt: typeof response.expires_in === 'number' ? Math.floor(Date.now() / 1000) + response.expires_in : undefined,
    subject: typeof claims?.sub === 'string' ? claims.sub : previous.subject,
  };
}

function errorStep(title: string, wire: string, err: DemoError): Step {
  return { title, wire, error: { ...err, meaning: meaningOf(err.code) } };
}

export function demoRouter(deps: AppDeps): Router {
  const { config, hydra } = deps;
  if (config.demo === undefined || config.hydra.publicUrl === undefined) throw new Error('demoRouter needs config.demo and HYDRA_PUBLIC_URL');
  const oidc = createDemoOidc(config);
  const redirectUri = `${config.baseUrl}/demo/callback`;
  const postLogoutRedirectUri = `${config.baseUrl}/demo/logged-out`;
  const introspectUrl = `${config.hydra.adminUrl.replace(/\/+$/, '')}${operationPath('introspectOAuth2Token', config.hydra.apiVersion)}`;
  const log = (req: Request) => req.log ?? deps.logger;

  // The start and log-out forms end at Hydra after our redirect; Chromium applies form-action to
  // every hop, so Hydra's public origin joins 'self' on the demo's pages.
  const allowHydra: RequestHandler = (_req, res, next) => {
    allowFormTargets(res, [config.hydra.publicUrl]);
    next();
  };

  const router = Router();
  router.use(
    noStore,
    express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 50 }),
    sessionMiddleware(config, deps.sessionStore),
    // Session-bound from the first page: the PKCE, state and tokens live in the same session.
    sessionCsrfProtection(config),
    allowHydra,
  );

  function renderStart(req: Request, res: Response, form: StartForm, error?: string, status = 200): void {
    res.status(status).render('demo/start', {
      title: 'Demo application',
      form,
      scopes: DEMO_SCOPES,
      prompts: PROMPTS,
      error,
      current: summary(req.session.demo?.tokens),
      issuer: oidc.issuer,
      clientId: config.demo!.clientId,
      m2mClientId: oidc.m2mClientId,
      redirectUri,
      audienceHint: DEMO_AUDIENCE,
    });
  }

  function renderResult(req: Request, res: Response, heading: string, steps: Step[], status = 200): void {
    res.status(status).render('demo/result', {
      title: heading,
      heading,
      steps,
      current: summary(req.session.demo?.tokens),
      m2mClientId: oidc.m2mClientId,
      m2mScope: DEFAULT_FORM.m2mScope,
    });
  }

  function logFailure(req: Request, step: string, err: unknown): DemoError {
    const described = describeDemoError(err, step);
    // Names and messages only: openid-client and Hydra errors carry no tokens in them.
    log(req).warn({ step, status: described.status, code: described.code, err: err instanceof Error ? { type: err.name, message: err.message } : String(err) }, 'demo step failed');
    return described;
  }

  /** The step shown when openid-client could not fetch Hydra's OpenID configuration. */
  function discoveryFailed(req: Request, err: unknown): Step {
    return errorStep('Discovery', 'The app fetched Hydra\'s OpenID configuration.', logFailure(req, 'Discovery', err));
  }

  async function introspection(req: Request, token: string, what: string): Promise<Step> {
    const wire = `The app asked Hydra's admin API (POST ${introspectUrl}) about the ${what}, as a resource server would.`;
    try {
      const result = await hydra.introspectOAuth2Token({ token });
      return {
        title: `Introspection of the ${what}`,
        wire: `${wire} Hydra says it is ${result.active ? 'active' : 'not active'}.`,
        blocks: [{ label: 'Introspection response', json: result }],
      };
    } catch (err) {
      return errorStep(`Introspection of the ${what}`, wire, logFailure(req, 'Introspection', err));
    }
  }

  function idTokenStep(idToken: string, how: string): Step {
    const header = decodeProtectedHeader(idToken);
    return {
      title: 'ID token (decoded)',
      wire: `${how} openid-client verified its ${String(header.alg)} signature with Hydra's JWKS (key ${String(header.kid ?? '?')}) and checked iss, aud, exp and iat before this page decoded it.`,
      blocks: [
        { label: 'Header', json: header },
        { label: 'Claims', json: decodeJwt(idToken) },
      ],
    };
  }

  async function userinfo(req: Request, rp: client.Configuration, tokens: DemoTokens): Promise<Step> {
    const endpoint = rp.serverMetadata().userinfo_endpoint;
    const wire = `The app called Hydra's userinfo endpoint (GET ${endpoint ? oidc.backChannel(endpoint) : 'userinfo'}) with the access token as a Bearer token.`;
    if (!(tokens.scope ?? '').split(' ').includes('openid')) {
      return { title: 'Userinfo', wire: 'Skipped: userinfo belongs to OpenID Connect, and the openid scope was not granted.' };
    }
    try {
      const info = await client.fetchUserInfo(rp, tokens.accessToken, tokens.subject ?? client.skipSubjectCheck);
      return { title: 'Userinfo', wire, blocks: [{ label: 'Userinfo response', json: info }] };
    } catch (err) {
      return errorStep('Userinfo', wire, logFailure(req, 'Userinfo', err));
    }
  }

  function tokenEndpoint(rp: client.Configuration): string {
    const endpoint = rp.serverMetadata().token_endpoint;
    return endpoint ? oidc.backChannel(endpoint) : 'the token endpoint';
  }

  router.get('/', (req, res) => {
    renderStart(req, res, DEFAULT_FORM);
  });

  router.post('/start', async (req, res) => {
    const { form, problem } = readStartForm(req.body ?? {});
    if (problem) return renderStart(req, res, form, problem, 400);
    let rp: client.Configuration;
    try {
      rp = await oidc.rp();
    } catch (err) {
      const failure = logFailure(req, 'Discovery', err);
      return renderStart(req, res, form, `${failure.title}. ${failure.message}`, failure.status);
    }
    const state = client.randomState();
    const nonce = client.randomNonce();
    const codeVerifier = client.randomPKCECodeVerifier();
    const scope = form.scopes.join(' ');
    const parameters: Record<string, string> = {
      redirect_uri: redirectUri,
      scope,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    if (form.prompt) parameters.prompt = form.prompt;
    if (form.audience) parameters.audience = form.audience.split(/\s+/).filter(Boolean).join(' ');
    if (form.maxAge) parameters.max_age = form.maxAge;
    // One flow in flight per browser: starting again replaces the previous checks.
    demoSession(req).pending = {
      state,
      nonce,
      codeVerifier,
      scope,
      maxAge: form.maxAge ? Number(form.maxAge) : undefined,
      startedAt: Date.now(),
    };
    await saveSession(req);
    res.redirect(303, client.buildAuthorizationUrl(rp, parameters).href);
  });

  router.get('/callback', async (req, res) => {
    const pending = req.session.demo?.pending;
    // The checks are single-use: a reload or a replayed callback finds nothing to match.
    if (pending) delete req.session.demo!.pending;
    const query = req.query;
    const returnedState = text(query.state);
    const stateMatches = pending !== undefined && returnedState !== '' && returnedState === pending.state;
    const arrival = 'Hydra redirected your browser back to the callback';

    const error = text(query.error);
    if (error) {
      const description = [text(query.error_description), text(query.error_hint)].filter(Boolean).join(' ');
      const step = errorStep('Authorization response', `${arrival} with error=${error} instead of a code.`, {
        title: 'Hydra ended the authorization with an error',
        code: error,
        message: description || error,
        status: 400,
      });
      if (!stateMatches) step.note = 'Its state does not match a sign-in started in this browser, so it may not be an answer to one of ours.';
      return renderResult(req, res, 'Sign-in did not complete', [step], 400);
    }
    if (!pending) {
      return renderResult(req, res, 'Sign-in did not complete', [
        errorStep('Authorization response', `${arrival}, but this browser session has no sign-in in progress.`, {
          title: 'No sign-in in progress',
          message: 'This callback was already used, the session expired, or the sign-in was started in another browser. Start again from the demo page.',
          status: 400,
        }),
      ], 400);
    }
    if (!stateMatches) {
      return renderResult(req, res, 'Sign-in did not complete', [
        errorStep('Authorization response', `${arrival}, but with a state that is not the one this app sent.`, {
          title: 'State mismatch',
          message: 'The state parameter does not match the sign-in started in this browser, so the response was discarded unused (this is what protects against cross-site request forgery).',
          code: 'state_mismatch',
          status: 400,
        }),
      ], 400);
    }

    const steps: Step[] = [
      {
        title: 'Authorization response',
        wire: `${arrival} with a one-time code and the state this app sent; the state matched.`,
        blocks: [{ label: 'Query parameters', json: { code: text(query.code), scope: text(query.scope) || undefined, state: returnedState } }],
      },
    ];
    let rp: client.Configuration;
    let response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
    try {
      rp = await oidc.rp();
    } catch (err) {
      steps.push(discoveryFailed(req, err));
      return renderResult(req, res, 'Sign-in did not complete', steps, 502);
    }
    const exchange = `The app sent the code and the PKCE code_verifier to Hydra's token endpoint (POST ${tokenEndpoint(rp)}, client_secret_basic) over the back channel.`;
    try {
      // openid-client derives redirect_uri from this URL minus its query, so it must be the
      // registered one: BASE_URL, not whatever Host header reached us.
      const currentUrl = new URL(redirectUri);
      currentUrl.search = new URL(req.originalUrl, 'http://placeholder').search;
      response = await client.authorizationCodeGrant(rp, currentUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        maxAge: pending.maxAge,
        idTokenExpected: pending.scope.split(' ').includes('openid'),
      });
    } catch (err) {
      steps.push(errorStep('Token response', exchange, logFailure(req, 'Token exchange', err)));
      return renderResult(req, res, 'Sign-in did not complete', steps, 502);
    }
    const tokens = tokensFrom(response, { scope: pending.scope });
    const session = demoSession(req);
    session.tokens = tokens;
    delete session.logoutState;
    steps.push({ title: 'Token response', wire: `${exchange} Hydra answered with these tokens.`, blocks: [{ label: 'Token response', json: response }] });
    if (response.id_token) steps.push(idTokenStep(response.id_token, 'Hydra signed this ID token for the demo client;'));
    steps.push(await userinfo(req, rp, tokens));
    steps.push(await introspection(req, tokens.accessToken, 'access token'));
    renderResult(req, res, 'Signed in', steps);
  });

  router.post('/refresh', async (req, res) => {
    const session = demoSession(req);
    const previous = session.tokens;
    if (!previous?.refreshToken) {
      return renderResult(req, res, 'Refresh did not happen', [
        errorStep('Refresh', 'Nothing was sent: this session has no refresh token.', {
          title: 'No refresh token',
          message: 'Sign in with the offline_access scope first: Hydra only issues a refresh token for it.',
          status: 400,
        }),
      ], 400);
    }
    let rp: client.Configuration;
    try {
      rp = await oidc.rp();
    } catch (err) {
      return renderResult(req, res, 'Refresh did not happen', [discoveryFailed(req, err)], 502);
    }
    const wire = `The app sent the refresh token to Hydra's token endpoint (POST ${tokenEndpoint(rp)}, grant_type=refresh_token) over the back channel; no browser redirect was needed.`;
    let response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
    try {
      response = await client.refreshTokenGrant(rp, previous.refreshToken);
    } catch (err) {
      const failure = logFailure(req, 'Refresh', err);
      // invalid_grant: the refresh token is spent or revoked; keeping it would only fail again.
      if (failure.code === 'invalid_grant') delete previous.refreshToken;
      return renderResult(req, res, 'Refresh failed', [errorStep('Token response (refresh)', wire, failure)], failure.status);
    }
    const tokens = tokensFrom(response, previous);
    session.tokens = tokens;
    const steps: Step[] = [{ title: 'Token response (refresh)', wire: `${wire} Hydra answered with a new access token and a new refresh token.`, blocks: [{ label: 'Token response', json: response }] }];
    if (response.id_token) steps.push(idTokenStep(response.id_token, 'Hydra issued a fresh ID token with the refresh;'));
    steps.push(await introspection(req, tokens.accessToken, 'new access token'));
    const old = await introspection(req, previous.refreshToken, 'previous refresh token');
    old.note = 'Hydra rotates refresh tokens: each one works once, so the previous one should now be inactive.';
    steps.push(old);
    renderResult(req, res, 'Tokens refreshed', steps);
  });

  router.post('/logout', async (req, res) => {
    const session = demoSession(req);
    const idToken = session.tokens?.idToken;
    if (!idToken) {
      return renderResult(req, res, 'Log out did not start', [
        errorStep('RP-initiated logout', 'Nothing was sent: this session has no ID token.', {
          title: 'No ID token',
          message: 'RP-initiated logout sends the ID token as id_token_hint, so sign in with the openid scope first.',
          status: 400,
        }),
      ], 400);
    }
    let rp: client.Configuration;
    try {
      rp = await oidc.rp();
    } catch (err) {
      return renderResult(req, res, 'Log out did not start', [discoveryFailed(req, err)], 502);
    }
    const state = client.randomState();
    session.logoutState = state;
    await saveSession(req);
    // The browser goes to Hydra's end_session endpoint, Hydra sends it to our logout screen,
    // and after "Yes" Hydra sends it back to the registered post_logout_redirect_uri.
    const url = client.buildEndSessionUrl(rp, { id_token_hint: idToken, post_logout_redirect_uri: postLogoutRedirectUri, state });
    res.redirect(303, url.href);
  });

  router.get('/logged-out', (req, res) => {
    const session = req.session.demo;
    const expected = session?.logoutState;
    const state = text(req.query.state);
    const matches = expected !== undefined && state === expected;
    // Only a logout this browser asked for clears its tokens; anyone can link to this page.
    if (matches) {
      delete session!.logoutState;
      delete session!.tokens;
    }
    res.status(matches ? 200 : 400).render('demo/logged-out', {
      title: matches ? 'Logged out' : 'Log out not confirmed',
      matches,
      current: summary(session?.tokens),
    });
  });

  router.post('/client-credentials', async (req, res) => {
    const scope = text(req.body?.scope);
    if (scope !== '' && !scope.split(/\s+/).every((s) => SCOPE_TOKEN.test(s))) {
      return renderResult(req, res, 'Client credentials', [errorStep('Client credentials', 'Nothing was sent.', { title: 'Bad scope', message: 'scope is a space-separated list of scope names.', status: 400 })], 400);
    }
    let m2m: client.Configuration | undefined;
    try {
      m2m = await oidc.m2m();
    } catch (err) {
      return renderResult(req, res, 'Client credentials', [discoveryFailed(req, err)], 502);
    }
    if (!m2m) {
      return renderResult(req, res, 'Client credentials', [
        errorStep('Client credentials', 'Nothing was sent.', { title: 'No machine-to-machine client', message: 'Set DEMO_M2M_CLIENT_ID and DEMO_M2M_CLIENT_SECRET to try the client credentials grant.', status: 400 }),
      ], 400);
    }
    const wire = `The app authenticated as ${oidc.m2mClientId} with its secret (HTTP Basic) at Hydra's token endpoint (POST ${tokenEndpoint(m2m)}, grant_type=client_credentials${scope ? `, scope=${scope}` : ''}): no browser and no person involved.`;
    let response: client.TokenEndpointResponse;
    try {
      response = await client.clientCredentialsGrant(m2m, scope ? { scope } : {});
    } catch (err) {
      return renderResult(req, res, 'Client credentials', [errorStep('Token response (client credentials)', wire, logFailure(req, 'Client credentials', err))], 502);
    }
    const inspected = await introspection(req, response.access_token, 'machine-to-machine access token');
    inspected.note = 'The subject (sub) is the client itself: the token speaks for a service, not a person.';
    renderResult(req, res, 'Client credentials', [
      { title: 'Token response (client credentials)', wire: `${wire} Hydra answered with an access token only.`, blocks: [{ label: 'Token response', json: response }] },
      inspected,
    ]);
  });

  return router;
}
