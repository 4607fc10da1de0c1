import type { Logger } from 'pino';
import { createClient } from 'redis';

export type RedisClient = ReturnType<typeof createClient>;

/** The one Redis connection of a process: sessions and rate-limit counters share it. */
export interface RedisConnection {
  readonly client: RedisClient;
  /** True while connected and able to take commands right now. */
  isReady(): boolean;
  /** Resolves once connected (true), or false after `ms` without a connection. */
  waitUntilReady(ms: number): Promise<boolean>;
  /**
   * The round trip `op`, cut at the deadline: rejects with RedisTimeoutError when Redis has not
   * answered by then. Every command the app sends goes through this (sessions, counters, PING).
   */
  bounded<T>(op: Promise<T>): Promise<T>;
  /** A real PING within the deadline: true only when Redis answered it. */
  ping(): Promise<boolean>;
  /** Sends QUIT after pending replies, or drops the socket when Redis is not there. */
  close(): Promise<void>;
}

export interface RedisOptions {
  url: string;
  logger: Logger;
  /** Each round trip that gets no reply within this time fails (a hung Redis must not hang requests). */
  commandTimeoutMs?: number;
  /** Longest pause between reconnection attempts. */
  maxReconnectDelayMs?: number;
  /** Told of every round trip through bounded() once it settled: seconds, and how it ended (the metrics hook). */
  onCommand?: (seconds: number, outcome: 'ok' | 'error' | 'timeout') => void;
}

/**
 * The deadline of one Redis round trip. A healthy Redis answers in well under a millisecond; past
 * this the request that needed it gets its 503 instead of waiting on a hung server.
 */
export const REDIS_DEADLINE_MS = 1000;

/** Redis did not answer within the deadline (up but hung, e.g. stopped with SIGSTOP, or swapping). */
export class RedisTimeoutError extends Error {
  override readonly name = 'RedisTimeoutError';
  constructor(ms: number) {
    super(`redis did not answer within ${ms} ms`);
  }
}

/** `op`, or a RedisTimeoutError after `ms`. A late reply is dropped (node-redis matches replies in order). */
export function withDeadline<T>(op: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(ms)), ms);
  });
  return Promise.race([op, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Backoff for reconnecting: 50 ms doubling to `max`, with jitter so a fleet of instances does
 * not reconnect in lockstep. Never gives up: the app keeps answering 503 until Redis is back.
 */
export function reconnectDelay(retries: number, max: number): number {
  const base = Math.min(50 * 2 ** Math.min(retries, 16), max);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/** Redis URLs may carry a password; logs get the host and port only. */
function describe(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return '[unparsable REDIS_URL]';
  }
}

/**
 * Creates the client and starts connecting in the background; it never throws for an
 * unreachable Redis. node-redis queues commands while disconnected by default, which would turn
 * "Redis is down" into requests that hang; with the offline queue disabled a command fails at
 * once, and the session and rate-limit layers answer 503 until the client is ready again.
 *
 * node-redis's own command timeout only covers the time a command waits in its queue: once
 * written, a command waits for its reply for ever. A Redis that is up but not answering (stopped,
 * swapping, a dead peer behind a live TCP connection) would hang every request, so each round trip
 * also goes through `bounded()`, which gives up at the deadline.
 */
export function createRedisConnection({ url, logger, commandTimeoutMs = REDIS_DEADLINE_MS, maxReconnectDelayMs = 2000, onCommand }: RedisOptions): RedisConnection {
  const where = describe(url);
  const log = logger.child({ component: 'redis', redis: where });
  const client: RedisClient = createClient({
    url,
    disableOfflineQueue: true,
    commandOptions: { timeout: commandTimeoutMs },
    socket: {
      connectTimeout: commandTimeoutMs,
      reconnectStrategy: (retries: number) => reconnectDelay(retries, maxReconnectDelayMs),
    },
  });

  // Without an 'error' listener an EventEmitter error crashes the process. While Redis stays
  // down every retry reports the same error: log the first at error level, the rest at debug.
  let down = false;
  client.on('error', (err: Error) => {
    const error = { type: err.name, message: err.message };
    if (!down) log.error({ error }, 'redis connection lost; sessions and sign-in limits answer 503 until it returns');
    else log.debug({ error }, 'redis still unreachable');
    down = true;
  });
  client.on('ready', () => {
    log.info(down ? 'redis connection restored' : 'redis connected');
    down = false;
  });

  let closing = false;
  // connect() resolves on the first successful connection and retries until then; it rejects
  // only when the client is closed first.
  const connected = client.connect().then(
    () => true,
    (err: unknown) => {
      if (!closing) log.error({ error: { message: err instanceof Error ? err.message : String(err) } }, 'redis connect failed');
      return false;
    },
  );

  const bounded = <T>(op: Promise<T>): Promise<T> => {
    if (!onCommand) return withDeadline(op, commandTimeoutMs);
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    return withDeadline(op, commandTimeoutMs).then(
      (value) => {
        onCommand(seconds(), 'ok');
        return value;
      },
      (err: unknown) => {
        onCommand(seconds(), err instanceof RedisTimeoutError ? 'timeout' : 'error');
        throw err;
      },
    );
  };
  return {
    client,
    isReady: () => client.isReady,
    bounded,
    async ping(): Promise<boolean> {
      if (!client.isReady) return false;
      try {
        return (await bounded(client.ping())) === 'PONG';
      } catch {
        return false;
      }
    },
    async waitUntilReady(ms: number): Promise<boolean> {
      if (client.isReady) return true;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      });
      try {
        return await Promise.race([connected.then(() => client.isReady), deadline]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close(): Promise<void> {
      if (closing) return;
      closing = true;
      if (client.isReady) {
        try {
          // QUIT waits for the replies still due; a hung Redis gets the deadline, then the socket drops.
          await bounded(client.close());
          return;
        } catch {
          // fall through: the connection went away while closing, or Redis did not answer
        }
      }
      if (client.isOpen) client.destroy();
    },
  };
}
