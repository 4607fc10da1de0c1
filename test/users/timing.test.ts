import { performance } from 'node:perf_hooks';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

// Wrap (not replace) argon2 so the real work still happens and we can see every call.
vi.mock('../../src/users/argon2.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/users/argon2.js')>();
  return { ...actual, hash: vi.fn(actual.hash), verify: vi.fn(actual.verify) };
});

const argon2 = await import('../../src/users/argon2.js');
const { createUserStore, hashPassword } = await import('../../src/users/file-store.js');
type UserStore = import('../../src/users/store.js').UserStore;

const verifySpy = vi.mocked(argon2.verify);
const hashSpy = vi.mocked(argon2.hash);

let store: UserStore;
let knownHash: string;

beforeAll(async () => {
  knownHash = await hashPassword('the-right-password');
  store = createUserStore([
    { subject: 's-1', email: 'known@example.com', email_verified: true, password_hash: knownHash, profile: {} },
  ]);
});

beforeEach(() => {
  verifySpy.mockClear();
  hashSpy.mockClear();
});

describe('no account enumeration', () => {
  it('an unknown email still runs one argon2 verification, against a dummy argon2id hash with the same parameters', async () => {
    expect(await store.verifyCredentials('unknown@example.com', 'some-password')).toBeUndefined();
    expect(verifySpy).toHaveBeenCalledTimes(1);
    const [dummy, password] = verifySpy.mock.calls[0]!;
    expect(password).toBe('some-password');
    expect(dummy).not.toBe(knownHash);
    // Same algorithm and cost parameters as real hashes, so the work is the same.
    const params = (h: unknown) => String(h).split('$').slice(1, 4).join('$');
    expect(params(dummy)).toBe('argon2id$v=19$m=19456,t=2,p=1');
    expect(params(dummy)).toBe(params(knownHash));
  });

  it('a known email with a wrong password runs exactly one verification too', async () => {
    expect(await store.verifyCredentials('known@example.com', 'wrong-password')).toBeUndefined();
    expect(verifySpy).toHaveBeenCalledTimes(1);
    expect(verifySpy.mock.calls[0]![0]).toBe(knownHash);
  });

  it('the dummy hash is created once, not per request', async () => {
    await store.verifyCredentials('a@example.com', 'x');
    hashSpy.mockClear();
    const dummies = new Set<unknown>();
    for (const email of ['b@example.com', 'c@example.com', 'd@example.com']) {
      await store.verifyCredentials(email, 'x');
      dummies.add(verifySpy.mock.calls.at(-1)![0]);
    }
    expect(hashSpy).not.toHaveBeenCalled();
    expect(dummies.size).toBe(1);
    // And a second store shares it rather than hashing again.
    createUserStore([]);
    await createUserStore([]).verifyCredentials('e@example.com', 'x');
    expect(hashSpy).not.toHaveBeenCalled();
  });

  it('an unknown email takes about as long as a known email with a wrong password', async () => {
    const time = async (email: string) => {
      const start = performance.now();
      await store.verifyCredentials(email, 'wrong-password');
      return performance.now() - start;
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    await time('known@example.com'); // warm-up
    await time('unknown@example.com');
    // Interleaved samples, compared by median: a busy CPU slows both sides alike, and one
    // outlier cannot decide the result. Without the dummy verification the unknown path takes
    // microseconds against tens of milliseconds, far outside this band.
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 9; i++) {
      known.push(await time('known@example.com'));
      unknown.push(await time(`unknown-${i}@example.com`));
    }
    const ratio = median(unknown) / median(known);
    expect(ratio, `unknown ${median(unknown).toFixed(1)} ms vs known ${median(known).toFixed(1)} ms`).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});
