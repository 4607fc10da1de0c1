// cookie is pinned to 0.7.2 (package.json overrides), which ships no type declarations; @types/cookie
// follows 1.x. This declares the one function src/http/csrf.ts uses.
declare module 'cookie' {
  /** Parses a Cookie header; a name that repeats keeps its first value. */
  export function parse(header: string, options?: { decode?: (value: string) => string }): Record<string, string | undefined>;
}
