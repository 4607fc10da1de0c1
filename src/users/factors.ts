import type { AuditContext, NewAuditEvent } from './accounts.js';

/**
 * Second factors of an account, as the login flow, /account and the console see them. The SQL
 * store implements it (src/users/sql/factors.ts) on the same database as the accounts; secrets
 * arrive here already encrypted and recovery codes already hashed (src/mfa/secrets.ts), so the
 * store never holds a usable secret.
 *
 * Audit actions: factor.added, factor.used, factor.failed, factor.removed, factor.refused,
 * recovery_codes.generated (detail: the kind, and why for a failure or refusal).
 */

export type FactorKind = 'totp' | 'webauthn';

export interface Factor {
  id: string;
  user_id: string;
  kind: FactorKind;
  label: string;
  created_at: Date;
  last_used_at: Date | null;
}

/** A TOTP factor with what verification needs: the sealed secret and the last step accepted. */
export interface TotpFactor extends Factor {
  kind: 'totp';
  sealedSecret: string;
  lastStep: number;
}

/** A passkey with what verification needs. */
export interface PasskeyFactor extends Factor {
  kind: 'webauthn';
  credentialId: string;
  /** COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
  /** 'multiDevice' (synced: amr swk) or 'singleDevice' (bound to hardware: amr hwk). */
  deviceType: string;
}

export interface NewPasskey {
  label: string;
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: string;
  backedUp: boolean;
}

export interface LoginLevel {
  subject: string;
  level: number;
  amr: string[];
}

export interface FactorStore {
  /** Every factor of the account, oldest first. */
  list(userId: string): Promise<Factor[]>;
  totpFactors(userId: string): Promise<TotpFactor[]>;
  /** Stores a confirmed TOTP factor; `step` is the step of the code that confirmed it (used up). */
  addTotp(userId: string, input: { label: string; sealedSecret: string; step: number }, by: AuditContext): Promise<Factor>;
  /**
   * Records `step` as used, atomically: true only when it is later than the last step accepted,
   * so of two requests with the same code exactly one wins, and an older code never works again.
   */
  useTotpStep(factorId: string, step: number, by: AuditContext): Promise<boolean>;
  addPasskey(userId: string, passkey: NewPasskey, by: AuditContext): Promise<Factor>;
  passkeys(userId: string): Promise<PasskeyFactor[]>;
  passkeyByCredentialId(credentialId: string): Promise<PasskeyFactor | undefined>;
  /**
   * Records a passkey use, atomically: false (a replay) when the signature counter did not move
   * forward (unless the authenticator keeps none: both 0) or this challenge was already taken.
   */
  usePasskey(factorId: string, counter: number, challengeDigest: string, by: AuditContext): Promise<boolean>;
  /** Replaces every recovery code of the account with these hashes. */
  replaceRecoveryCodes(userId: string, hashes: readonly string[], by: AuditContext): Promise<void>;
  /** Uses the code up, atomically: true for the first use, false for an unknown or used one. */
  useRecoveryCode(userId: string, hash: string, by: AuditContext): Promise<boolean>;
  /** Unused recovery codes left. */
  recoveryCodesLeft(userId: string): Promise<number>;
  /** Removes one factor of the account (audited); false when it is not theirs or gone. */
  remove(userId: string, factorId: string, by: AuditContext): Promise<boolean>;
  /** Removes every recovery code of the account (audited). */
  removeRecoveryCodes(userId: string, by: AuditContext): Promise<boolean>;
  /** Keeps the level Hydra's login session `sessionId` reached (older rows are swept). */
  saveLoginLevel(sessionId: string, level: LoginLevel, keepForMs: number): Promise<void>;
  loginLevel(sessionId: string): Promise<LoginLevel | undefined>;
  audit(event: NewAuditEvent, by: AuditContext): Promise<void>;
}
