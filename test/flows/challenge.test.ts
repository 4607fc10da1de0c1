import { maxHeaderSize } from 'node:http';
import { describe, expect, it } from 'vitest';
import { MAX_CHALLENGE_LENGTH, readChallenge } from '../../src/flows/challenge.js';
import { HttpError } from '../../src/http/errors.js';

describe('readChallenge', () => {
  it('takes the challenges real Hydras make: 32 hex (v1.11), ~1 kB (v2.3, short state), 5412 characters (v2.3, 4000-character state)', () => {
    for (const challenge of ['0123456789abcdef0123456789abcdef', 'x'.repeat(1036), 'x'.repeat(5412), 'x'.repeat(10_224)]) {
      expect(readChallenge(challenge, 'login_challenge')).toBe(challenge);
    }
  });

  it("is bounded by Node's default header limit: a GET request line cannot carry more", () => {
    expect(MAX_CHALLENGE_LENGTH).toBe(16 * 1024);
    // Node's --max-http-header-size (default 16 KiB): no longer challenge can arrive by GET.
    expect(MAX_CHALLENGE_LENGTH).toBeLessThanOrEqual(maxHeaderSize);
    expect(readChallenge('x'.repeat(MAX_CHALLENGE_LENGTH), 'login_challenge')).toHaveLength(MAX_CHALLENGE_LENGTH);
    const tooLong = (() => {
      try {
        readChallenge('x'.repeat(MAX_CHALLENGE_LENGTH + 1), 'login_challenge');
      } catch (err) {
        return err;
      }
    })();
    expect(tooLong).toBeInstanceOf(HttpError);
    expect(tooLong).toMatchObject({ status: 400, message: expect.stringContaining('too long') });
  });

  it('refuses missing, empty, blank and repeated values with 400', () => {
    for (const value of [undefined, '', '   ', ['a', 'b'], { a: 1 }, 42]) {
      expect(() => readChallenge(value, 'consent_challenge'), JSON.stringify(value)).toThrow(/needs a consent_challenge/);
    }
  });
});
