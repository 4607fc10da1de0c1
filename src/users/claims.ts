import type { ProfileClaims, User } from './store.js';

/** The OIDC Core §5.4 claims of the `profile` scope, in the order the spec lists them. */
export const PROFILE_CLAIM_NAMES = [
  'name',
  'family_name',
  'given_name',
  'middle_name',
  'nickname',
  'preferred_username',
  'profile',
  'picture',
  'website',
  'gender',
  'birthdate',
  'zoneinfo',
  'locale',
  'updated_at',
] as const satisfies readonly (keyof ProfileClaims)[];

// Compile-time guard: adding a field to ProfileClaims without listing it here fails the build.
type Unlisted = Exclude<keyof ProfileClaims, (typeof PROFILE_CLAIM_NAMES)[number]>;
const everyProfileClaimListed: [Unlisted] extends [never] ? true : false = true;
void everyProfileClaimListed;

/**
 * The claims Hydra should put in the ID token (`session.id_token` of the consent accept), chosen
 * by the scopes the user actually granted: `email` → email and email_verified, `profile` → the
 * standard profile claims the user has. Nothing else, so a user's data leaves only with consent.
 * `sub` is not included: Hydra sets it from the login subject.
 */
export function idTokenClaims(user: User, grantedScopes: readonly string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  if (grantedScopes.includes('email')) {
    claims.email = user.email;
    claims.email_verified = user.email_verified;
  }
  if (grantedScopes.includes('profile')) {
    // A whitelist, not a spread: whatever else sits on the object never reaches a token.
    for (const name of PROFILE_CLAIM_NAMES) {
      const value = user.profile[name];
      if (value !== undefined) claims[name] = value;
    }
  }
  return claims;
}
