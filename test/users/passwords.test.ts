import { hash } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { accountTag, canonicalEmail } from '../../src/users/email.js';
import { hashPassword } from '../../src/users/file-store.js';
import { checkPassword, MAX_PASSWORD_LENGTH, needsRehash, verifyPassword } from '../../src/users/passwords.js';

describe('checkPassword (NIST SP 800-63B)', () => {
  it('accepts any long-enough password that is not known from breaches: no composition rules', () => {
    for (const ok of ['all lowercase words here', 'ohne ziffern und zeichen', '12345678901234567890x', 'ÄÖÜ äöü ß 日本語のパス']) {
      expect(checkPassword(ok), ok).toBeUndefined();
    }
  });

  it('counts code points after NFKC: 8 emoji or accented letters are 8 characters', () => {
    expect(checkPassword('🔑🔑🔑🔑🔑🔑🔑🔑')).toBeUndefined();
    expect(checkPassword('🔑🔑🔑🔑🔑🔑🔑')?.code).toBe('too-short');
    expect(checkPassword('e\u0301'.repeat(8))).toBeUndefined(); // 16 code points raw, 8 composed
  });

  it('refuses too short (configurable minimum), too long, and common or breached passwords', () => {
    expect(checkPassword('seven77')).toEqual({ code: 'too-short', message: 'Use at least 8 characters.' });
    expect(checkPassword('eleven char', { minLength: 12 })?.code).toBe('too-short');
    expect(checkPassword('x'.repeat(MAX_PASSWORD_LENGTH))).toBeUndefined();
    expect(checkPassword('x'.repeat(MAX_PASSWORD_LENGTH + 1))?.code).toBe('too-long');
    for (const common of ['password', 'Password1', '12345678', 'qwertyuiop', 'iloveyou', 'sunshine', 'trustno1', 'BASEBALL']) {
      expect(checkPassword(common)?.code, common).toBe('too-common');
    }
  });

  it('refuses the account\'s own email address or its local part, or its name', () => {
    expect(checkPassword('dorothy.gale@example.com', undefined, ['Dorothy.Gale@example.com'])?.code).toBe('matches-account');
    expect(checkPassword('dorothy.gale', undefined, ['dorothy.gale@example.com'])?.code).toBe('matches-account');
    expect(checkPassword('Dorothy Gale', undefined, [undefined, 'dorothy gale'])?.code).toBe('matches-account');
    expect(checkPassword('dorothy gale of kansas', undefined, ['dorothy.gale@example.com', 'Dorothy Gale'])).toBeUndefined();
  });
});

describe('argon2 helpers', () => {
  it('needsRehash: false for this project\'s parameters, true for other costs, variants or garbage', async () => {
    expect(needsRehash(await hashPassword('x'))).toBe(false);
    expect(needsRehash(await hash('x', { algorithm: 2, memoryCost: 8192, timeCost: 2, parallelism: 1 }))).toBe(true);
    expect(needsRehash(await hash('x', { algorithm: 1, memoryCost: 19456, timeCost: 2, parallelism: 1 }))).toBe(true); // argon2i
    expect(needsRehash('$2b$10$bcrypt.hash.is.not.argon')).toBe(true);
  });

  it('verifyPassword: NFKC form first, then the raw string (hashes made before normalisation)', async () => {
    const normalized = await hashPassword('ﬁve ﬁsh'.normalize('NFKC'));
    expect(await verifyPassword(normalized, 'ﬁve ﬁsh')).toBe(true); // the ligature folds to "fi"
    const raw = await hashPassword('ﬁve ﬁsh');
    expect(await verifyPassword(raw, 'ﬁve ﬁsh')).toBe(true);
    expect(await verifyPassword(raw, 'five fish')).toBe(false);
  });
});

describe('email canonical form and account tag', () => {
  it('folds case, Unicode composition and compatibility forms into one key', () => {
    const key = canonicalEmail('José@Example.com');
    expect(canonicalEmail('  JOSÉ@EXAMPLE.COM ')).toBe(key);
    expect(canonicalEmail('Jose\u0301@example.com')).toBe(key);
    expect(canonicalEmail('José@ｅｘａｍｐｌｅ.com')).toBe(key);
    expect(accountTag('JOSE\u0301@example.com')).toBe(accountTag('josé@example.com'));
    expect(accountTag('a@example.com')).toMatch(/^[A-Za-z0-9_-]{12}$/);
  });
});
