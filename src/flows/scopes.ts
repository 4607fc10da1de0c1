/** Plain-language descriptions of well-known scopes, for the consent screen. Forks add their own. */
const DESCRIPTIONS: Record<string, string> = {
  openid: 'Confirm who you are (your account identifier)',
  profile: 'See your profile: name and basic details',
  email: 'See your email address',
  address: 'See your postal address',
  phone: 'See your phone number',
  offline_access: 'Stay connected when you are not using it (refresh tokens)',
  offline: 'Stay connected when you are not using it (refresh tokens)',
};

export function describeScope(scope: string): string {
  return DESCRIPTIONS[scope] ?? `Access "${scope}"`;
}
