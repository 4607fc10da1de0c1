import { createUserStore, hashPassword } from './file-store.js';
import type { UserStore } from './store.js';

/**
 * The demo user foo@bar.com / foobar that Hydra's own browser tests log in with. Only for
 * development: the server refuses to start in production without USERS_FILE. The hash is
 * computed here, at call time, so no password hash of a public password sits in the source.
 */
export async function demoUserStore(): Promise<UserStore> {
  return createUserStore([
    {
      subject: 'foo@bar.com',
      email: 'foo@bar.com',
      email_verified: true,
      password_hash: await hashPassword('foobar'),
      profile: { name: 'Foo Bar', given_name: 'Foo', family_name: 'Bar', preferred_username: 'foo' },
    },
  ]);
}
