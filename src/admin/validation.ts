import { createPrivateKey, createPublicKey, type JsonWebKey as NodeJwk } from 'node:crypto';
import { z } from 'zod';
import type { JsonWebKey } from '../hydra/types.js';
import { HttpError } from '../http/errors.js';
import { safeHttpUrl } from '../http/urls.js';

/**
 * Edge validation for what the console and the API send to Hydra: only what is cheap and what
 * Hydra would reject anyway (or what would be dangerous to store), so the operator hears about it
 * before the call, with the field named. Hydra stays the judge of everything else.
 */

/** Schemes a browser runs or reads locally: never a redirect target, never a link. */
const SCRIPT_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'filesystem:', 'about:']);

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** An absolute http(s) URL (the WHATWG parser refuses one without a host). */
function isHttpUrl(value: string): boolean {
  return safeHttpUrl(value) !== undefined;
}

/**
 * A redirect URI as Hydra takes it: absolute, no fragment. http(s) needs a host; a native app's
 * private-use scheme (com.example.app:/callback, RFC 8252 §7.1) is fine; script-ish schemes are not.
 */
function isRedirectUri(value: string): boolean {
  if (value.includes('#')) return false;
  const url = parseUrl(value);
  if (!url || SCRIPT_SCHEMES.has(url.protocol)) return false;
  if (url.protocol === 'http:' || url.protocol === 'https:') return url.host !== '';
  return /^[a-z][a-z0-9+.-]*:$/i.test(url.protocol);
}

/**
 * The field messages of these schemas that a console form words in its own language: each is the
 * English the JSON API answers with, under its catalog key `admin.validation.<key>` (admin/view.ts).
 */
export const FIELD_MESSAGES = {
  required: 'is required',
  redirect_uri: 'must be an absolute URI without a fragment (http(s), or a custom scheme for native apps)',
  http_url: 'must be an absolute http(s) URL',
  origin: 'must be an origin such as https://app.example.com',
  json_pointer: 'must be a JSON pointer such as /client_name',
  patch_empty: 'a JSON Patch needs at least one operation',
  sig_or_enc: 'must be sig or enc',
} as const;

/** A CORS origin: scheme://host[:port] and nothing else (Hydra rejects paths). */
function isOrigin(value: string): boolean {
  const url = parseUrl(value);
  return url !== undefined && isHttpUrl(value) && url.origin === value.replace(/\/$/, '');
}

const redirectUri = z.string().refine(isRedirectUri, FIELD_MESSAGES.redirect_uri);
/** Optional links (logo, policy, ...): empty is "not set", which is how Hydra stores them. */
const webUri = z.string().refine((value) => value === '' || isHttpUrl(value), FIELD_MESSAGES.http_url);
// Hydra answers null for fields it has no value for (v2.3: skip_logout_consent, lifespans), and a
// client read from Hydra must go back to it unchanged: every field here also takes null.
const opt = <T extends z.ZodType>(schema: T) => schema.nullable().optional();
const strings = opt(z.array(z.string()));

/**
 * An OAuth2 client as Hydra takes it. Fields this schema does not name pass through untouched
 * (lifespans, jwks, newer Hydra fields): Hydra decides about those.
 */
export const clientSchema = z.looseObject({
  client_id: opt(z.string().max(255)),
  client_name: opt(z.string().max(1024)),
  client_secret: opt(z.string()),
  redirect_uris: opt(z.array(redirectUri)),
  post_logout_redirect_uris: opt(z.array(redirectUri)),
  grant_types: strings,
  response_types: strings,
  audience: strings,
  contacts: strings,
  allowed_cors_origins: opt(z.array(z.string().refine(isOrigin, FIELD_MESSAGES.origin))),
  request_uris: opt(z.array(webUri)),
  scope: opt(z.string()),
  owner: opt(z.string()),
  token_endpoint_auth_method: opt(z.string()),
  skip_consent: opt(z.boolean()),
  skip_logout_consent: opt(z.boolean()),
  metadata: opt(z.record(z.string(), z.unknown())),
  logo_uri: opt(webUri),
  policy_uri: opt(webUri),
  tos_uri: opt(webUri),
  client_uri: opt(webUri),
  jwks_uri: opt(webUri),
  sector_identifier_uri: opt(webUri),
  frontchannel_logout_uri: opt(webUri),
  backchannel_logout_uri: opt(webUri),
});

