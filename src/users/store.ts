/**
 * The user store seam. The login flow verifies credentials through it, the consent flow reads
 * profile claims through it; a fork can swap the SQL database (src/users/sql/) for LDAP or
 * anything else by implementing these two methods and passing the result in as `deps.users`.
 * Account administration (the admin console, /account) uses the richer AccountStore of
 * src/users/accounts.ts, which the SQL store implements on top of this one.
 */

/** OpenID Connect Core §5.1 standard claims released with the `profile` scope. */
export interface ProfileClaims {
  name?: string;
  given_name?: string;
  family_name?: string;
  middle_name?: string;
  nickname?: string;
  preferred_username?: string;
  profile?: string;
  picture?: string;
  website?: string;
  gender?: string;
  birthdate?: string;
  zoneinfo?: string;
  locale?: string;
  /** Seconds since the epoch. */
  updated_at?: number;
}

export interface User {
  /** Stable identifier sent to Hydra as the login subject; never reassigned. */
  subject: string;
  email: string;
  email_verified: boolean;
  profile: ProfileClaims;
}

/** Where a sign-in comes from, for the stores that keep an audit trail (the SQL store does). */
export interface SignInContext {
  /** The client's address as Express sees it (`req.ip`, after TRUST_PROXY). */
  ip?: string;
}

export interface UserStore {
  /**
   * The user when the password matches and the account may sign in, otherwise undefined (a
   * disabled account looks exactly like a wrong password). Same cost whether or not the email
   * exists (no enumeration). A store that cannot answer throws StoreUnavailableError.
   */
  verifyCredentials(email: string, password: string, context?: SignInContext): Promise<User | undefined>;
  /** A user who may sign in; undefined for an unknown or disabled subject. */
  findBySubject(subject: string): Promise<User | undefined>;
}

/**
 * The store cannot answer right now (database unreachable, a deadline passed, locked): the error
 * handler answers 503, and the next request tries again. `message` is safe to log: no password,
 * no query parameters.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}
