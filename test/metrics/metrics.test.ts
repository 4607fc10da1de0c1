import { spawn } from 'node:child_process';
import path from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, freePorts } from '../../scripts/free-port.js';
import { HydraUnavailableError } from '../../src/hydra/errors.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { createRedisConnection } from '../../src/redis.js';
import { openAccountStore } from '../../src/users/sql/store.js';
import { startFakeHydra, type FakeHydra } from '../support/fake-hydra.js';
import { agentWithForm, buildTestApp, TEST_SESSION_SECRET, type TestApp } from '../support/test-app.js';

const TOKEN = 'metrics-token-0123456789abcdefghijklmnop';
const ROOT = path.resolve(import.meta.dirname, '../..');

/** The value of one series in a scrape, e.g. value(text, 'hlc_flow_outcomes_total', { flow: 'login', outcome: 'accepted' }). */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const found = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, want]) => found[key] === want)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

const outcome = (text: string, flow: string, what: string, extra: Record<string, string> = {}) =>
  value(text, 'hlc_flow_outcomes_total', { flow, outcome: what, ...extra });

async function scrape(t: TestApp): Promise<string> {
  const res = await request(t.app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text;
}

async function login(t: TestApp, password: string) {
  const challenge = t.hydra.addLoginRequest();
  const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
  return agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: 'foo@bar.com', password, action: 'accept' });
}

async function consent(t: TestApp, grant: string[] | 'reject', overrides = {}) {
  const challenge = t.hydra.addConsentRequest({ requested_scope: ['openid', 'email'], ...overrides });
  const { agent, csrf } = await agentWithForm(t.app, `/consent?consent_challenge=${challenge}`);
  const action = grant === 'reject' ? { action: 'reject' } : { action: 'accept', grant_scope: grant };
  return agent.post('/consent').type('form').send({ _csrf: csrf, challenge, ...action });
}

