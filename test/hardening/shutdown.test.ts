import { spawn, type ChildProcess } from 'node:child_process';
import { get, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { startFakeHydra, type FakeHydra } from '../support/fake-hydra.js';
import { freePort } from '../../scripts/free-port.js';
import { skipWithoutRedis, startRedisServer } from '../support/redis-server.js';
import { TEST_SESSION_SECRET } from '../support/test-app.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Running {
  child: ChildProcess;
  port: number;
  output: () => string;
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
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await until(() => output.includes('"msg":"listening"') || child.exitCode !== null, 20_000, () => output);
  if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
  return { child, port, output: () => output, exited };
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
});
