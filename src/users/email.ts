import { createHash } from 'node:crypto';

/**
 * The key an email address is looked up and kept unique by: trimmed, Unicode NFKC (so a
 * decomposed "é", a full-width "ａ" or a ligature is the same address as its plain form), then
 * lower-cased. Two addresses that differ only in case or Unicode form are one account.
 * The address as the person typed it (trimmed, NFC) is what relying parties see in `email`.
 */
export function canonicalEmail(email: string): string {
  return email.trim().normalize('NFKC').toLowerCase();
}

/** The address to show and to put in the `email` claim: as given, trimmed, in composed form. */
export function displayEmail(email: string): string {
  return email.trim().normalize('NFC');
}

/**
 * A stable, non-reversible tag for an account in logs and in the audit trail: failed attempts
 * correlate, addresses stay out. For an ASCII address it equals the tag src/flows/login.ts logs.
 */
export function accountTag(email: string): string {
  return createHash('sha256').update(canonicalEmail(email)).digest('base64url').slice(0, 12);
}
