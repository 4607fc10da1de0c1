import { describe, expect, it } from 'vitest';
import { hash, HASHING_NICE, setHashingNice, verify } from '../../src/users/argon2.js';
import { ARGON2_OPTIONS } from '../../src/users/file-store.js';
import { threadNiceValues } from '../support/threads.js';

// A file of its own: the nice value applies to threads started after it is set, and each test
// file has its own pool.

describe('LOGIN_HASH_NICE', () => {
  it('refuses what nice cannot be', () => {
    expect(() => setHashingNice(20)).toThrow(RangeError);
    expect(() => setHashingNice(-1)).toThrow(RangeError);
    expect(() => setHashingNice(2.5)).toThrow(RangeError);
  });

  it.runIf(process.platform === 'linux')('0 hashes at the process priority: no thread is lowered', async () => {
    setHashingNice(0);
    const hashed = await hash('pw', { ...ARGON2_OPTIONS, memoryCost: 1024, timeCost: 1 });
    expect(await verify(hashed, 'pw')).toBe(true);
    const values = await threadNiceValues();
    expect(values).not.toContain(HASHING_NICE);
    expect(values.every((n) => n === 0)).toBe(true);
  });
});
