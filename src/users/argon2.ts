import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Options } from '@node-rs/argon2';

/**
 * argon2 off the event loop and behind it. @node-rs/argon2's own async functions run on libuv's
 * thread pool at the process's CPU priority: on a busy machine every sign-in's ~20 ms of hashing
 * then competes with the event loop on equal terms, and the pages rendered meanwhile wait. Here
 * each hash runs on a worker thread of our own that raises its own nice value (LOGIN_HASH_NICE;
 * on Linux nice is per thread), so when every core is busy the scheduler gives the event loop
 * its core first and hashing takes what is left. The event loop is one thread: on a machine of
 * its own it never takes more than one core, and the hashing threads have the rest whatever
 * their priority. What loses is a rush of sign-ins on a machine where other work at full
 * priority takes every core (in `npm run bench`, its own load generator): fewer complete.
 * How many hashes may run or wait is the login work queue's business (users/work-queue.ts); the
 * pool never starts more threads than cores, since more would not finish any sooner.
 */

/** The default nice value of the hashing threads (0 is the event loop's; 19 the lowest priority). */
export const HASHING_NICE = 10;

const MAX_THREADS = Math.max(1, availableParallelism());

// Plain CommonJS, run with `eval`: the same source in the build, under tsx and under vitest.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const argon2 = require(workerData.argon2);
if (workerData.nice !== undefined) {
  try { require('node:os').setPriority(0, workerData.nice); } catch {}
}
parentPort.on('message', ({ id, op, args }) => {
  try {
    const value = op === 'hash' ? argon2.hashSync(args[0], args[1]) : argon2.verifySync(args[0], args[1]);
    parentPort.postMessage({ id, value });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

const ARGON2_ENTRY = createRequire(import.meta.url).resolve('@node-rs/argon2');
// setPriority(0) lowers the calling thread on Linux, the whole process elsewhere (macOS, Windows),
// where the hashing threads keep the process's priority.
const PER_THREAD_PRIORITY = process.platform === 'linux';
let nice = HASHING_NICE;

/**
 * The nice value of hashing threads started from now on (LOGIN_HASH_NICE; 0 hashes at the event
 * loop's priority). buildDeps sets it before anything hashes.
 */
export function setHashingNice(value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 19) throw new RangeError('nice must be an integer from 0 to 19');
  nice = value;
}

type Operation = 'hash' | 'verify';

interface Job {
  id: number;
  op: Operation;
  args: unknown[];
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface HashingThread {
  worker: Worker;
  job?: Job;
}

const idle: HashingThread[] = [];
const threads = new Set<HashingThread>();
const waiting: Job[] = [];
let nextId = 0;

function startThread(): HashingThread {
  const workerData = { argon2: ARGON2_ENTRY, nice: PER_THREAD_PRIORITY && nice > 0 ? nice : undefined };
  const thread: HashingThread = { worker: new Worker(WORKER_SOURCE, { eval: true, workerData }) };
  thread.worker.on('message', (message: { id: number; value?: unknown; error?: string }) => {
    const job = thread.job;
    if (!job || job.id !== message.id) return;
    thread.job = undefined;
    // An idle hashing thread never keeps the process alive; a busy one does (the users CLI).
    thread.worker.unref();
    if (message.error === undefined) job.resolve(message.value);
    else job.reject(new Error(message.error));
    dispatch(thread);
  });
  const fail = (error: Error) => {
    if (!threads.delete(thread)) return; // 'error' is followed by 'exit'
    const index = idle.indexOf(thread);
    if (index >= 0) idle.splice(index, 1);
    const job = thread.job;
    thread.job = undefined;
    job?.reject(error);
    // A thread that died leaves its place to a fresh one for whatever is waiting.
    const next = waiting.shift();
    if (next) run(next);
  };
  thread.worker.on('error', fail);
  thread.worker.on('exit', (code) => fail(new Error(`hashing thread exited (${code})`)));
  threads.add(thread);
  return thread;
}

/** Gives a free thread the next waiting job, or parks it. */
function dispatch(thread: HashingThread): void {
  const next = waiting.shift();
  if (next) send(thread, next);
  else idle.push(thread);
}

function send(thread: HashingThread, job: Job): void {
  thread.job = job;
  thread.worker.ref();
  thread.worker.postMessage({ id: job.id, op: job.op, args: job.args });
}

function run(job: Job): void {
  const thread = idle.pop() ?? (threads.size < MAX_THREADS ? startThread() : undefined);
  if (thread) send(thread, job);
  else waiting.push(job);
}

function submit<T>(op: Operation, args: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    run({ id: nextId++, op, args, resolve: resolve as (value: unknown) => void, reject });
  });
}

/** argon2 PHC hash of `password` (as @node-rs/argon2's `hash`), on a hashing thread. */
export function hash(password: string, options: Readonly<Options>): Promise<string> {
  return submit('hash', [password, { ...options }]);
}

/** Whether `password` matches the PHC `hashed` (as @node-rs/argon2's `verify`), on a hashing thread. */
export function verify(hashed: string, password: string): Promise<boolean> {
  return submit('verify', [hashed, password]);
}
