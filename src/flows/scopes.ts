import type { Translate } from '../http/i18n.js';

/**
 * Plain-language descriptions of well-known scopes, for the consent screen and the account area's
 * "Connected applications": `scopes.<scope>` in the message catalogs (locales/<lang>.json). Forks
 * add their own scopes there, in every catalog; any other scope reads `scopes.other`
 * ('Access "<scope>"'). English is the catalog's too: i18next falls back to en.json.
 */
export function describeScope(scope: string, t: Translate): string {
  // Catalog keys are a scope's plain name: `a.b` or `ns:x` would be a path or a namespace to i18next.
  const plain = /^[A-Za-z0-9_-]+$/.test(scope) && scope !== 'other' && !(scope in Object.prototype);
  // The page escapes the description itself (`<%= %>`), so the catalog's text comes back raw.
  const options = { interpolation: { escapeValue: false } } as const;
  // Without options, so the translator's memo keeps it (src/http/i18n.ts); i18next answers a
  // missing key with the key itself.
  const key = `scopes.${scope}`;
  const known = plain ? t(key) : key;
  return typeof known === 'string' && known !== key ? known : t('scopes.other', { ...options, scope });
}
