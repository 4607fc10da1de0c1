import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomInt } from 'node:crypto';

/**
 * The secrets of second factors. TOTP secrets are sealed with AES-256-GCM under config.mfa.key
 * (MFA_ENCRYPTION_KEY): a copy of the database alone does not let anyone compute codes.
 *
 * Recovery codes are stored as HMAC-SHA256 under a key derived from the same key, not argon2:
 * each code carries 49 random bits (10 characters of a 30-letter alphabet), so even with the
 * database and no key an offline search is out of reach, and with a keyed hash the database
 * alone gives nothing to search with. A fast hash also keeps recovery codes out of the bounded
 * argon2 queue that password checks share (LOGIN_HASH_CONCURRENCY), and lets the lookup be one
 * indexed row by its digest (no timing leak: what is compared is the digest, not the code).
 */

const VERSION = 'v1';

/** `v1.<iv>.<ciphertext>.<tag>`, base64url; `aad` binds it to its account (a row copied to another user does not open). */
export function seal(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** The plaintext, or undefined when the value was not sealed by this key for this `aad`. */
export function open(key: Buffer, sealed: string, aad: string): string | undefined {
  const [version, iv, body, tag] = sealed.split('.');
  if (version !== VERSION || !iv || body === undefined || !tag) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/** Letters and digits without 0/O, 1/I/L and U: read off paper without doubt. */
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTVWXYZ23456789';
export const RECOVERY_CODE_COUNT = 10;
const CODE_LENGTH = 10;

/** Ten fresh codes, shown as `XXXXX-XXXXX`. ~49 bits each (30^10). */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    let code = '';
    for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
    return `${code.slice(0, 5)}-${code.slice(5)}`;
  });
}

/** What people type, canonical: case, spaces and dashes do not matter. undefined: not a code. */
export function normaliseRecoveryCode(input: string): string | undefined {
  const code = input.toUpperCase().replace(/[\s-]/g, '');
  return code.length === CODE_LENGTH && [...code].every((c) => CODE_ALPHABET.includes(c)) ? code : undefined;
}

/** The stored form: HMAC under a key of its own, bound to the account. */
export function hashRecoveryCode(key: Buffer, userId: string, code: string): string {
  const codeKey = createHmac('sha256', key).update('hlc recovery codes').digest();
  return createHmac('sha256', codeKey).update(`${userId}\0${code}`).digest('base64url');
}
