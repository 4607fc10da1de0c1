import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import type { AppDeps } from '../app.js';
import { operationPath } from '../hydra/client.js';
import { sessionCsrfProtection } from '../http/csrf.js';
import { plainText } from '../http/i18n.js';
import { translator } from '../http/locale.js';
import { allowFormTargets, noStore } from '../http/security.js';
import { sessionMiddleware } from '../http/session.js';
import { DEMO_AUDIENCE, DEMO_M2M_SCOPE, DEMO_SCOPES } from './clients.js';
import { describeDemoError, meaningOf, type DemoError, type Say } from './errors.js';
import { createDemoOidc } from './oidc.js';
import { demoSession, saveSession, type DemoTokens } from './session.js';

/**
 * The demo relying party at /demo: a small OAuth2/OIDC client of our own Hydra, built with
 * openid-client v6, that shows each step of the authorization code + PKCE flow, refresh, RP-initiated
 * logout and client credentials, with one sentence per step about what went over the wire.
 * Tokens live only in the server-side session; they are shown on the page to the person they
 * were issued to, and never logged. Every word on the pages is the catalogs' `demo.*` (in the
 * negotiated language); what went over the wire (URLs, parameters, JSON) is shown as it was.
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

/** The start form as posted, and what is wrong with it (the catalog key of its message; nothing: undefined). */
function readStartForm(body: Record<string, unknown>): { form: StartForm; problem?: string } {
  const form: StartForm = {
    scopes: list(body.scope).filter((scope) => (DEMO_SCOPES as readonly string[]).includes(scope)),
    prompt: text(body.prompt),
    audience: text(body.audience),
    maxAge: text(body.max_age),
    m2mScope: DEFAULT_FORM.m2mScope,
  };
  if (form.scopes.length === 0) return { form, problem: 'demo.form.no_scope' };
  if (!(PROMPTS as readonly string[]).includes(form.prompt)) return { form, problem: 'demo.form.bad_prompt' };
  const audiences = form.audience.split(/\s+/).filter(Boolean);
  if (audiences.length > 5 || !audiences.every((audience) => SCOPE_TOKEN.test(audience))) {
    return { form, problem: 'demo.form.bad_audience' };
  }
  if (form.maxAge !== '' && !/^\d{1,8}$/.test(form.maxAge)) return { form, problem: 'demo.form.bad_max_age' };
  return { form };
}

