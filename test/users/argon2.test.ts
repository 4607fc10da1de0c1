import { availableParallelism, getPriority } from 'node:os';
import * as native from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { hash, HASHING_NICE, verify } from '../../src/users/argon2.js';
import { ARGON2_OPTIONS } from '../../src/users/file-store.js';
import { threadNiceValues } from '../support/threads.js';

// Cheap parameters where the cost is beside the point.
const FAST = { ...ARGON2_OPTIONS, memoryCost: 1024, timeCost: 1 };

describe('argon2 on hashing threads', () => {
  it('hashes with the given parameters and verifies as @node-rs/argon2 does', async () => {
    const hashed = await hash('correct horse', ARGON2_OPTIONS);
    expect(hashed).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await verify(hashed, 'correct horse')).toBe(true);
    expect(await verify(hashed, 'wrong horse')).toBe(false);
    // Interchangeable with the library's own functions, both ways.
    expect(await native.verify(hashed, 'correct horse')).toBe(true);
    expect(await verify(await native.hash('battery staple', FAST), 'battery staple')).toBe(true);
  });

  it('rejects with an Error for a string that is not a PHC hash, and goes on working', async () => {
    await expect(verify('not-a-hash', 'x')).rejects.toThrow(Error);
    expect(await verify(await hash('still fine', FAST), 'still fine')).toBe(true);
  });

  it('finishes every job when more are submitted than there are threads', async () => {
    const hashed = await hash('pw', FAST);
    const count = availableParallelism() * 3 + 1;
    const results = await Promise.all(Array.from({ length: count }, (_, i) => verify(hashed, i % 2 === 0 ? 'pw' : 'other')));
    expect(results).toEqual(Array.from({ length: count }, (_, i) => i % 2 === 0));
  });

  it.runIf(process.platform === 'linux')('hashes at a lower CPU priority than the event loop (Linux: nice per thread)', async () => {
    await hash('pw', FAST);
    const nice = await threadNiceValues();
    expect(nice).toContain(HASHING_NICE);
    // Only the hashing threads: this thread (the event loop) keeps the process's priority.
    expect(getPriority(0)).toBe(0);
    expect(nice.filter((n) => n === 0).length).toBeGreaterThan(0);
  });
});
