import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../scripts/free-port.js';
import { describeEachHydra, hydraTargets, startHydra, type HydraInstance } from './support/hydra.js';
import { createHydraClient, introspectAtHydra, OAuthDriver, type TestClient } from './support/oauth.js';

/**
 * Self-test of the e2e harness, independent of our app: a real Hydra, the cookie-jar driver,
 * and a stub login/consent provider (a few lines talking to Hydra's admin API and rendering
 * forms shaped like ours). When this passes and flows.test.ts fails, the app is at fault.
 */

const targets = hydraTargets('e2e harness self-test');

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

function stubProvider(adminApiUrl: () => string): Server {
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${adminApiUrl()}/oauth2/auth/requests/${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : ((await res.json()) as Record<string, any>);
  };
  const form = (challenge: string, inner: string) =>
    `<form method="post"><input type="hidden" name="challenge" value="${challenge}"><input type="hidden" name="_csrf" value="t&amp;k">${inner}` +
    `<button type="submit" id="accept" name="action" value="accept">Yes</button><button type="submit" id="reject" name="action" value="reject">No</button></form>`;
  return createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://stub');
      const kind = url.pathname.slice(1) as 'login' | 'consent';
      const redirect = (to: string) => res.writeHead(302, { location: to }).end();
      if (req.method === 'GET') {
        const challenge = url.searchParams.get(`${kind}_challenge`) ?? '';
        const request = (await admin('GET', `${kind}?challenge=${encodeURIComponent(challenge)}`))!;
        if (request.skip) {
          const body = kind === 'login' ? { subject: request.subject } : { grant_scope: request.requested_scope };
          return redirect((await admin('PUT', `${kind}/accept?challenge=${encodeURIComponent(challenge)}`, body))!.redirect_to);
        }
        const inner =
          kind === 'login'
            ? '<input id="email" name="email"><input id="password" name="password" type="password"><input id="remember" name="remember" type="checkbox" value="1">'
            : (request.requested_scope as string[])
                .map((s) => `<input type="checkbox" id="${s}" name="grant_scope" value="${s}" checked>`)
                .join('') + '<input id="remember" name="remember" type="checkbox" value="1">';
        return res.writeHead(200, { 'content-type': 'text/html' }).end(form(challenge, inner));
      }
      const body = await readForm(req);
      const challenge = encodeURIComponent(body.get('challenge') ?? '');
      if (body.get('_csrf') !== 't&k') return res.writeHead(403).end('csrf');
      if (body.get('action') === 'reject') {
        return redirect((await admin('PUT', `${kind}/reject?challenge=${challenge}`, { error: 'access_denied' }))!.redirect_to);
      }
      const accept =
        kind === 'login'
          ? { subject: body.get('email'), remember: body.get('remember') === '1', remember_for: 3600 }
          : {
              grant_scope: body.getAll('grant_scope'),
              remember: body.get('remember') === '1',
              session: { id_token: { email: 'stub@example.com' } },
            };
      redirect((await admin('PUT', `${kind}/accept?challenge=${challenge}`, accept))!.redirect_to);
    })().catch((error: unknown) => {
      res.writeHead(500).end(String(error));
    });
  });
}

