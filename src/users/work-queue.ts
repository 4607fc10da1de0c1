/**
 * A bound on expensive work running at once. Each argon2id check takes ~19 MiB and ~20 ms of CPU
 * on a hashing thread (users/argon2.ts): without a bound, 200 concurrent sign-in POSTs queue 200
 * of them, take their memory and stall every other request behind them.
 * Here at most `concurrency` run, `queue` more wait in order, and the rest are refused at once
 * with WorkQueueFullError (the login flow answers 503 with Retry-After), costing nothing.
 */

export class WorkQueueFullError extends Error {
  override readonly name = 'WorkQueueFullError';
  constructor(
    readonly running: number,
    readonly waiting: number,
  ) {
    super(`busy: ${running} running, ${waiting} waiting`);
  }
}

export interface WorkQueue {
  /** Runs `task` when a slot is free; rejects with WorkQueueFullError when the queue is full too. */
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly running: number;
  readonly waiting: number;
}

export function createWorkQueue({ concurrency, queue }: { concurrency: number; queue: number }): WorkQueue {
  if (!(concurrency >= 1)) throw new RangeError('concurrency must be at least 1');
  let running = 0;
  const waiting: (() => void)[] = [];

  function release(): void {
    const next = waiting.shift();
    if (next) next(); // the slot passes straight on: `running` stays the same
    else running--;
  }

  return {
    get running() {
      return running;
    },
    get waiting() {
      return waiting.length;
    },
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (running < concurrency) running++;
      else if (waiting.length < queue) await new Promise<void>((resolve) => waiting.push(resolve));
      else throw new WorkQueueFullError(running, waiting.length);
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}
