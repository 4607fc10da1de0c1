import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, get, request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { startFakeHydra, type FakeHydra } from '../support/fake-hydra.js';
import { freePort } from '../../scripts/free-port.js';
import { skipWithoutRedis, startRedisServer } from '../support/redis-server.js';
import { formFields, TEST_SESSION_SECRET } from '../support/test-app.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Running {
  child: ChildProcess;
  port: number;
  /** stdout and stderr, interleaved. */
  output: () => string;
  /** stderr alone. */
  errors: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The real entry point, as `npm start` runs it (through tsx instead of the build). */
async function startServer(hydraUrl: string, env: Record<string, string> = {}): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      HYDRA_ADMIN_URL: hydraUrl,
      SESSION_SECRET: TEST_SESSION_SECRET,
      LOG_LEVEL: 'info',
      // A throwaway user database, never ./data/accounts.db.
      DATABASE_URL: 'sqlite::memory:',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    errors += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await until(() => output.includes('"msg":"listening"') || child.exitCode !== null, 20_000, () => output);
  if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
  return { child, port, output: () => output, errors: () => errors, exited };
}

async function until(condition: () => boolean, ms: number, explain = () => ''): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out\n${explain()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A GET on its own connection; resolves with the status and body, or the socket error. */
function fetchPage(url: string): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    get(url, { agent: false }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    }).on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('graceful shutdown (the real server process)', () => {
  let hydra: FakeHydra;
  let running: Running | undefined;
  beforeAll(async () => {
    hydra = await startFakeHydra();
  });
  afterEach(() => {
    hydra.setLatency(0);
    if (running?.child.exitCode === null) running.child.kill('SIGKILL');
    running = undefined;
  });
  afterAll(() => hydra.close());

  it('on SIGTERM refuses new connections, finishes the in-flight request, then exits 0', async () => {
    running = await startServer(hydra.url, { SHUTDOWN_TIMEOUT: '10' });
    const challenge = hydra.addLoginRequest();
    hydra.setLatency(1500);
    const callsBefore = hydra.calls.length;
    const inFlight = fetchPage(`http://127.0.0.1:${running.port}/login?login_challenge=${challenge}`);
    // The request is now waiting on a slow Hydra.
    await until(() => hydra.calls.length > callsBefore, 5000);

    running.child.kill('SIGTERM');
    await until(() => running!.output().includes('shutting down'), 5000, running.output);
    expect(await tryConnect(running.port)).toBe('ECONNREFUSED');

    const page = await inFlight;
    expect(page.error).toBeUndefined();
    expect(page.status).toBe(200);
    expect(page.body).toContain('Please log in');
    expect(await running.exited).toEqual({ code: 0, signal: null });
    expect(running.output()).toContain('"msg":"stopped"');
  }, 30_000);

  it('cuts what is still running at SHUTDOWN_TIMEOUT and still exits 0', async () => {
    running = await startServer(hydra.url, { SHUTDOWN_TIMEOUT: '1', HYDRA_TIMEOUT_MS: '30000' });
    const challenge = hydra.addLoginRequest();
    hydra.setLatency(20_000);
    const callsBefore = hydra.calls.length;
    const inFlight = fetchPage(`http://127.0.0.1:${running.port}/login?login_challenge=${challenge}`);
    await until(() => hydra.calls.length > callsBefore, 5000);
    const signalled = Date.now();
    running.child.kill('SIGTERM');
    expect(await running.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(5000);
    expect((await inFlight).error).toBeDefined();
    expect(running.output()).toContain('shutdown deadline reached');
  }, 30_000);

  it.skipIf(skipWithoutRedis())('closes its Redis connection and exits 0 when REDIS_URL is set', async () => {
    const redis = await startRedisServer();
    try {
      running = await startServer(hydra.url, { REDIS_URL: redis.url });
      expect(running.output()).toContain('"msg":"redis connected"');
      running.child.kill('SIGTERM');
      expect(await running.exited).toEqual({ code: 0, signal: null });
      expect(running.output()).toContain('"msg":"stopped"');
      expect(running.output()).not.toContain('"level":50');
    } finally {
      await redis.close();
    }
  }, 30_000);

  it('exits within the deadline, cleanly, when the reader of its stdout has gone (EPIPE)', async () => {
    running = await startServer(hydra.url, { SHUTDOWN_TIMEOUT: '5' });
    // A log shipper that dies before the app: our end of the pipe closes, writes get EPIPE.
    running.child.stdout!.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const signalled = Date.now();
    running.child.kill('SIGTERM');
    const exit = await Promise.race([running.exited, new Promise((resolve) => setTimeout(() => resolve('still running after 8 s'), 8000))]);
    const ms = Date.now() - signalled;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(ms).toBeLessThan(5000);
    expect(running.errors()).not.toContain('EPIPE');
  }, 30_000);

  it('answers every request that reached its socket before SIGTERM, with Connection: close, and exits right after the last answer', async () => {
    running = await startServer(hydra.url, { SHUTDOWN_TIMEOUT: '10' });
    const base = `http://127.0.0.1:${running.port}`;
    const first = hydra.addLoginRequest();
    const page = await fetch(`${base}/login?login_challenge=${first}`);
    const cookies = page.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');
    const { csrf } = formFields(await page.text());
    hydra.setLatency(200);

    // Eight browsers with keep-alive connections, each signing in on its own connection.
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    try {
      // The connections exist already, idle between requests, as a browser's do.
      await Promise.all(Array.from({ length: 8 }, () => new Promise<void>((resolve, reject) => {
        get(`${base}/health/alive`, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
      })));
      expect(Object.values(agent.freeSockets).flat()).toHaveLength(8);
      let lastAnswer = 0;
      const written: Promise<void>[] = [];
      const answers = Array.from({ length: 8 }, () => {
        const body = new URLSearchParams({ _csrf: csrf, challenge: hydra.addLoginRequest(), email: 'foo@bar.com', password: 'foobar', action: 'accept' }).toString();
        return new Promise<{ status?: number; connection?: string; error?: string }>((resolve) => {
          const req = request(`${base}/login`, {
            method: 'POST',
            agent,
            headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body), Cookie: cookies },
          }, (res) => {
            res.resume();
            res.on('end', () => {
              lastAnswer = Date.now();
              resolve({ status: res.statusCode, connection: res.headers.connection });
            });
          });
          req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
          written.push(new Promise((done) => req.once('finish', () => done())));
          req.end(body);
        });
      });
      // Every request is in its socket; 5 ms later the signal comes.
      await Promise.all(written);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running.child.kill('SIGTERM');

      const results = await Promise.all(answers);
      expect(results).toEqual(Array.from({ length: 8 }, () => ({ status: 302, connection: 'close' })));
      expect(await running.exited).toEqual({ code: 0, signal: null });
      const lingered = Date.now() - lastAnswer;
      // The keep-alive agent would hold its sockets open: the server must close them.
      expect(lingered).toBeLessThan(1000);
    } finally {
      agent.destroy();
    }
  }, 30_000);

  it('cuts a request whose body drips in slowly at REQUEST_TIMEOUT with a 408', async () => {
    running = await startServer(hydra.url, { REQUEST_TIMEOUT: '2' });
    const socket = connect(running.port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const started = Date.now();
    socket.write('POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\n');
    // One byte every 100 ms: 10000 bytes would take 1000 s.
    const drip = setInterval(() => socket.writable && socket.write('a'), 100);
    try {
      const cut = await Promise.race([closed.then(() => Date.now() - started), new Promise<string>((resolve) => setTimeout(() => resolve('not cut after 8 s'), 8000))]);
      expect(typeof cut).toBe('number');
      expect(cut as number).toBeGreaterThanOrEqual(2000);
      expect(cut as number).toBeLessThan(5000);
      expect(received).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  }, 30_000);
});