describe('metrics after real flows (METRICS_TOKEN)', () => {
  let t: TestApp;
  let metrics: Metrics;
  beforeAll(async () => {
    metrics = createMetrics();
    t = await buildTestApp({ env: { METRICS_TOKEN: TOKEN, HYDRA_PUBLIC_URL: 'http://hydra.test', LOGIN_RATE_LIMIT_PER_IP: '3' }, metrics });
  });
  afterAll(() => t.close());

  it('starts every outcome at 0 and refuses a scrape without the right bearer token', async () => {
    const text = await scrape(t);
    expect(outcome(text, 'login', 'failed_password')).toBe(0);
    expect(outcome(text, 'login', 'second_factor_failed')).toBe(0);
    expect(outcome(text, 'device', 'wrong_code')).toBe(0);
    for (const auth of [undefined, 'Bearer wrong-token', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      const req = request(t.app).get('/metrics');
      const res = auth ? await req.set('Authorization', auth) : await req;
      expect(res.status, String(auth)).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="metrics"/);
      expect(res.text).not.toContain('hlc_');
    }
  });

  it('counts each flow\'s outcomes, Hydra latency per operation, Hydra errors by mapped status and responses by code', async () => {
    // Login: accepted, two wrong passwords, a deny, a remembered (skipped) login, then rate-limited.
    expect((await login(t, 'foobar')).status).toBe(302);
    expect((await login(t, 'wrong')).status).toBe(401);
    const deny = t.hydra.addLoginRequest();
    const denyForm = await agentWithForm(t.app, `/login?login_challenge=${deny}`);
    expect((await denyForm.agent.post('/login').type('form').send({ _csrf: denyForm.csrf, challenge: deny, action: 'reject' })).status).toBe(302);
    const skip = t.hydra.addLoginRequest({ skip: true, subject: 'foo@bar.com' });
    expect((await request(t.app).get(`/login?login_challenge=${skip}`)).status).toBe(302);
    expect((await login(t, 'wrong')).status).toBe(401);
    // Unknown challenge on POST: Hydra's 404, and a failed attempt for the limiter (the third).
    const bogus = await agentWithForm(t.app, `/login?login_challenge=${t.hydra.addLoginRequest()}`);
    expect((await bogus.agent.post('/login').type('form').send({ _csrf: bogus.csrf, challenge: 'bogus', email: 'a@b.c', password: 'x' })).status).toBe(404);
    expect((await login(t, 'foobar')).status).toBe(429);

    // Consent: all granted, one of two, denied, skipped (remembered); an expired challenge.
    expect((await consent(t, ['openid', 'email'])).status).toBe(302);
    expect((await consent(t, ['openid'])).status).toBe(302);
    expect((await consent(t, 'reject')).status).toBe(302);
    expect((await request(t.app).get(`/consent?consent_challenge=${t.hydra.addConsentRequest({ skip: true })}`)).status).toBe(302);
    const expired = t.hydra.addConsentRequest();
    t.hydra.expire(expired);
    expect((await request(t.app).get(`/consent?consent_challenge=${expired}`)).status).toBe(410);

    // Logout: accepted and cancelled.
    for (const action of ['accept', 'reject']) {
      const challenge = t.hydra.addLogoutRequest();
      const { agent, csrf } = await agentWithForm(t.app, `/logout?logout_challenge=${challenge}`);
      expect((await agent.post('/logout').type('form').send({ _csrf: csrf, challenge, action })).status).toBeLessThan(400);
    }

    // Device: a wrong code, then the right one.
    const device = t.hydra.addDeviceChallenge();
    const form = await agentWithForm(t.app, `/device?device_challenge=${device}`);
    const post = (user_code: string) => form.agent.post('/device').type('form').send({ _csrf: form.csrf, challenge: device, user_code });
    expect((await post('nope')).status).toBe(400);
    expect((await post(t.hydra.addUserCode())).status).toBe(302);

    const text = await scrape(t);
    expect(outcome(text, 'login', 'accepted')).toBe(1);
    expect(outcome(text, 'login', 'failed_password')).toBe(2);
    expect(outcome(text, 'login', 'rejected')).toBe(1);
    expect(outcome(text, 'login', 'skipped')).toBe(1);
    expect(outcome(text, 'login', 'rate_limited')).toBe(1);
    expect(outcome(text, 'consent', 'granted')).toBe(1);
    expect(outcome(text, 'consent', 'partially_granted')).toBe(1);
    expect(outcome(text, 'consent', 'denied')).toBe(1);
    expect(outcome(text, 'consent', 'skipped')).toBe(1);
    expect(outcome(text, 'logout', 'accepted')).toBe(1);
    expect(outcome(text, 'logout', 'cancelled')).toBe(1);
    expect(outcome(text, 'device', 'accepted')).toBe(1);
    expect(outcome(text, 'device', 'wrong_code')).toBe(1);

    // Hydra latency per operation: every admin call the flows made is in a histogram.
    const getLogins = t.hydra.calls.filter((c) => c.path === '/admin/oauth2/auth/requests/login' && c.method === 'GET').length;
    expect(value(text, 'hlc_hydra_request_duration_seconds_count', { operation: 'getLoginRequest' })).toBe(getLogins);
    expect(value(text, 'hlc_hydra_request_duration_seconds_count', { operation: 'acceptUserCodeRequest' })).toBe(2);
    expect(value(text, 'hlc_hydra_request_duration_seconds_bucket', { operation: 'acceptConsentRequest', le: '+Inf' })).toBe(3);
    // Errors by the status the app maps them to: 404 stays 404, Hydra's 401 (expired) is a 410.
    expect(value(text, 'hlc_hydra_errors_total', { operation: 'getLoginRequest', status: '404' })).toBe(1);
    expect(value(text, 'hlc_hydra_errors_total', { operation: 'getConsentRequest', status: '410' })).toBe(1);
    expect(value(text, 'hlc_hydra_errors_total', { operation: 'acceptUserCodeRequest', status: '400' })).toBe(1);
    // Responses by code, for the 5xx alert.
    expect(value(text, 'hlc_http_responses_total', { code: '429' })).toBe(1);
    expect(value(text, 'hlc_http_responses_total', { code: '401' })).toBeGreaterThanOrEqual(2);
    // Bounded labels: no client ids (METRICS_CLIENT_LABEL is off), subjects or emails.
    expect(text).not.toContain('client=');
    expect(text).not.toContain('foo@bar.com');
    expect(text).not.toContain('demo-client');
  });

  it('counts Hydra being down as a 502 and a timeout as a 504', async () => {
    t.hydra.setFault('error500');
    expect((await request(t.app).get(`/login?login_challenge=${t.hydra.addLoginRequest()}`)).status).toBe(502);
    t.hydra.setFault('none');
    const text = await scrape(t);
    expect(value(text, 'hlc_hydra_errors_total', { operation: 'getLoginRequest', status: '502' })).toBe(1);
    expect(value(text, 'hlc_http_responses_total', { code: '502' })).toBe(1);
    // What the client reports for a call cut at HYDRA_TIMEOUT_MS, or Hydra unreachable.
    const own = createMetrics();
    own.hydraCall({ operation: 'getLoginRequest', seconds: 10, error: new HydraUnavailableError('getLoginRequest', 'timeout') });
    own.hydraCall({ operation: 'getLoginRequest', seconds: 0.001, error: new HydraUnavailableError('getLoginRequest', 'unreachable') });
    const counted = await own.registry.metrics();
    expect(value(counted, 'hlc_hydra_errors_total', { operation: 'getLoginRequest', status: '504' })).toBe(1);
    expect(value(counted, 'hlc_hydra_errors_total', { operation: 'getLoginRequest', status: '502' })).toBe(1);
    expect(value(counted, 'hlc_hydra_request_duration_seconds_bucket', { operation: 'getLoginRequest', le: '10' })).toBe(2);
  });
});