/** RFC 6902 operations, as Hydra's PATCH takes them. Hydra checks the patched client. */
export const patchSchema = z
  .array(
    z.object({
      op: z.enum(['add', 'remove', 'replace', 'move', 'copy', 'test']),
      path: z.string().refine((path) => path === '' || path.startsWith('/'), FIELD_MESSAGES.json_pointer),
      from: z.string().optional(),
      value: z.unknown().optional(),
    }),
  )
  .min(1, FIELD_MESSAGES.patch_empty);

export const generateKeySchema = z.object({
  alg: z.string().trim().min(1, FIELD_MESSAGES.required),
  kid: z.string().trim().min(1, FIELD_MESSAGES.required).max(255),
  use: z.enum(['sig', 'enc'], FIELD_MESSAGES.sig_or_enc),
});

/** Parameters that make a JWK private (RSA/EC/OKP `d` and friends) or a shared secret (`k`). */
export const PRIVATE_JWK_FIELDS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

export function isPrivateJwk(jwk: Record<string, unknown>): boolean {
  return PRIVATE_JWK_FIELDS.some((name) => jwk[name] !== undefined);
}

/** The key without its private or secret parameters: what the console shows by default. */
export function publicJwk<T extends object>(jwk: T): T {
  const copy = { ...jwk } as Record<string, unknown>;
  for (const name of PRIVATE_JWK_FIELDS) delete copy[name];
  return copy as T;
}

/**
 * The members each key type needs, as Hydra's JOSE library (go-jose) reads a JWK: the public ones,
 * and the private ones a private key must then have. `alg` and `use` are optional, and so are an
 * RSA key's CRT parameters (dp, dq, qi): Hydra v1.11 generates RSA private keys without them and
 * EC and EdDSA keys without `alg`, and takes them back unchanged (docs/hydra-contract.md §8).
 */
const KEY_TYPES: Record<string, { public: readonly string[]; private: readonly string[]; curves?: readonly string[] }> = {
  RSA: { public: ['n', 'e'], private: ['d', 'p', 'q'] },
  EC: { public: ['crv', 'x', 'y'], private: ['d'], curves: ['P-256', 'P-384', 'P-521'] },
  OKP: { public: ['crv', 'x'], private: ['d'], curves: ['Ed25519'] },
  oct: { public: [], private: ['k'] },
};
const RSA_CRT = ['dp', 'dq', 'qi'] as const;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const bigInt = (value: string) => BigInt(`0x${Buffer.from(value, 'base64url').toString('hex') || '0'}`);

/**
 * Why `jwk` is not a key Hydra could use, or undefined when it is: its type's members are there
 * and base64url, and Node's crypto imports it (the public part always; the private part too, unless
 * it is an RSA key without CRT parameters, where n = p·q is checked instead).
 */
function unusableKey(jwk: Record<string, unknown>): string | undefined {
  const kty = jwk.kty as string;
  const type = KEY_TYPES[kty];
  if (!type) return `kty must be one of ${Object.keys(KEY_TYPES).join(', ')}`;
  const hasPrivate = type.private.some((name) => jwk[name] !== undefined);
  const needed = [...type.public, ...(hasPrivate ? type.private : [])];
  if (kty === 'RSA' && RSA_CRT.some((name) => jwk[name] !== undefined)) needed.push(...RSA_CRT);
  for (const name of needed) {
    const value = jwk[name];
    if (typeof value !== 'string' || value === '') return `${name} is required for an ${kty} key${kty === 'RSA' && (RSA_CRT as readonly string[]).includes(name) ? ' that has any of dp, dq, qi' : ''}`;
    if (name !== 'crv' && !BASE64URL.test(value)) return `${name} must be base64url`;
  }
  if (type.curves && !type.curves.includes(jwk.crv as string)) return `crv must be one of ${type.curves.join(', ')} for an ${kty} key`;
  if (kty === 'oct') return undefined;
  const pick = (names: readonly string[]) => Object.fromEntries(['kty', ...names].map((name) => [name, jwk[name]])) as NodeJwk;
  try {
    createPublicKey({ key: pick(type.public), format: 'jwk' });
    if (!hasPrivate) return undefined;
    if (kty !== 'RSA' || jwk.dp !== undefined) {
      createPrivateKey({ key: pick([...type.public, ...type.private, ...(kty === 'RSA' ? RSA_CRT : [])]), format: 'jwk' });
    } else if (bigInt(jwk.p as string) * bigInt(jwk.q as string) !== bigInt(jwk.n as string)) {
      return 'p and q are not the factors of n';
    }
  } catch (err) {
    return err instanceof Error ? err.message : 'Node could not import it';
  }
  return undefined;
}