describeEachHydra(targets, 'e2e harness: real Hydra + driver + stub provider', (target) => {
  let hydra: HydraInstance;
  let stub: Server;
  let appBaseUrl: string;
  let client: TestClient;

  beforeAll(async () => {
    const port = await freePort();
    appBaseUrl = `http://127.0.0.1:${port}`;
    stub = stubProvider(() => hydra.adminApiUrl);
    await new Promise<void>((resolve) => stub.listen(port, '127.0.0.1', resolve));
    hydra = await startHydra({ appBaseUrl, release: target, bin: target.bin });
    client = await createHydraClient(hydra);
  });

  afterAll(async () => {
    await hydra?.stop();
    stub?.closeAllConnections();
    await new Promise((resolve) => stub?.close(resolve));
  });

  it('Hydra listens on loopback only and answers in its own admin layout', async () => {
    expect(hydra.publicUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const version = await fetch(`${hydra.adminUrl}/version`);
    expect(await version.json()).toEqual({ version: target.version });
    const res = await fetch(`${hydra.adminUrl}/clients`, { redirect: 'manual' });
    await res.body?.cancel();
    if (target.apiVersion === 'v2') {
      // v2.0–2.3 redirect unprefixed paths; the redirect must carry a usable host (contract §1).
      expect(res.status).toBe(307);
      expect(res.headers.get('location')).toBe(`${hydra.adminUrl}/admin/clients`);
    } else {
      // v1 serves the unprefixed paths and has no /admin at all.
      expect(res.status).toBe(200);
      expect((await fetch(`${hydra.adminUrl}/admin/clients`)).status).toBe(404);
    }
  });

  it('drives /oauth2/auth to the login URL with the challenge and keeps Hydra’s CSRF cookie', async () => {
    const driver = new OAuthDriver({ hydraPublicUrl: hydra.publicUrl, appBaseUrl });
    const { landing } = await driver.startAuthorization({ client, scope: 'openid' });
    expect(landing.kind).toBe('login');
    expect(landing.url.href.startsWith(`${appBaseUrl}/login?login_challenge=`)).toBe(true);
    expect(driver.challengeOf(landing)).toBe(landing.url.searchParams.get('login_challenge'));
    expect(driver.csrfOf(landing)).toBe('t&k');
    // v2 (--dev adds the _dev suffix) and v1 (plain http adds _insecure) name it differently.
    const csrfCookie = target.apiVersion === 'v2' ? 'ory_hydra_login_csrf_dev' : 'oauth2_authentication_csrf_insecure';
    expect(driver.jar.names(hydra.publicUrl).some((name) => name.startsWith(csrfCookie))).toBe(true);
  });

  it('runs code + PKCE through the stub, with partial consent, remember-me and a remembered consent', async () => {
    const driver = new OAuthDriver({ hydraPublicUrl: hydra.publicUrl, appBaseUrl });
    const first = await driver.authorizeAndExchange({
      client,
      scope: 'openid email offline_access',
      grant: ['openid', 'email'],
      rememberLogin: true,
      rememberConsent: true,
    });
    expect(first.screens).toEqual(['login', 'consent']);
    expect(first.tokens.scope).toBe('openid email');
    expect(first.tokens.claims).toMatchObject({ sub: 'foo@bar.com', email: 'stub@example.com', nonce: first.authorization.nonce });
    const info = await introspectAtHydra(hydra, first.tokens.access_token);
    expect(info).toMatchObject({ active: true, sub: 'foo@bar.com', client_id: client.client_id, scope: 'openid email' });

    const second = await driver.authorizeAndExchange({ client, scope: 'openid email' });
    expect(second.screens).toEqual([]);
    expect(second.tokens.claims?.sub).toBe('foo@bar.com');
  });

  it('turns a reject into error=access_denied at the callback', async () => {
    const driver = new OAuthDriver({ hydraPublicUrl: hydra.publicUrl, appBaseUrl });
    const { landing } = await driver.startAuthorization({ client, scope: 'openid' });
    const back = await driver.login(landing, { action: 'reject' });
    expect(back.kind).toBe('callback');
    expect(back.params.get('error')).toBe('access_denied');
  });

  it('stops and restarts Hydra on the same ports (state is lost: DSN=memory)', async () => {
    const { publicUrl, adminUrl } = hydra;
    await hydra.stopProcess();
    expect(hydra.running).toBe(false);
    await expect(fetch(`${adminUrl}/health/alive`)).rejects.toThrow();
    await hydra.start();
    expect(hydra.publicUrl).toBe(publicUrl);
    expect((await fetch(`${adminUrl}/health/ready`)).status).toBe(200);
    const lost = await fetch(`${hydra.adminApiUrl}/clients/${client.client_id}`);
    expect(lost.status).toBe(404);
    client = await createHydraClient(hydra);
    const driver = new OAuthDriver({ hydraPublicUrl: hydra.publicUrl, appBaseUrl });
    const { screens } = await driver.authorizeAndExchange({ client, scope: 'openid' });
    expect(screens).toEqual(['login', 'consent']);
  });
});