describe('where /metrics is, and is not', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('is a 404 without METRICS_TOKEN, whatever the caller sends', async () => {
    t = await buildTestApp({ metrics: createMetrics() });
    for (const auth of [undefined, `Bearer ${TOKEN}`]) {
      const req = request(t.app).get('/metrics');
      expect((await (auth ? req.set('Authorization', auth) : req)).status).toBe(404);
    }
  });

  it('is a 404 on the app when METRICS_PORT is set, even with METRICS_TOKEN', async () => {
    const port = await freePort();
    t = await buildTestApp({ env: { METRICS_TOKEN: TOKEN, METRICS_PORT: String(port) }, metrics: createMetrics() });
    expect((await request(t.app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`)).status).toBe(404);
  });

  it('refuses a short METRICS_TOKEN and a METRICS_PORT equal to PORT', async () => {
    await expect(buildTestApp({ env: { METRICS_TOKEN: 'short' } })).rejects.toThrow(/METRICS_TOKEN must be at least 32 characters/);
    await expect(buildTestApp({ env: { METRICS_PORT: '3000', PORT: '3000' } })).rejects.toThrow(/METRICS_PORT must differ from PORT/);
  });

  it('labels outcomes with the client id Hydra reported only with METRICS_CLIENT_LABEL=true', async () => {
    const metrics = createMetrics({ clientLabel: true });
    t = await buildTestApp({ env: { METRICS_TOKEN: TOKEN, METRICS_CLIENT_LABEL: 'true' }, metrics });
    expect((await login(t, 'wrong')).status).toBe(401);
    const text = await scrape(t);
    expect(outcome(text, 'login', 'failed_password', { client: 'demo-client' })).toBe(1);
    expect(text).not.toContain('foo@bar.com');
  });
});

describe('latency hooks and default metrics', () => {
  it('times every Redis round trip through bounded(), by outcome', async () => {
    const seen: string[] = [];
    const metrics = createMetrics();
    const redis = createRedisConnection({
      url: 'redis://127.0.0.1:1',
      logger: pino({ level: 'silent' }),
      commandTimeoutMs: 50,
      onCommand: (seconds, result) => {
        seen.push(result);
        metrics.redisCommand(seconds, result);
      },
    });
    try {
      expect(await redis.bounded(Promise.resolve('PONG'))).toBe('PONG');
      await expect(redis.bounded(Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      await expect(redis.bounded(new Promise(() => {}))).rejects.toThrow(/did not answer within 50 ms/);
    } finally {
      await redis.close();
    }
    expect(seen).toEqual(['ok', 'error', 'timeout']);
    const text = await metrics.registry.metrics();
    for (const result of ['ok', 'error', 'timeout']) expect(value(text, 'hlc_redis_command_duration_seconds_count', { outcome: result })).toBe(1);
  });

  it('times every user-database step through the SQL store\'s guard, by step', async () => {
    const metrics = createMetrics();
    const store = await openAccountStore({ dialect: 'sqlite', file: ':memory:' }, { onQuery: metrics.databaseQuery });
    await store.list({ limit: 1 });
    await store.findBySubject('nobody');
    const text = await metrics.registry.metrics();
    expect(value(text, 'hlc_database_query_duration_seconds_count', { operation: 'list accounts', outcome: 'ok' })).toBe(1);
    expect(value(text, 'hlc_database_query_duration_seconds_count', { operation: 'find subject', outcome: 'ok' })).toBe(1);
  });

  it('adds the default Node process metrics when asked (production)', async () => {
    const text = await createMetrics({ defaultMetrics: true }).registry.metrics();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    expect(await createMetrics().registry.metrics()).not.toContain('process_cpu_user_seconds_total');
  });

  it('keeps registries apart: two apps never share a counter', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.flowOutcome('login', 'accepted');
    expect(value(await a.registry.metrics(), 'hlc_flow_outcomes_total', { flow: 'login', outcome: 'accepted' })).toBe(1);
    expect(value(await b.registry.metrics(), 'hlc_flow_outcomes_total', { flow: 'login', outcome: 'accepted' })).toBe(0);
  });
});

describe('METRICS_PORT: the real server process', () => {
  let hydra: FakeHydra;
  beforeAll(async () => {
    hydra = await startFakeHydra();
  });
  afterAll(() => hydra.close());

  it('serves /metrics on its own listener (token required when set), not on the app, and closes it on SIGTERM', async () => {
    const [port, metricsPort] = (await freePorts(2)) as [number, number];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        METRICS_TOKEN: TOKEN,
        HYDRA_ADMIN_URL: hydra.url,
        SESSION_SECRET: TEST_SESSION_SECRET,
        DATABASE_URL: 'sqlite::memory:',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!(output.includes('"msg":"listening"') && output.includes('"msg":"metrics listening"'))) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(output).toContain(`"port":${metricsPort},"host":"127.0.0.1"`);
      const metricsUrl = `http://127.0.0.1:${metricsPort}`;
      // A login page first, so there is a Hydra call to see.
      expect((await fetch(`http://127.0.0.1:${port}/login?login_challenge=${hydra.addLoginRequest()}`)).status).toBe(200);

      const scraped = await fetch(`${metricsUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(scraped.status).toBe(200);
      const text = await scraped.text();
      expect(value(text, 'hlc_hydra_request_duration_seconds_count', { operation: 'getLoginRequest' })).toBe(1);
      expect(text).toContain('process_resident_memory_bytes');
      expect(text).toContain('hlc_database_query_duration_seconds');
      expect((await fetch(`${metricsUrl}/metrics`)).status).toBe(401);
      expect((await fetch(`${metricsUrl}/`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await expect(fetch(`${metricsUrl}/metrics`)).rejects.toThrow();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 40_000);
});
