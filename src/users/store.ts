/**
 * The user store seam. The login flow verifies credentials through it, the consent flow reads
 * profile claims through it; a fork can swap the JSON file for LDAP or a database by implementing
 * these two methods and passing the result in as `deps.users`.
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

export interface UserStore {
  /** The user when the password matches, otherwise undefined. Same cost whether or not the email exists (no enumeration). */
  verifyCredentials(email: string, password: string): Promise<User | undefined>;
  findBySubject(subject: string): Promise<User | undefined>;
}
