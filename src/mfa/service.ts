import type { Config } from '../config.js';
import type { AuditContext } from '../users/accounts.js';
import type { Factor, FactorStore } from '../users/factors.js';
import { hashRecoveryCode, newRecoveryCodes, normaliseRecoveryCode, open, seal } from './secrets.js';
import { matchTotp, newTotpSecret, qrDataUri, totpUri } from './totp.js';

/**
 * What the login flow, /account and the console do with second factors, over the FactorStore:
 * the secrets are sealed and opened here and nowhere else, and every outcome is audited.
 */

export type CodeCheck =
  | { ok: true; method: 'totp' | 'recovery-code' }
  | { ok: false; reason: 'wrong-code' | 'reused-code' | 'malformed' };

export interface TotpEnrolment {
  /** base32, to show as text beside the QR code, and to keep (sealed) until the first code confirms it. */
  secret: string;
  sealed: string;
  uri: string;
  qr: string;
}

export interface Mfa {
  readonly store: FactorStore;
  factors(userId: string): Promise<Factor[]>;
  /** True when the account has a factor the second step can ask for. */
  hasFactor(userId: string): Promise<boolean>;
  /** A fresh secret for `userId`, sealed for the pending state (the account session or the login state cookie). */
  beginTotp(userId: string, accountLabel: string): Promise<TotpEnrolment>;
  /** Opens a pending sealed secret of `userId` again (to re-render the enrolment page). */
  pendingTotp(userId: string, sealed: string, accountLabel: string): Promise<TotpEnrolment | undefined>;
  /** Stores the factor when `code` matches the pending secret; false (audited) otherwise. */
  confirmTotp(userId: string, sealed: string, code: string, label: string, by: AuditContext): Promise<boolean>;
  /** A TOTP code or a recovery code, whichever `code` looks like. Audited either way. */
  checkCode(userId: string, code: string, by: AuditContext): Promise<CodeCheck>;
  /** Ten new recovery codes (the old ones stop working), to show once. */
  regenerateRecoveryCodes(userId: string, by: AuditContext): Promise<string[]>;
}

export function createMfa(config: Pick<Config, 'mfa' | 'baseUrl'>, store: FactorStore, now: () => number = Date.now): Mfa {
  const { key } = config.mfa;
  const issuer = new URL(config.baseUrl).host;
  // The sealed secret is bound to its account: moved to another user's row, it does not open.
  const aad = (userId: string) => `totp:${userId}`;

  async function enrolment(userId: string, secret: string, sealed: string, accountLabel: string): Promise<TotpEnrolment> {
    const uri = totpUri(secret, accountLabel, issuer);
    return { secret, sealed, uri, qr: await qrDataUri(uri) };
  }

  const mfa: Mfa = {
    store,
    factors: (userId) => store.list(userId),
    async hasFactor(userId) {
      return (await store.list(userId)).length > 0;
    },

    async beginTotp(userId, accountLabel) {
      const secret = newTotpSecret();
      return enrolment(userId, secret, seal(key, secret, aad(userId)), accountLabel);
    },

    async pendingTotp(userId, sealed, accountLabel) {
      const secret = open(key, sealed, aad(userId));
      return secret === undefined ? undefined : enrolment(userId, secret, sealed, accountLabel);
    },

    async confirmTotp(userId, sealed, code, label, by) {
      const secret = open(key, sealed, aad(userId));
      const step = secret === undefined ? undefined : matchTotp(secret, code, now());
      if (step === undefined) {
        await store.audit({ action: 'factor.failed', user_id: userId, detail: 'totp-confirm' }, by);
        return false;
      }
      // The confirming code's step is recorded as used: it cannot also sign in.
      await store.addTotp(userId, { label, sealedSecret: seal(key, secret!, aad(userId)), step }, by);
      return true;
    },

    async checkCode(userId, code, by) {
      const digits = code.replace(/\s/g, '');
      if (/^\d{6}$/.test(digits)) {
        let matched = false;
        for (const factor of await store.totpFactors(userId)) {
          const secret = open(key, factor.sealedSecret, aad(userId));
          const step = secret === undefined ? undefined : matchTotp(secret, digits, now());
          if (step === undefined) continue;
          matched = true;
          if (await store.useTotpStep(factor.id, step, by)) return { ok: true, method: 'totp' };
        }
        const reason = matched ? 'reused-code' : 'wrong-code';
        await store.audit({ action: 'factor.failed', user_id: userId, detail: `totp:${reason}` }, by);
        return { ok: false, reason };
      }
      const recovery = normaliseRecoveryCode(code);
      if (recovery === undefined) {
        await store.audit({ action: 'factor.failed', user_id: userId, detail: 'malformed' }, by);
        return { ok: false, reason: 'malformed' };
      }
      if (await store.useRecoveryCode(userId, hashRecoveryCode(key, userId, recovery), by)) return { ok: true, method: 'recovery-code' };
      await store.audit({ action: 'factor.failed', user_id: userId, detail: 'recovery-code:wrong-code' }, by);
      return { ok: false, reason: 'wrong-code' };
    },

    async regenerateRecoveryCodes(userId, by) {
      const codes = newRecoveryCodes();
      const hashes = codes.map((code) => hashRecoveryCode(key, userId, normaliseRecoveryCode(code)!));
      await store.replaceRecoveryCodes(userId, hashes, by);
      return codes;
    },
  };
  return mfa;
}