/** Tokens as the page summarises them: who, which scopes, until when, and which buttons work. */
function summary(tokens: DemoTokens | undefined) {
  if (!tokens) return undefined;
  return {
    subject: tokens.subject,
    scope: tokens.scope,
    expiresAt: tokens.expiresAt ? new Date(tokens.expiresAt * 1000) : undefined,
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

function errorStep(say: Say, title: string, wire: string, err: DemoError): Step {
  return { title, wire, error: { ...err, meaning: meaningOf(err.code, say) } };
}

/** The steps whose failures are logged, by the name the log keeps (the page says `demo.stage.<name>`). */
type Stage = 'discovery' | 'token_exchange' | 'refresh' | 'userinfo' | 'introspection' | 'client_credentials';

/** Which token an introspection step asks about (`demo.introspection.<which>_title` / `_wire`). */
type Introspected = 'access' | 'new_access' | 'previous_refresh' | 'm2m_access';

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
      title: translator(res)('demo.title'),
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

  /** `heading` is a `demo.result.*` key. */
  function renderResult(req: Request, res: Response, heading: string, steps: Step[], status = 200): void {
    const title = plainText(translator(res))(heading);
    res.status(status).render('demo/result', {
      title,
      heading: title,
      steps,
      current: summary(req.session.demo?.tokens),
      m2mClientId: oidc.m2mClientId,
      m2mScope: DEFAULT_FORM.m2mScope,
    });
  }

  function logFailure(req: Request, say: Say, stage: Stage, err: unknown): DemoError {
    const described = describeDemoError(err, say(`demo.stage.${stage}`), say);
    // Names and messages only: openid-client and Hydra errors carry no tokens in them.
    log(req).warn({ step: stage, status: described.status, code: described.code, err: err instanceof Error ? { type: err.name, message: err.message } : String(err) }, 'demo step failed');
    return described;
  }

  /** The step shown when openid-client could not fetch Hydra's OpenID configuration. */
  function discoveryFailed(req: Request, say: Say, err: unknown): Step {
    return errorStep(say, say('demo.step.discovery'), say('demo.wire.discovery'), logFailure(req, say, 'discovery', err));
  }

  async function introspection(req: Request, say: Say, token: string, which: Introspected): Promise<Step> {
    const title = say(`demo.introspection.${which}_title`);
    const wire = say(`demo.introspection.${which}_wire`, { url: introspectUrl });
    try {
      const result = await hydra.introspectOAuth2Token({ token });
      return {
        title,
        wire: `${wire} ${say(result.active ? 'demo.wire.active' : 'demo.wire.inactive')}`,
        blocks: [{ label: say('demo.block.introspection'), json: result }],
      };
    } catch (err) {
      return errorStep(say, title, wire, logFailure(req, say, 'introspection', err));
    }
  }

  /** `how` is `demo.wire.id_token_signed` or `demo.wire.id_token_refreshed`. */
  function idTokenStep(say: Say, idToken: string, how: string): Step {
    const header = decodeProtectedHeader(idToken);
    return {
      title: say('demo.step.id_token'),
      wire: say(how, { alg: String(header.alg), kid: String(header.kid ?? '?') }),
      blocks: [
        { label: say('demo.block.header'), json: header },
        { label: say('demo.block.claims'), json: decodeJwt(idToken) },
      ],
    };
  }

  async function userinfo(req: Request, say: Say, rp: client.Configuration, tokens: DemoTokens): Promise<Step> {
    const endpoint = rp.serverMetadata().userinfo_endpoint;
    const title = say('demo.step.userinfo');
    const wire = say('demo.wire.userinfo', { endpoint: endpoint ? oidc.backChannel(endpoint) : 'userinfo' });
    if (!(tokens.scope ?? '').split(' ').includes('openid')) {
      return { title, wire: say('demo.wire.userinfo_skipped') };
    }
    try {
      const info = await client.fetchUserInfo(rp, tokens.accessToken, tokens.subject ?? client.skipSubjectCheck);
      return { title, wire, blocks: [{ label: say('demo.block.userinfo'), json: info }] };
    } catch (err) {
      return errorStep(say, title, wire, logFailure(req, say, 'userinfo', err));
    }
  }

  function tokenEndpoint(say: Say, rp: client.Configuration): string {
    const endpoint = rp.serverMetadata().token_endpoint;
    return endpoint ? oidc.backChannel(endpoint) : say('demo.wire.token_endpoint');
  }

  router.get('/', (req, res) => {
    renderStart(req, res, DEFAULT_FORM);
  });

  router.post('/start', async (req, res) => {
    const say = plainText(translator(res));
    const { form, problem } = readStartForm(req.body ?? {});
    if (problem) return renderStart(req, res, form, say(problem), 400);
    let rp: client.Configuration;
    try {
      rp = await oidc.rp();
    } catch (err) {
      const failure = logFailure(req, say, 'discovery', err);
      return renderStart(req, res, form, say('demo.form.discovery_failed', { title: failure.title, message: failure.message }), failure.status);
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
    const say = plainText(translator(res));
    const pending = req.session.demo?.pending;
    // The checks are single-use: a reload or a replayed callback finds nothing to match.
    if (pending) delete req.session.demo!.pending;
    const query = req.query;
    const returnedState = text(query.state);
    const stateMatches = pending !== undefined && returnedState !== '' && returnedState === pending.state;
    const arrival = say('demo.step.authorization_response');

    const error = text(query.error);
    if (error) {
      const description = [text(query.error_description), text(query.error_hint)].filter(Boolean).join(' ');
      const step = errorStep(say, arrival, say('demo.wire.arrival_error', { error }), {
        title: say('demo.problem.authorization_error_title'),
        code: error,
        message: description || error,
        status: 400,
      });
      if (!stateMatches) step.note = say('demo.note.foreign_state');
      return renderResult(req, res, 'demo.result.signin_failed', [step], 400);
    }
    if (!pending) {
      return renderResult(req, res, 'demo.result.signin_failed', [
        errorStep(say, arrival, say('demo.wire.arrival_no_pending'), {
          title: say('demo.problem.no_pending_title'),
          message: say('demo.problem.no_pending'),
          status: 400,
        }),
      ], 400);
    }
    if (!stateMatches) {
      return renderResult(req, res, 'demo.result.signin_failed', [
        errorStep(say, arrival, say('demo.wire.arrival_bad_state'), {
          title: say('demo.problem.state_mismatch_title'),
          message: say('demo.problem.state_mismatch'),
          code: 'state_mismatch',
          status: 400,
        }),
      ], 400);
    }

    const steps: Step[] = [
      {
        title: arrival,
        wire: say('demo.wire.arrival_code'),
        blocks: [{ label: say('demo.block.query'), json: { code: text(query.code), scope: text(query.scope) || undefined, state: returnedState } }],
      },
    ];
    let rp: client.Configuration;
    let response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
    try {
      rp = await oidc.rp();
    } catch (err) {
      steps.push(discoveryFailed(req, say, err));
      return renderResult(req, res, 'demo.result.signin_failed', steps, 502);
    }
    const exchange = say('demo.wire.exchange', { endpoint: tokenEndpoint(say, rp) });
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
      steps.push(errorStep(say, say('demo.step.token_response'), exchange, logFailure(req, say, 'token_exchange', err)));
      return renderResult(req, res, 'demo.result.signin_failed', steps, 502);
    }
    const tokens = tokensFrom(response, { scope: pending.scope });
    const session = demoSession(req);
    session.tokens = tokens;
    delete session.logoutState;
    steps.push({ title: say('demo.step.token_response'), wire: `${exchange} ${say('demo.wire.exchange_ok')}`, blocks: [{ label: say('demo.block.token_response'), json: response }] });
    if (response.id_token) steps.push(idTokenStep(say, response.id_token, 'demo.wire.id_token_signed'));
    steps.push(await userinfo(req, say, rp, tokens));
    steps.push(await introspection(req, say, tokens.accessToken, 'access'));
    renderResult(req, res, 'demo.result.signed_in', steps);
  });

  router.post('/refresh', async (req, res) => {
    const say = plainText(translator(res));
    const session = demoSession(req);
    const previous = session.tokens;
    if (!previous?.refreshToken) {
      return renderResult(req, res, 'demo.result.refresh_skipped', [
        errorStep(say, say('demo.step.refresh'), say('demo.wire.no_refresh_token'), {
          title: say('demo.problem.no_refresh_token_title'),
          message: say('demo.problem.no_refresh_token'),
          status: 400,
        }),
      ], 400);
    }
    let rp: client.Configuration;
    try {
      rp = await oidc.rp();
    } catch (err) {
      return renderResult(req, res, 'demo.result.refresh_skipped', [discoveryFailed(req, say, err)], 502);
    }
    const wire = say('demo.wire.refresh', { endpoint: tokenEndpoint(say, rp) });
    const title = say('demo.step.token_response_refresh');
    let response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
    try {
      response = await client.refreshTokenGrant(rp, previous.refreshToken);
    } catch (err) {
      const failure = logFailure(req, say, 'refresh', err);
      // invalid_grant: the refresh token is spent or revoked; keeping it would only fail again.
      if (failure.code === 'invalid_grant') delete previous.refreshToken;
      return renderResult(req, res, 'demo.result.refresh_failed', [errorStep(say, title, wire, failure)], failure.status);
    }
    const tokens = tokensFrom(response, previous);
    session.tokens = tokens;
    const steps: Step[] = [{ title, wire: `${wire} ${say('demo.wire.refresh_ok')}`, blocks: [{ label: say('demo.block.token_response'), json: response }] }];
    if (response.id_token) steps.push(idTokenStep(say, response.id_token, 'demo.wire.id_token_refreshed'));
    steps.push(await introspection(req, say, tokens.accessToken, 'new_access'));
    const old = await introspection(req, say, previous.refreshToken, 'previous_refresh');
    old.note = say('demo.note.rotated');
    steps.push(old);
    renderResult(req, res, 'demo.result.refreshed', steps);
  });

  router.post('/logout', async (req, res) => {
    const say = plainText(translator(res));
    const session = demoSession(req);
    const idToken = session.tokens?.idToken;
    if (!idToken) {
      return renderResult(req, res, 'demo.result.logout_skipped', [
        errorStep(say, say('demo.step.rp_logout'), say('demo.wire.no_id_token'), {
          title: say('demo.problem.no_id_token_title'),
          message: say('demo.problem.no_id_token'),
          status: 400,
        }),
      ], 400);
    }
    let rp: client.Configuration;
    try {
      rp = await oidc.rp();
    } catch (err) {
      return renderResult(req, res, 'demo.result.logout_skipped', [discoveryFailed(req, say, err)], 502);
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
      title: translator(res)(matches ? 'demo.logged_out.title' : 'demo.logged_out.not_confirmed_title'),
      matches,
      current: summary(session?.tokens),
    });
  });

  router.post('/client-credentials', async (req, res) => {
    const say = plainText(translator(res));
    const title = say('demo.step.client_credentials');
    const scope = text(req.body?.scope);
    if (scope !== '' && !scope.split(/\s+/).every((s) => SCOPE_TOKEN.test(s))) {
      return renderResult(req, res, 'demo.result.client_credentials', [
        errorStep(say, title, say('demo.wire.nothing_sent'), { title: say('demo.problem.bad_scope_title'), message: say('demo.problem.bad_scope'), status: 400 }),
      ], 400);
    }
    let m2m: client.Configuration | undefined;
    try {
      m2m = await oidc.m2m();
    } catch (err) {
      return renderResult(req, res, 'demo.result.client_credentials', [discoveryFailed(req, say, err)], 502);
    }
    if (!m2m) {
      return renderResult(req, res, 'demo.result.client_credentials', [
        errorStep(say, title, say('demo.wire.nothing_sent'), { title: say('demo.problem.no_m2m_title'), message: say('demo.problem.no_m2m'), status: 400 }),
      ], 400);
    }
    const wire = say('demo.wire.client_credentials', {
      client: oidc.m2mClientId,
      endpoint: tokenEndpoint(say, m2m),
      parameters: `grant_type=client_credentials${scope ? `, scope=${scope}` : ''}`,
    });
    const responseTitle = say('demo.step.token_response_client_credentials');
    let response: client.TokenEndpointResponse;
    try {
      response = await client.clientCredentialsGrant(m2m, scope ? { scope } : {});
    } catch (err) {
      return renderResult(req, res, 'demo.result.client_credentials', [errorStep(say, responseTitle, wire, logFailure(req, say, 'client_credentials', err))], 502);
    }
    const inspected = await introspection(req, say, response.access_token, 'm2m_access');
    inspected.note = say('demo.note.m2m_subject');
    renderResult(req, res, 'demo.result.client_credentials', [
      { title: responseTitle, wire: `${wire} ${say('demo.wire.client_credentials_ok')}`, blocks: [{ label: say('demo.block.token_response'), json: response }] },
      inspected,
    ]);
  });

  return router;
}
