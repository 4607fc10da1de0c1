import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createUserStore,
  hashPassword,
  loadUserFile,
  readUserFile,
  UserFileError,
  writeUserFile,
  type StoredUser,
} from '../../src/users/file-store.js';

let dir: string;
let aliceHash: string;
let bobHash: string;

const alice = (): StoredUser => ({
  subject: 'alice-1',
  email: 'Alice@Example.com',
  email_verified: true,
  password_hash: aliceHash,
  profile: { name: 'Alice Example', given_name: 'Alice' },
});
const bob = (): StoredUser => ({
  subject: 'bob-1',
  email: 'bob@example.com',
  email_verified: false,
  password_hash: bobHash,
  profile: {},
});

async function fileWith(name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** Loads and returns the UserFileError, failing the test if loading succeeds. */
async function loadError(path: string): Promise<UserFileError> {
  const error: unknown = await loadUserFile(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserFileError);
  return error as UserFileError;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'users-store-'));
  [aliceHash, bobHash] = await Promise.all([hashPassword('alice-password'), hashPassword('bob-password')]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hashPassword', () => {
  it('produces an argon2id PHC string with the OWASP parameters and a fresh salt', async () => {
    expect(aliceHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(await hashPassword('alice-password')).not.toBe(aliceHash);
  });
});

describe('loadUserFile', () => {
  it('loads a valid file and verifies credentials against it', async () => {
    const path = await fileWith('ok.json', { users: [alice(), bob()] });
    const store = await loadUserFile(path);
    const user = await store.verifyCredentials('alice@example.com', 'alice-password');
    expect(user).toEqual({
      subject: 'alice-1',
      email: 'Alice@Example.com',
      email_verified: true,
      profile: { name: 'Alice Example', given_name: 'Alice' },
    });
    expect(await store.findBySubject('bob-1')).toMatchObject({ email: 'bob@example.com', email_verified: false });
  });

  it('defaults email_verified to false and profile to {}', async () => {
    const { email_verified: _v, profile: _p, ...minimal } = bob();
    const path = await fileWith('minimal.json', { users: [minimal] });
    const store = await loadUserFile(path);
    expect(await store.findBySubject('bob-1')).toEqual({
      subject: 'bob-1',
      email: 'bob@example.com',
      email_verified: false,
      profile: {},
    });
  });

  it('loads the shipped users.example.json with the passwords its $comment documents', async () => {
    const path = fileURLToPath(new URL('../../users.example.json', import.meta.url));
    const store = await loadUserFile(path);
    expect(await store.verifyCredentials('alice@example.com', 'alice-example-password')).toMatchObject({
      email_verified: true,
    });
    expect(await store.verifyCredentials('bob@example.com', 'bob-example-password')).toBeDefined();
    const { $comment } = await readUserFile(path);
    expect($comment).toContain('alice-example-password');
  });

  it('a missing file is a UserFileError naming the file', async () => {
    const path = join(dir, 'does-not-exist.json');
    const error = await loadError(path);
    expect(error.message).toBe(`Users file ${path} does not exist`);
    expect(error.reason).toBe('not-found');
  });

  it('a directory instead of a file is a UserFileError', async () => {
    const error = await loadError(dir);
    expect(error.message).toMatch(new RegExp(`^Users file ${dir} cannot be read: EISDIR`));
  });

  it('bad JSON is a UserFileError naming the file', async () => {
    const path = await fileWith('bad.json', '{"users": [');
    const error = await loadError(path);
    expect(error.message).toMatch(new RegExp(`^Users file ${path} is not valid JSON: `));
    expect(error.reason).toBe('invalid-json');
  });

  it('an empty file is bad JSON', async () => {
    const path = await fileWith('empty.json', '');
    expect((await loadError(path)).message).toContain('is not valid JSON');
  });

  it('a hash that is not an argon2 PHC string names the entry', async () => {
    const path = await fileWith('bad-hash.json', {
      users: [alice(), { ...bob(), password_hash: '$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ012' }],
    });
    const error = await loadError(path);
    expect(error.message).toMatch(new RegExp(`^Users file ${path} is invalid: users\\[1\\]\\.password_hash: must be an argon2 PHC string`));
  });

  it('a plaintext password in password_hash is refused', async () => {
    const path = await fileWith('plain.json', { users: [{ ...alice(), password_hash: 'alice-password' }] });
    expect((await loadError(path)).message).toContain('users[0].password_hash: must be an argon2 PHC string');
  });

  it('duplicate emails are refused, case-insensitively', async () => {
    const path = await fileWith('dup-email.json', {
      users: [alice(), { ...bob(), email: 'ALICE@example.COM' }],
    });
    const error = await loadError(path);
    expect(error.message).toContain('users[1].email: duplicate email "ALICE@example.COM", already used by users[0]');
  });

  it('duplicate subjects are refused', async () => {
    const path = await fileWith('dup-subject.json', { users: [alice(), { ...bob(), subject: 'alice-1' }] });
    expect((await loadError(path)).message).toContain('users[1].subject: duplicate subject "alice-1"');
  });

  it('an address that is not an email is refused', async () => {
    const path = await fileWith('bad-email.json', { users: [{ ...alice(), email: 'alice' }] });
    expect((await loadError(path)).message).toContain('users[0].email: must be an email address');
  });

  it('a missing users array, unknown keys and non-http profile URLs are each named', async () => {
    expect((await loadError(await fileWith('no-users.json', {}))).message).toContain('users: ');
    const typo = await fileWith('typo.json', { users: [{ ...alice(), profile: { nmae: 'x' } }] });
    expect((await loadError(typo)).message).toMatch(/users\[0\]\.profile: Unrecognized key.*nmae/);
    const js = await fileWith('js-url.json', { users: [{ ...alice(), profile: { picture: 'javascript:alert(1)' } }] });
    expect((await loadError(js)).message).toContain('users[0].profile.picture: must be an http(s) URL');
    const empty = await fileWith('empty-subject.json', { users: [{ ...alice(), subject: '' }] });
    expect((await loadError(empty)).message).toContain('users[0].subject: must not be empty');
  });
});

