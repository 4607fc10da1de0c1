import { createRequire } from 'node:module';
import { verify } from './argon2.js';
import { ARGON2_OPTIONS } from './file-store.js';

/**
 * Password rules as NIST SP 800-63B (§5.1.1.2, and §3.1.1.2 of revision 4) puts them: a minimum
 * length, a generous maximum, no composition rules ("one digit, one symbol") and no expiry, and a
 * check against a list of passwords known from breaches. Length counts Unicode code points after
 * NFKC normalisation, which is also what gets hashed, so "8 characters" is what a person thinks.
 */

export const DEFAULT_MIN_PASSWORD_LENGTH = 8;
/** Far above any passphrase; argon2 hashes any length in the same time, this only bounds input. */
export const MAX_PASSWORD_LENGTH = 256;

export interface PasswordPolicy {
  /** At least 8 (NIST's floor); PASSWORD_MIN_LENGTH raises it. */
  minLength: number;
}

export type PasswordProblemCode = 'too-short' | 'too-long' | 'too-common' | 'matches-account';

export interface PasswordProblem {
  code: PasswordProblemCode;
  /** A sentence to show the person choosing the password. */
  message: string;
}

/**
 * The common-password list: 49,000 passwords from public breach corpora, as shipped (compressed)
 * inside the npm package @zxcvbn-ts/language-common. Nothing is downloaded at run time. Loaded on
 * the first check, not at start-up: only setting a password needs it (~190 ms, ~10 MB once).
 */
let commonPasswords: Set<string> | undefined;

function isCommon(password: string): boolean {
  if (commonPasswords === undefined) {
    const require = createRequire(import.meta.url);
    const { dictionary } = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
    commonPasswords = new Set(dictionary['passwords-common'].map((entry) => entry.toLowerCase()));
  }
  return commonPasswords.has(password.toLowerCase());
}

/** NIST's "Normalization Process for Stabilized Strings": what is hashed and what is measured. */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/**
 * Why `password` may not be chosen, or undefined when it may. `context` holds words specific to
 * this account (its email address, its name): a password equal to one of them is refused too.
 */
export function checkPassword(
  password: string,
  policy: PasswordPolicy = { minLength: DEFAULT_MIN_PASSWORD_LENGTH },
  context: readonly (string | undefined)[] = [],
): PasswordProblem | undefined {
  const normalized = normalizePassword(password);
  const length = [...normalized].length;
  if (length < policy.minLength) {
    return { code: 'too-short', message: `Use at least ${policy.minLength} characters.` };
  }
  if (length > MAX_PASSWORD_LENGTH) {
    return { code: 'too-long', message: `Use at most ${MAX_PASSWORD_LENGTH} characters.` };
  }
  const lower = normalized.toLowerCase();
  for (const word of context) {
    if (word === undefined || word === '') continue;
    const w = word.normalize('NFKC').toLowerCase();
    if (lower === w || lower === w.split('@')[0]) {
      return { code: 'matches-account', message: 'Choose a password that is not your email address or name.' };
    }
  }
  if (isCommon(normalized)) {
    return { code: 'too-common', message: 'This password is too common: it appears in lists of leaked passwords. Choose another one.' };
  }
  return undefined;
}

/**
 * Verifies against a stored hash. New hashes are of the NFKC form; a hash imported from the JSON
 * file may be of the raw string, so when normalisation changed anything the raw form is tried
 * too (a second argon2 run only for passwords that have such characters, known email or not).
 */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  const normalized = normalizePassword(password);
  if (await verify(hash, normalized)) return true;
  return normalized !== password && verify(hash, password);
}

/**
 * True when a hash was made with other argon2 settings than ARGON2_OPTIONS (another variant,
 * cost or version): after a successful sign-in the store re-hashes the password, so raising the
 * parameters upgrades every active account as people sign in.
 */
export function needsRehash(hash: string): boolean {
  const match = /^\$(argon2(?:id|i|d))\$(?:v=(\d+)\$)?m=(\d+),t=(\d+),p=(\d+)\$/.exec(hash);
  if (!match) return true;
  const [, variant, version, m, t, p] = match;
  return (
    variant !== 'argon2id' ||
    version !== '19' ||
    Number(m) !== ARGON2_OPTIONS.memoryCost ||
    Number(t) !== ARGON2_OPTIONS.timeCost ||
    Number(p) !== ARGON2_OPTIONS.parallelism
  );
}
