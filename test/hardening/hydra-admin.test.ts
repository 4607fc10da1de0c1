import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentWithForm, buildTestApp, type TestApp } from '../support/test-app.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

describe('HYDRA_ADMIN_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { HYDRA_ADMIN_TOKEN: 'ory_pat_secret-admin-token' } });
  });
  afterAll(() => t.close());

  it('is sent as Authorization: Bearer on every admin call of a login and consent, and on readiness', async () => {
    const login = t.hydra.addLoginRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${login}`);
    expect((await agent.post('/login').type('form').send({ _csrf: csrf, challenge: login, email: 'foo@bar.com', password: 'nope', action: 'accept' })).status).toBe(401);
    expect((await agent.post('/login').type('form').send({ _csrf: csrf, challenge: login, email: 'foo@bar.com', password: 'foobar', action: 'accept' })).status).toBe(302);
    const consent = t.hydra.addConsentRequest();
    const page = await agent.get(`/consent?consent_challenge=${consent}`);
    expect(page.status).toBe(200);
    expect((await agent.post('/consent').type('form').send({ _csrf: csrf, challenge: consent, grant_scope: 'openid', action: 'accept' })).status).toBe(302);
    expect((await request(t.app).get('/health/ready')).status).toBe(200);

    const paths = t.hydra.calls.map((call) => `${call.method} ${call.path}`);
    expect(paths).toEqual(expect.arrayContaining(['GET /admin/oauth2/auth/requests/login', 'PUT /admin/oauth2/auth/requests/login/accept', 'PUT /admin/oauth2/auth/requests/consent/accept', 'GET /health/ready']));
    for (const call of t.hydra.calls) expect(call.headers.authorization, `${call.method} ${call.path}`).toBe('Bearer ory_pat_secret-admin-token');
  });

  it('is not sent when unset', async () => {
    const plain = await buildTestApp();
    try {
      await request(plain.app).get(`/login?login_challenge=${plain.hydra.addLoginRequest()}`);
      await request(plain.app).get('/health/ready');
      expect(plain.hydra.calls.length).toBeGreaterThan(1);
      for (const call of plain.hydra.calls) expect(call.headers.authorization).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});

/**
 * Hydra's admin API behind TLS with a private CA: Node trusts it through NODE_EXTRA_CA_CERTS,
 * which is read once at process start, so the app's Hydra client runs in a child process.
 */
const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
if (!hasOpenssl) console.warn('skipping the NODE_EXTRA_CA_CERTS test: openssl is not installed');

describe.skipIf(!hasOpenssl)('Hydra admin over TLS with a self-signed CA', () => {
  let dir: string;
  let server: Server;
  let adminUrl: string;
  const seen: { url?: string; authorization?: string }[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hlc-tls-'));
    const file = (name: string) => path.join(dir, name);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await run('openssl', ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=hlc test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    await run('openssl', ['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1']);
    await writeFile(file('ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
    await run('openssl', ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-out', file('server.pem'), '-days', '1', '-extfile', file('ext.cnf')]);

    server = createServer({ key: await readFile(file('server.key')), cert: await readFile(file('server.pem')) }, (req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization });
      if (req.url === '/health/ready') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ challenge: 'c', skip: false, subject: '', client: { client_id: 'x' }, request_url: 'https://hydra.test/oauth2/auth' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    adminUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const script = `
    import { createHydraAdmin } from './src/hydra/client.ts';
    const hydra = createHydraAdmin({ baseUrl: process.env.HYDRA_ADMIN_URL, apiVersion: 'v2', timeoutMs: 5000, token: 'tls-token' });
    const ready = await hydra.isReady();
    let outcome;
    try { outcome = (await hydra.getLoginRequest('c')).request_url; } catch (err) { outcome = err.name + ': ' + (err.cause?.cause?.code ?? err.cause?.code ?? err.message); }
    console.log(JSON.stringify({ ready, outcome }));
  `;
  async function client(env: Record<string, string>) {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, HYDRA_ADMIN_URL: adminUrl, NODE_EXTRA_CA_CERTS: '', ...env },
      timeout: 20_000,
    });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as { ready: boolean; outcome: string };
  }

  it('is refused without the CA, and works with NODE_EXTRA_CA_CERTS pointing at it', async () => {
    const without = await client({});
    expect(without.ready).toBe(false);
    expect(without.outcome).toMatch(/HydraUnavailableError: .*(SELF_SIGNED|UNABLE_TO_VERIFY|unable to verify)/i);

    const withCa = await client({ NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') });
    expect(withCa).toEqual({ ready: true, outcome: 'https://hydra.test/oauth2/auth' });
    // Only the run with the CA got through the handshake: a health probe and the login request.
    expect(seen).toEqual([
      { url: '/health/ready', authorization: 'Bearer tls-token' },
      { url: '/admin/oauth2/auth/requests/login?login_challenge=c', authorization: 'Bearer tls-token' },
    ]);
  }, 30_000);
});
