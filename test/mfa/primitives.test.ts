import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { acrFor, amrFor, levelOf, requestedLevel } from '../../src/mfa/levels.js';
import { hashRecoveryCode, newRecoveryCodes, normaliseRecoveryCode, open, seal } from '../../src/mfa/secrets.js';
import { matchTotp, newTotpSecret, TOTP_PERIOD, totpCode } from '../../src/mfa/totp.js';

const base = { HYDRA_ADMIN_URL: 'http://127.0.0.1:4445', SESSION_SECRET: 's'.repeat(32) };
const key = Buffer.alloc(32, 7);

describe('TOTP', () => {
  it('accepts the code of this step and of one step either side, and names the step it matched', () => {
    const secret = newTotpSecret();
    const now = 1_800_000_000_000;
    const step = Math.floor(now / 1000 / TOTP_PERIOD);
    expect(matchTotp(secret, totpCode(secret, now), now)).toBe(step);
    expect(matchTotp(secret, totpCode(secret, now - 30_000), now)).toBe(step - 1);
    expect(matchTotp(secret, totpCode(secret, now + 30_000), now)).toBe(step + 1);
    expect(matchTotp(secret, totpCode(secret, now - 60_000), now)).toBeUndefined();
    expect(matchTotp(secret, 'abcdef', now)).toBeUndefined();
  });
});

describe('sealed secrets and recovery codes', () => {
  it('opens only with the same key and the same account', () => {
    const sealed = seal(key, 'JBSWY3DPEHPK3PXP', 'totp:a');
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(open(key, sealed, 'totp:a')).toBe('JBSWY3DPEHPK3PXP');
    expect(open(key, sealed, 'totp:b')).toBeUndefined();
    expect(open(Buffer.alloc(32, 8), sealed, 'totp:a')).toBeUndefined();
    expect(open(key, sealed.slice(0, -2) + 'AA', 'totp:a')).toBeUndefined();
  });

  it('makes ten distinct codes, reads them back however typed, and hashes them per account', () => {
    const codes = newRecoveryCodes();
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[A-Z2-9]{5}-[A-Z2-9]{5}$/);
    const typed = ` ${codes[0]!.toLowerCase().replace('-', ' ')} `;
    expect(normaliseRecoveryCode(typed)).toBe(codes[0]!.replace('-', ''));
    expect(normaliseRecoveryCode('123456')).toBeUndefined();
    const code = normaliseRecoveryCode(codes[0]!)!;
    expect(hashRecoveryCode(key, 'u1', code)).not.toBe(hashRecoveryCode(key, 'u2', code));
  });
});

describe('levels, acr and amr', () => {
  const { config } = loadConfig(base);
  it('maps levels to the configured acr names and acr_values to the lowest known level', () => {
    expect([1, 2, 3].map((l) => acrFor(config, l))).toEqual(['urn:hlc:acr:1fa', 'urn:hlc:acr:2fa', 'urn:hlc:acr:phr']);
    expect(requestedLevel(config, undefined)).toBe(1);
    expect(requestedLevel(config, ['urn:hlc:acr:2fa'])).toBe(2);
    expect(requestedLevel(config, ['something-else'])).toBe(1);
    expect(requestedLevel(config, ['urn:hlc:acr:phr', 'urn:hlc:acr:2fa'])).toBe(2);
  });
  it('adds mfa whenever two factors were used (RFC 8176)', () => {
    expect(amrFor(['pwd'])).toEqual(['pwd']);
    expect(amrFor(['pwd', 'otp'])).toEqual(['pwd', 'otp', 'mfa']);
    expect(levelOf(['pwd', 'otp', 'mfa'])).toBe(2);
    expect(levelOf(['pwd'])).toBe(1);
  });
});

describe('config', () => {
  it('defaults to MFA=optional with a key derived from SESSION_SECRET, and warns', () => {
    const { config, warnings } = loadConfig(base);
    expect(config.mfa.mode).toBe('optional');
    expect(config.mfa.key).toHaveLength(32);
    expect(warnings.some((w) => w.startsWith('MFA_ENCRYPTION_KEY is not set'))).toBe(true);
    expect(loadConfig({ ...base, MFA_ENCRYPTION_KEY: 'k'.repeat(32) }).warnings.some((w) => w.startsWith('MFA_ENCRYPTION_KEY'))).toBe(false);
    expect(loadConfig({ ...base, MFA: 'off' }).warnings.some((w) => w.startsWith('MFA_ENCRYPTION_KEY'))).toBe(false);
  });
  it('requires MFA_ENCRYPTION_KEY in production unless MFA=off, and refuses a short key or clashing acr names', () => {
    expect(() => loadConfig({ ...base, NODE_ENV: 'production' })).toThrow(/MFA_ENCRYPTION_KEY is required/);
    expect(loadConfig({ ...base, NODE_ENV: 'production', MFA: 'off' }).config.mfa.mode).toBe('off');
    expect(() => loadConfig({ ...base, MFA_ENCRYPTION_KEY: 'short' })).toThrow(/at least 32/);
    expect(() => loadConfig({ ...base, ACR_TWO_FACTOR: 'urn:hlc:acr:1fa' })).toThrow(/must differ/);
  });
});
