/** Parent side of bench/fake-hydra-process.ts: start it, seed challenges, set latency, stop it. */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ConsentRequest, LoginRequest } from '../src/hydra/types.js';

export type FakeCommand =
  | { cmd: 'seed'; kind: 'login'; count: number; overrides?: Partial<LoginRequest> }
  | { cmd: 'seed'; kind: 'consent'; count: number; overrides?: Partial<ConsentRequest> }
  | { cmd: 'latency'; ms: number }
  /** Admin API calls answered since start. */
  | { cmd: 'served' };

export interface FakeReply {
  id: number;
  result?: unknown;
  error?: string;
}

export interface FakeHydraProcess {
  url: string;
  pid: number;
  port: number;
  seedLogin(count: number, overrides?: Partial<LoginRequest>): Promise<string[]>;
  seedConsent(count: number, overrides?: Partial<ConsentRequest>): Promise<string[]>;
  setLatency(ms: number): Promise<void>;
  served(): Promise<number>;
  stop(): Promise<void>;
}

export async function startFakeHydraProcess(): Promise<FakeHydraProcess> {
  const child: ChildProcess = fork(path.join(import.meta.dirname, 'fake-hydra-process.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  let nextId = 1;
  const url = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`fake Hydra exited with ${code} before it listened`)));
    child.once('message', (reply: FakeReply) => resolve(String(reply.result)));
  });
  child.removeAllListeners('exit');
  child.on('message', (reply: FakeReply) => {
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.error !== undefined) waiter.reject(new Error(`fake Hydra: ${reply.error}`));
    else waiter.resolve(reply.result);
  });

  const call = <T>(command: FakeCommand): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ id, command });
    });

  return {
    url,
    pid: child.pid ?? 0,
    port: Number(new URL(url).port),
    // Seeding in batches keeps each IPC message small.
    async seedLogin(count, overrides) {
      const out: string[] = [];
      for (let done = 0; done < count; done += 500) out.push(...(await call<string[]>({ cmd: 'seed', kind: 'login', count: Math.min(500, count - done), overrides })));
      return out;
    },
    async seedConsent(count, overrides) {
      const out: string[] = [];
      for (let done = 0; done < count; done += 500) out.push(...(await call<string[]>({ cmd: 'seed', kind: 'consent', count: Math.min(500, count - done), overrides })));
      return out;
    },
    setLatency: (ms) => call<void>({ cmd: 'latency', ms }),
    served: () => call<number>({ cmd: 'served' }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
