import { isAbsolute, resolve } from 'node:path';

/** DATABASE_URL, read without loading a database driver (config.ts parses it at start-up). */

export type Dialect = 'sqlite' | 'postgres';

export type DatabaseTarget =
  | { dialect: 'sqlite'; /** absolute path, or ':memory:' */ file: string }
  | { dialect: 'postgres'; url: string };

export const DEFAULT_DATABASE_FILE = 'data/accounts.db';

/**
 * Reads DATABASE_URL: empty → ./data/accounts.db; `sqlite:relative/path`, `sqlite:///abs/path`,
 * `sqlite::memory:` (tests); `postgres://…` or `postgresql://…` (libpq-style, `?sslmode=` too).
 * Relative paths are resolved against `cwd` once, here. Returns a string naming the problem.
 */
export function parseDatabaseUrl(raw: string | undefined, cwd = process.cwd()): DatabaseTarget | string {
  const value = raw?.trim() ?? '';
  if (value === '') return { dialect: 'sqlite', file: resolve(cwd, DEFAULT_DATABASE_FILE) };
  if (/^postgres(ql)?:\/\//i.test(value)) {
    if (!URL.canParse(value)) return 'DATABASE_URL is not a valid postgres:// URL';
    const url = new URL(value);
    if (url.hostname === '' && !url.searchParams.has('host')) return 'DATABASE_URL needs a host (postgres://user:password@host:5432/database)';
    return { dialect: 'postgres', url: value };
  }
  const sqlite = /^sqlite:(.*)$/i.exec(value);
  if (sqlite) {
    let path = sqlite[1]!;
    if (path === ':memory:') return { dialect: 'sqlite', file: ':memory:' };
    if (path.startsWith('//')) {
      // sqlite:///abs/path: an empty authority, then an absolute path.
      path = path.slice(2);
      if (!path.startsWith('/')) return 'DATABASE_URL: write sqlite:///absolute/path or sqlite:relative/path';
    }
    if (path === '') return 'DATABASE_URL: sqlite: needs a file path (sqlite:data/accounts.db)';
    return { dialect: 'sqlite', file: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  return 'DATABASE_URL must be sqlite:path/to/file.db, sqlite:///absolute/path.db or postgres://user:password@host/database';
}

/** The target for logs and error lines: never the password. */
export function describeTarget(target: DatabaseTarget): string {
  if (target.dialect === 'sqlite') return `sqlite:${target.file}`;
  const url = new URL(target.url);
  if (url.password !== '') url.password = '***';
  url.search = '';
  return url.href;
}
