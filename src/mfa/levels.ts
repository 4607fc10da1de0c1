import type { Config } from '../config.js';

/**
 * Authentication levels, and how they map to Hydra's `acr` and the client's `acr_values`.
 * Levels are ordered: 1 one factor (password, amr pwd), 2 two factors (pwd + otp, amr mfa),
 * 3 phishing-resistant (a passkey: hwk/swk). Their names on the wire are ACR_ONE_FACTOR,
 * ACR_TWO_FACTOR and ACR_PHISHING_RESISTANT (defaults urn:hlc:acr:1fa, :2fa, :phr).
 */

export type Level = 1 | 2 | 3;

export function acrFor(config: Pick<Config, 'mfa'>, level: number): string {
  const { acr } = config.mfa;
  return level >= 3 ? acr.phishingResistant : level === 2 ? acr.twoFactor : acr.oneFactor;
}

/**
 * The level the client asks for with acr_values (OIDC Core §3.1.2.1: space-separated, in order
 * of preference, any of them will do): the lowest of the values we know. Values we do not know
 * ask for nothing (Hydra forwards them verbatim; ignoring them is what "voluntary" means).
 */
export function requestedLevel(config: Pick<Config, 'mfa'>, acrValues: readonly string[] | undefined): Level {
  const { acr } = config.mfa;
  const known: Level[] = [];
  for (const value of acrValues ?? []) {
    if (value === acr.oneFactor) known.push(1);
    else if (value === acr.twoFactor) known.push(2);
    else if (value === acr.phishingResistant) known.push(3);
  }
  return known.length === 0 ? 1 : (Math.min(...known) as Level);
}

/** The amr (RFC 8176) of a login that used these methods; `mfa` whenever two factors were used. */
export function amrFor(methods: readonly string[]): string[] {
  const set = [...new Set(methods)];
  // `user` (the authenticator verified the person: PIN, biometrics) is a factor of its own.
  const factors = set.filter((m) => m !== 'mfa');
  if (factors.length >= 2 && !set.includes('mfa')) set.push('mfa');
  return set;
}

/** The level a set of amr values reaches. */
export function levelOf(amr: readonly string[]): Level {
  if (amr.includes('hwk') || amr.includes('swk')) return 3;
  return amr.includes('mfa') ? 2 : 1;
}
