import { createHash } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Config } from '../config.js';
import type { AuditContext } from '../users/accounts.js';
import type { FactorStore, PasskeyFactor } from '../users/factors.js';

/**
 * Passkeys (WebAuthn) with @simplewebauthn/server. The relying party is BASE_URL: its host is the
 * RP ID and its origin the only origin accepted, so an assertion made for any other site (or
 * relayed through one) fails. A passkey whose authenticator is synced (multiDevice) is amr `swk`,
 * one bound to its hardware `hwk`; `user` when the authenticator verified the person (PIN,
 * biometrics). Every refusal is audited: unknown credential, wrong origin, replay (the signature
 * counter did not move, or the same challenge again), a bad signature.
 */

export type PasskeyCheck =
  | { ok: true; userId: string; userVerified: boolean; amr: string[] }
  | { ok: false; reason: 'unknown-credential' | 'other-account' | 'wrong-origin' | 'replayed' | 'invalid' | 'no-user-verification' };

const digest = (challenge: string) => createHash('sha256').update(challenge).digest('base64url');

/** A browser's JSON, parsed without trusting its shape beyond what the library checks. */
export function parseCredential<T>(raw: unknown): T | undefined {
  if (typeof raw !== 'string' || raw.length > 12_000) return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string' ? (value as T) : undefined;
  } catch {
    return undefined;
  }
}

export function createPasskeys(config: Pick<Config, 'baseUrl'>, store: FactorStore) {
  const base = new URL(config.baseUrl);
  const rpID = base.hostname;
  const origin = base.origin;
  const transports = (p: PasskeyFactor) => p.transports as AuthenticatorTransport[];

  return {
    rpID,
    origin,

    async registrationOptions(account: { id: string; email: string }): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await store.passkeys(account.id);
      return generateRegistrationOptions({
        rpName: 'Sign-in',
        rpID,
        userName: account.email,
        userID: new TextEncoder().encode(account.id),
        attestationType: 'none',
        excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: transports(p) })),
        // Discoverable, so the same passkey signs in without an email address typed first.
        authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      });
    },

    async register(userId: string, raw: unknown, expectedChallenge: string, label: string, by: AuditContext): Promise<boolean> {
      const response = parseCredential<RegistrationResponseJSON>(raw);
      let verified = false;
      let reason = 'invalid';
      if (response) {
        try {
          const result = await verifyRegistrationResponse({ response, expectedChallenge, expectedOrigin: origin, expectedRPID: rpID, requireUserVerification: false });
          if (result.verified) {
            const { credential, credentialDeviceType, credentialBackedUp } = result.registrationInfo;
            await store.addPasskey(
              userId,
              {
                label,
                credentialId: credential.id,
                publicKey: Buffer.from(credential.publicKey).toString('base64url'),
                counter: credential.counter,
                transports: response.response.transports ?? [],
                deviceType: credentialDeviceType,
                backedUp: credentialBackedUp,
              },
              by,
            );
            verified = true;
          }
        } catch (err) {
          reason = /origin/i.test(err instanceof Error ? err.message : '') ? 'wrong-origin' : 'invalid';
        }
      }
      if (!verified) await store.audit({ action: 'factor.failed', user_id: userId, detail: `webauthn-register:${reason}` }, by);
      return verified;
    },

    /** Options for navigator.credentials.get: for `userId`'s passkeys (second factor), or any discoverable one (no password). */
    async authenticationOptions(userId?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const allow = userId ? await store.passkeys(userId) : [];
      return generateAuthenticationOptions({
        rpID,
        userVerification: userId ? 'preferred' : 'required',
        allowCredentials: allow.map((p) => ({ id: p.credentialId, transports: transports(p) })),
      });
    },

    async authenticate(raw: unknown, expectedChallenge: string, options: { userId?: string; requireUserVerification: boolean }, by: AuditContext): Promise<PasskeyCheck> {
      const response = parseCredential<AuthenticationResponseJSON>(raw);
      const passkey = response ? await store.passkeyByCredentialId(response.id) : undefined;
      const fail = async (reason: Exclude<PasskeyCheck, { ok: true }>['reason'], userId?: string): Promise<PasskeyCheck> => {
        await store.audit({ action: 'factor.failed', user_id: userId, detail: `webauthn:${reason}` }, by);
        return { ok: false, reason };
      };
      if (!response || !passkey) return fail('unknown-credential');
      if (options.userId !== undefined && passkey.user_id !== options.userId) return fail('other-account', options.userId);
      let result;
      try {
        result = await verifyAuthenticationResponse({
          response,
          expectedChallenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          credential: { id: passkey.credentialId, publicKey: Buffer.from(passkey.publicKey, 'base64url'), counter: passkey.counter, transports: transports(passkey) },
          requireUserVerification: options.requireUserVerification,
        });
      } catch (err) {
        const message = err instanceof Error ? err.message : '';
        return fail(/origin/i.test(message) ? 'wrong-origin' : /counter/i.test(message) ? 'replayed' : /verif/i.test(message) ? 'no-user-verification' : 'invalid', passkey.user_id);
      }
      if (!result.verified) return fail('invalid', passkey.user_id);
      const info = result.authenticationInfo;
      if (!(await store.usePasskey(passkey.id, info.newCounter, digest(expectedChallenge), by))) return fail('replayed', passkey.user_id);
      const amr = [info.credentialDeviceType === 'multiDevice' ? 'swk' : 'hwk', ...(info.userVerified ? ['user'] : [])];
      return { ok: true, userId: passkey.user_id, userVerified: info.userVerified, amr };
    },
  };
}

export type Passkeys = ReturnType<typeof createPasskeys>;
