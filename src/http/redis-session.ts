import { RedisStore } from 'connect-redis';
import type { SessionData, Store } from 'express-session';
import type { RedisConnection } from '../redis.js';
import { sessionStoreUnavailable } from './session.js';

/*
 * The Redis session store, in a module of its own: deps.ts loads it (and the Redis client) only
 * when REDIS_URL is set, so a single-instance deployment never loads either.
 */

/** Every session in Redis is stored under this prefix. */
export const SESSION_PREFIX = 'hlc:sess:';

type StoreCallback = Parameters<RedisStore['get']>[1];

/**
 * connect-redis, with every round trip cut at the Redis deadline and every failure turned into
 * sessionStoreUnavailable()'s 503, so that a route that saves or regenerates a session itself
 * (admin login) gets the same clean answer as a session load, and a hung Redis answers at once
 * instead of never.
 */
class SharedSessionStore extends RedisStore {
  constructor(private readonly redis: RedisConnection) {
    super({ client: redis.client, prefix: SESSION_PREFIX });
  }
  /** Calls back exactly once: with the result, or with the 503 at the deadline (a late reply is dropped). */
  private bounded(op: Promise<unknown>, cb?: StoreCallback): Promise<unknown> {
    const result = this.redis.bounded(op);
    if (!cb) return result;
    return result.then(
      (data) => cb(null, data),
      (err: unknown) => cb(sessionStoreUnavailable(err)),
    );
  }
  override get(sid: string, cb?: StoreCallback) {
    return this.bounded(super.get(sid), cb);
  }
  override set(sid: string, data: SessionData, cb?: StoreCallback) {
    return this.bounded(super.set(sid, data), cb);
  }
  override touch(sid: string, data: SessionData, cb?: StoreCallback) {
    return this.bounded(super.touch(sid, data), cb);
  }
  override destroy(sid: string, cb?: StoreCallback) {
    return this.bounded(super.destroy(sid), cb);
  }
}

/** Sessions shared by every instance. The key expires with the cookie (connect-redis reads it). */
export function redisSessionStore(redis: RedisConnection): Store {
  return new SharedSessionStore(redis);
}
