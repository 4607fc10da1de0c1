import type { AccountStore } from './accounts.js';
import { createUserStore, hashPassword, type StoredUser } from './file-store.js';
import { importUsers } from './import.js';
import type { UserStore } from './store.js';

/**
 * The demo user foo@bar.com / foobar that Hydra's own browser tests log in with. Only for
 * development: the server never creates it when NODE_ENV=production. The hash is computed
 * here, at call time, so no password hash of a public password sits in the source. "foobar"
 * breaks the password policy (too short, too common), which is why it goes in as a hash.
 */
async function demoUser(): Promise<StoredUser> {
  return {
    subject: 'foo@bar.com',
    email: 'foo@bar.com',
    email_verified: true,
    password_hash: await hashPassword('foobar'),
    profile: { name: 'Foo Bar', given_name: 'Foo', family_name: 'Bar', preferred_username: 'foo' },
  };
}

/** An in-memory store holding only the demo user (tests). */
export async function demoUserStore(): Promise<UserStore> {
  return createUserStore([await demoUser()]);
}

/**
 * Adds the demo user to a database unless it is there already, or was there and was deleted
 * (its subject is retired then, and stays gone). Returns whether it was created.
 */
export async function seedDemoUser(store: AccountStore): Promise<boolean> {
  if (await store.getBySubject('foo@bar.com')) return false;
  const { created } = await importUsers(store, [await demoUser()], { actor: 'system' });
  return created === 1;
}
