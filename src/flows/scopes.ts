import type { Translate } from '../http/i18n.js';

/**
 * Plain-language descriptions of well-known scopes, for the consent screen: `scopes.<scope>` in
 * the message catalogs (locales/<lang>.json). Forks add their own scopes there, in every catalog;
 * any other scope reads `scopes.other` ('Access "<scope>"').
 */
export function describeScope(scope: string, t?: Translate): string {
  if (!t) return ENGLISH_UNTIL_ACCOUNT_IS_CONVERTED[scope] ?? `Access "${scope}"`;
  // Catalog keys are a scope's plain name: `a.b` or `ns:x` would be a path or a namespace to i18next.
  const plain = /^[A-Za-z0-9_-]+$/.test(scope) && scope !== 'other' && !(scope in Object.prototype);
  // The page escapes the description itself (`<%= %>`), so the catalog's text comes back raw.
  const options = { interpolation: { escapeValue: false } } as const;
  const known = plain ? t(`scopes.${scope}`, { ...options, defaultValue: '' }) : '';
  return typeof known === 'string' && known !== '' ? known : t('scopes.other', { ...options, scope });
}

/**
 * The English descriptions for callers without a translator: only the account area's
 * "Applications" page (src/account/pages.ts), which is not converted to the catalogs yet. Drop it
 * when that page passes its `t`. test/http/locale.test.ts checks it matches locales/en.json.
 */
export const ENGLISH_UNTIL_ACCOUNT_IS_CONVERTED: Readonly<Record<string, string>> = Object.assign(Object.create(null) as Record<string, string>, {
  openid: 'Confirm who you are (your account identifier)',
  profile: 'See your profile: name and basic details',
  email: 'See your email address',
  address: 'See your postal address',
  phone: 'See your phone number',
  offline_access: 'Stay connected when you are not using it (refresh tokens)',
  offline: 'Stay connected when you are not using it (refresh tokens)',
});