describe('verifyCredentials', () => {
  it('right password → the user; wrong password → undefined; unknown email → undefined', async () => {
    const store = createUserStore([alice(), bob()]);
    expect(await store.verifyCredentials('bob@example.com', 'bob-password')).toMatchObject({ subject: 'bob-1' });
    expect(await store.verifyCredentials('bob@example.com', 'alice-password')).toBeUndefined();
    expect(await store.verifyCredentials('bob@example.com', '')).toBeUndefined();
    expect(await store.verifyCredentials('nobody@example.com', 'bob-password')).toBeUndefined();
    expect(await store.verifyCredentials('', '')).toBeUndefined();
  });

  it('looks emails up case-insensitively and trimmed', async () => {
    const store = createUserStore([alice()]);
    expect(await store.verifyCredentials('  ALICE@example.COM \n', 'alice-password')).toMatchObject({ subject: 'alice-1' });
  });

  it('passwords are compared exactly (case and whitespace matter)', async () => {
    const store = createUserStore([alice()]);
    expect(await store.verifyCredentials('alice@example.com', 'ALICE-PASSWORD')).toBeUndefined();
    expect(await store.verifyCredentials('alice@example.com', 'alice-password ')).toBeUndefined();
  });

  it('treats non-string input (an untyped request body) as a failed login, not a crash', async () => {
    const store = createUserStore([alice()]);
    const untyped = store.verifyCredentials as (email: unknown, password: unknown) => Promise<unknown>;
    expect(await untyped(['alice@example.com'], 'alice-password')).toBeUndefined();
    expect(await untyped('alice@example.com', { $ne: '' })).toBeUndefined();
  });

  it('never returns the password hash, and returned users cannot be mutated', async () => {
    const store = createUserStore([alice()]);
    const user = await store.verifyCredentials('alice@example.com', 'alice-password');
    expect(user).toBeDefined();
    expect(Object.keys(user!)).not.toContain('password_hash');
    expect(JSON.stringify(user)).not.toContain('$argon2');
    expect(JSON.stringify(await store.findBySubject('alice-1'))).not.toContain('$argon2');
    expect(() => {
      (user as { email: string }).email = 'mallory@example.com';
    }).toThrow(TypeError);
  });
});

describe('findBySubject', () => {
  it('finds by exact subject only', async () => {
    const store = createUserStore([alice()]);
    expect(await store.findBySubject('alice-1')).toMatchObject({ email: 'Alice@Example.com' });
    expect(await store.findBySubject('ALICE-1')).toBeUndefined();
    expect(await store.findBySubject('Alice@Example.com')).toBeUndefined();
  });
});

describe('createUserStore', () => {
  it('validates its input like the file', () => {
    expect(() => createUserStore([alice(), { ...bob(), email: 'alice@EXAMPLE.com' }])).toThrow(
      /users\[1\]\.email: duplicate email/,
    );
  });
});

describe('writeUserFile', () => {
  it('writes a readable file with mode 0600 and leaves no temporary files', async () => {
    const sub = await mkdtemp(join(dir, 'write-'));
    const path = join(sub, 'users.json');
    await writeFile(path, 'old', { mode: 0o644 });
    await writeUserFile(path, { $comment: 'kept', users: [alice()] });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readUserFile(path)).toEqual({ $comment: 'kept', users: [alice()] });
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(sub)).toEqual(['users.json']);
  });

  it('refuses to write an invalid document and keeps the old file', async () => {
    const path = await fileWith('keep.json', { users: [bob()] });
    const before = await readFile(path, 'utf8');
    await expect(writeUserFile(path, { users: [bob(), bob()] })).rejects.toThrow(UserFileError);
    expect(await readFile(path, 'utf8')).toBe(before);
  });
});
