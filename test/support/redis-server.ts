/**
 * A real redis-server (the Debian package) for tests: one throwaway process per test file, on a
 * free port, persisting nothing. It can be stopped and started again on the same port to play
 * "Redis went away and came back", and frozen (SIGSTOP) to play "Redis is up but not answering".
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/free-port.js';

/** True when `redis-server` is on the PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Whether a Redis test file should skip: only when redis-server is missing outside CI. On CI
 * (which installs it) a missing binary must fail the run, not pass it silently.
 */
export function skipWithoutRedis(): boolean {
  if (hasRedisServer()) return false;
  if (process.env.CI) return false;
  console.warn('skipping Redis tests: redis-server is not installed (apt-get install -y redis-server)');
  return true;
}

export interface RedisServer {
  port: number;
  url: string;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops it for good and removes its working directory. */
  close(): Promise<void>;
  /**
   * SIGSTOP: the process stays, its port keeps accepting TCP connections (the kernel does that),
   * but nothing is answered. stop() and close() thaw it first.
   */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
}

/** Resolves once something accepts TCP connections on the port and answers PING. */
async function waitForPing(port: number, child: ChildProcess, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const pong = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.setTimeout(500);
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (pong) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server did not answer on port ${port} within ${ms} ms`);
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'hlc-redis-'));
  let child: ChildProcess | undefined;
  let log = '';

  async function start(): Promise<void> {
    if (child && child.exitCode === null && child.signalCode === null) return;
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    try {
      await waitForPing(port, child);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${log}`);
    }
  }

  function signal(name: NodeJS.Signals): void {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(name);
  }

  async function stop(): Promise<void> {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    // A frozen process would leave SIGTERM pending until the SIGKILL below.
    running.kill('SIGCONT');
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  // Never leave a frozen or running redis-server behind if the test process ends without close().
  const reap = () => signal('SIGKILL');
  process.once('exit', reap);

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    async close() {
      process.removeListener('exit', reap);
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