/**
 * A JWK that Hydra can use (its members are well-formed for its kty: see unusableKey), with the
 * `kid` Hydra files it under. `where` names it in the error ("jwk", "keys.0"). Returned unchanged
 * apart from a kid taken from the URL: what Hydra handed out goes back exactly as it was.
 */
export async function validateJwk(value: unknown, where: string, options: { publicOnly?: boolean; kid?: string } = {}): Promise<JsonWebKey> {
  // `key`: the catalog's words for a console form (admin.validation.<key>); the API keeps the English.
  const fail = (message: string, key: string, values: Record<string, unknown> = {}) =>
    new HttpError(400, `${where}: ${message}`, fieldKeys(key, { where, ...values }));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('must be a JSON Web Key object', 'jwk_object');
  const jwk = { ...(value as Record<string, unknown>) };
  if (typeof jwk.kty !== 'string' || jwk.kty === '') throw fail('kty is required', 'kty_required');
  if (options.kid !== undefined) {
    if (jwk.kid === undefined) jwk.kid = options.kid;
    else if (jwk.kid !== options.kid) throw fail(`kid "${String(jwk.kid)}" does not match the kid in the URL`, 'kid_mismatch', { kid: String(jwk.kid) });
  }
  if (typeof jwk.kid !== 'string' || jwk.kid === '') throw fail('kid is required', 'kid_required');
  for (const name of ['alg', 'use'] as const) {
    if (jwk[name] !== undefined && typeof jwk[name] !== 'string') throw fail(`${name} must be a string`, 'member_string', { name });
  }
  if (options.publicOnly && isPrivateJwk(jwk)) throw fail('must be a public key (no d, p, q, dp, dq, qi or k)', 'public_only');
  const problem = unusableKey(jwk);
  if (problem !== undefined) throw fail(`not a usable key: ${problem}`, 'unusable', { problem });
  return jwk as unknown as JsonWebKey;
}

/** Where a console form finds these words in the catalogs (`admin.validation`: see attempt in ./view.ts). */
function fieldKeys(key: string, values: Record<string, unknown>) {
  return { i18n: { title: 'errors.bad_request_title', message: `admin.validation.${key}`, values } };
}

/**
 * A date-time as RFC 3339. `datetime-local` inputs carry no zone: the forms say they are UTC, so a
 * value without an offset is read as UTC.
 */
export function parseDateTime(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new HttpError(400, `${name}: ${FIELD_MESSAGES.required}`, fieldKeys('required', { where: name }));
  const text = value.trim();
  const zoned = /(?:Z|[+-]\d\d:?\d\d)$/i.test(text) ? text : `${text}Z`;
  const time = Date.parse(zoned);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(text) || Number.isNaN(time)) {
    throw new HttpError(400, `${name}: must be a date-time such as 2030-01-31T12:00:00Z`, fieldKeys('date_time', { where: name }));
  }
  return new Date(time).toISOString();
}

/** A date-time in the future (a trust relationship that is already over is a mistake). */
export function futureDate(value: unknown, name: string): string {
  const date = parseDateTime(value, name);
  if (Date.parse(date) <= Date.now()) throw new HttpError(400, `${name}: must be in the future`, fieldKeys('future', { where: name }));
  return date;
}
