import { describe, expect, it } from 'vitest';
import { idTokenClaims, PROFILE_CLAIM_NAMES } from '../../src/users/claims.js';
import { demoUserStore } from '../../src/users/demo.js';
import type { User } from '../../src/users/store.js';

const user: User = {
  subject: 'u-1',
  email: 'ada@example.com',
  email_verified: true,
  profile: {
    name: 'Ada Lovelace',
    given_name: 'Ada',
    family_name: 'Lovelace',
    picture: 'https://example.com/ada.png',
    birthdate: '1815-12-10',
    updated_at: 1700000000,
    nickname: undefined,
  },
};

describe('idTokenClaims', () => {
  it('email scope → email and email_verified only', () => {
    expect(idTokenClaims(user, ['openid', 'email'])).toEqual({ email: 'ada@example.com', email_verified: true });
  });

  it('email_verified false is sent as false, not dropped', () => {
    expect(idTokenClaims({ ...user, email_verified: false }, ['email'])).toEqual({
      email: 'ada@example.com',
      email_verified: false,
    });
  });

  it('profile scope → the profile claims the user has, without undefined values', () => {
    const claims = idTokenClaims(user, ['openid', 'profile']);
    expect(claims).toEqual({
      name: 'Ada Lovelace',
      given_name: 'Ada',
      family_name: 'Lovelace',
      picture: 'https://example.com/ada.png',
      birthdate: '1815-12-10',
      updated_at: 1700000000,
    });
    expect(Object.keys(claims)).not.toContain('nickname');
    expect(Object.keys(claims)).not.toContain('email');
  });

  it('both scopes → both sets', () => {
    expect(idTokenClaims(user, ['profile', 'email'])).toEqual({
      email: 'ada@example.com',
      email_verified: true,
      name: 'Ada Lovelace',
      given_name: 'Ada',
      family_name: 'Lovelace',
      picture: 'https://example.com/ada.png',
      birthdate: '1815-12-10',
      updated_at: 1700000000,
    });
  });

  it('no relevant scope → no claims', () => {
    expect(idTokenClaims(user, [])).toEqual({});
    expect(idTokenClaims(user, ['openid', 'offline_access', 'Email', 'profile:read'])).toEqual({});
  });

  it('never leaks a password hash or anything outside the standard claims', () => {
    const stored = {
      ...user,
      password_hash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
      profile: { ...user.profile, password_hash: '$argon2id$x', is_admin: true, sub: 'someone-else' },
    } as unknown as User;
    const claims = idTokenClaims(stored, ['openid', 'email', 'profile', 'address', 'phone']);
    expect(JSON.stringify(claims)).not.toContain('argon2');
    expect(Object.keys(claims)).not.toContain('password_hash');
    expect(Object.keys(claims)).not.toContain('is_admin');
    expect(Object.keys(claims)).not.toContain('sub');
    expect(Object.keys(claims).every((k) => k === 'email' || k === 'email_verified' || (PROFILE_CLAIM_NAMES as readonly string[]).includes(k))).toBe(true);
  });
});

describe('demoUserStore', () => {
  it('has foo@bar.com / foobar with subject foo@bar.com and non-empty claims', async () => {
    const store = await demoUserStore();
    const foo = await store.verifyCredentials('foo@bar.com', 'foobar');
    expect(foo).toEqual({
      subject: 'foo@bar.com',
      email: 'foo@bar.com',
      email_verified: true,
      profile: { name: 'Foo Bar', given_name: 'Foo', family_name: 'Bar', preferred_username: 'foo' },
    });
    expect(await store.verifyCredentials('foo@bar.com', 'wrong')).toBeUndefined();
    expect(await store.findBySubject('foo@bar.com')).toEqual(foo);
    expect(idTokenClaims(foo!, ['email', 'profile'])).toMatchObject({ email: 'foo@bar.com', name: 'Foo Bar' });
  });
});
