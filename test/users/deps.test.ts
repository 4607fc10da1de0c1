// src/deps.ts builds the SQL store: migrated at start, the demo user only in an empty development
// database, USERS_FILE imported at each start without touching users already there.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/deps.js';
import type { AccountStore } from '../../src/users/accounts.js';

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hlc-deps-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<AccountStore> {
  const { config } = loadConfig({ HYDRA_ADMIN_URL: 'http://127.0.0.1:9', SESSION_SECRET: 'x'.repeat(32), ...env });
  const deps = await buildDeps(config, pino({ level: 'silent' }));
  expect(deps.accounts).toBe(deps.users);
  return deps.accounts!;
}

describe('buildDeps and the user database', () => {
  it('development, empty database: creates the file and the demo user foo@bar.com / foobar, once', async () => {
    const url = `sqlite:${join(dir, `db${++n}`, 'accounts.db')}`;
    const store = await start({ DATABASE_URL: url });
    expect(await store.verifyCredentials('foo@bar.com', 'foobar')).toMatchObject({ subject: 'foo@bar.com', profile: { name: 'Foo Bar' } });
    const demo = (await store.getByEmail('foo@bar.com'))!;
    await store.delete(demo.id, { actor: 'admin' });
    await store.close();
    // Deleted on purpose: a restart does not bring it back (its subject is retired).
    const again = await start({ DATABASE_URL: url });
    expect(await again.getByEmail('foo@bar.com')).toBeUndefined();
    await again.close();
  });

  it('production: never the demo user', async () => {
    const store = await start({ NODE_ENV: 'production', MFA_ENCRYPTION_KEY: 'k'.repeat(32), DATABASE_URL: `sqlite:${join(dir, `db${++n}`, 'accounts.db')}` });
    expect((await store.list()).items).toEqual([]);
    await store.close();
  });

  it('USERS_FILE is imported at start (users.example.json), idempotently, instead of the demo user', async () => {
    const url = `sqlite:${join(dir, `db${++n}`, 'accounts.db')}`;
    const store = await start({ DATABASE_URL: url, USERS_FILE: 'users.example.json' });
    const imported = (await store.list()).items;
    expect(imported.length).toBeGreaterThan(0);
    expect(imported.map((a) => a.email)).not.toContain('foo@bar.com');
    await store.close();
    const again = await start({ DATABASE_URL: url, USERS_FILE: 'users.example.json' });
    expect((await again.list()).items).toEqual(imported);
    await again.close();
  });
});
