import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAccountStore, type SqlAccountStore } from '../src/users/sql/store.js';
import { buildTestApp, type TestApp } from './support/test-app.js';

describe('/health/ready with the user database', () => {
  let dir: string;
  let store: SqlAccountStore;
  let t: TestApp;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'health-'));
    store = await openAccountStore({ dialect: 'sqlite', file: path.join(dir, 'accounts.db') });
    t = await buildTestApp({ deps: { accounts: store, users: store } });
  });
  afterAll(async () => {
    await t.close();
    await store.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('reports the database next to Hydra, and 503 once the database is gone', async () => {
    const up = await request(t.app).get('/health/ready');
    expect(up.status).toBe(200);
    expect(up.body).toEqual({ status: 'ok', hydra: 'ok', database: 'ok' });
    await store.close();
    const down = await request(t.app).get('/health/ready');
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ status: 'unavailable', hydra: 'ok', database: 'unreachable' });
  });
});
