/** The URL when it is absolute http(s), else undefined: client-supplied links and logos pass through here. */
export function safeHttpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
}

// scheme://authority: all an origin depends on. The rest (a request_url's long query) only
// costs parsing time, and the same few prefixes come back on every page.
const SCHEME_AUTHORITY = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\\]*/i;
const sources = new Map<string, string | undefined>();

/**
 * CSP source for a redirect target: its origin (only the origin, and only when it reads as one)
 * for http(s), its scheme for a native app, nothing for script-ish schemes or anything else.
 */
export function cspSourceFor(value: string): string | undefined {
  const key = SCHEME_AUTHORITY.exec(value)?.[0] ?? value;
  if (sources.has(key)) return sources.get(key);
  const source = parseCspSource(key);
  // Bounded: a deployment has a handful of clients; anything past that is not worth keeping.
  if (sources.size >= 1000) sources.clear();
  sources.set(key, source);
  return source;
}

/**
 * An origin as CSP's host-source grammar writes it: scheme, a host of letters, digits, dots and
 * dashes (URL has already lower-cased it and turned IDNs into punycode) or a bracketed IPv6
 * address, and a port. URL accepts far more in a host (`;`, `,`, `*`, quotes), which in a header
 * would end the directive or widen it: `https://rp.example;sandbox` has that very string as its
 * origin. Such a URL names no source at all.
 */
const CSP_ORIGIN = /^https?:\/\/(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

function parseCspSource(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') return CSP_ORIGIN.test(url.origin) ? url.origin : undefined;
  if (/^(javascript|data|blob|filesystem|vbscript):$/i.test(url.protocol)) return undefined;
  return /^[a-z][a-z0-9+.-]*:$/i.test(url.protocol) ? url.protocol : undefined;
}
