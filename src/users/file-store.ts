import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Algorithm, Options } from '@node-rs/argon2';
import { hash, verify } from './argon2.js';
import { z } from 'zod';
import { safeHttpUrl } from '../http/urls.js';
import type { User, UserStore } from './store.js';

/**
 * The JSON-file user store (USERS_FILE):
 *   { "users": [ { "subject", "email", "email_verified", "password_hash": "$argon2id$…", "profile": {…} } ] }
 * The file is read and validated once at start-up; a bad file stops the process with a
 * UserFileError that names the file and the path of the bad entry.
 */

export interface StoredUser extends User {
  /** argon2 PHC string, e.g. `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`. */
  password_hash: string;
}

/** What the file holds. `$comment` is the JSON Schema convention for a note to humans. */
export interface UserFileDocument {
  $comment?: string;
  users: StoredUser[];
}

export type UserFileErrorReason = 'not-found' | 'unreadable' | 'invalid-json' | 'invalid' | 'unwritable';

export class UserFileError extends Error {
  override readonly name = 'UserFileError';
  readonly path: string | undefined;
  readonly reason: UserFileErrorReason | undefined;
  constructor(message: string, options?: { path?: string; reason?: UserFileErrorReason; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.path = options?.path;
    this.reason = options?.reason;
  }
}

// `Algorithm` is an ambient const enum, which verbatimModuleSyntax forbids reading at runtime;
// the type-only reference still makes the compiler check that 2 is Argon2id.
const ARGON2ID: Algorithm.Argon2id = 2;

/** OWASP Password Storage Cheat Sheet, argon2id option 2: 19 MiB, 2 passes, 1 lane. */
export const ARGON2_OPTIONS: Readonly<Options> = Object.freeze({
  algorithm: ARGON2ID,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
});

/** argon2id PHC hash of `password`, computed on a hashing thread (users/argon2.ts), never on the event loop. */
export async function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

// Accepts every argon2 variant so hashes made by other tools can be imported; new hashes are argon2id.
const PHC_ARGON2 = /^\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

// URL claims end up in links and <img src> on relying parties' pages: only http(s).
const httpUrl = z.string().refine((value) => safeHttpUrl(value) !== undefined, { error: 'must be an http(s) URL' });

const profileSchema = z.strictObject({
  name: z.string().optional(),
  given_name: z.string().optional(),
  family_name: z.string().optional(),
  middle_name: z.string().optional(),
  nickname: z.string().optional(),
  preferred_username: z.string().optional(),
  profile: httpUrl.optional(),
  picture: httpUrl.optional(),
  website: httpUrl.optional(),
  gender: z.string().optional(),
  // OIDC Core §5.1: YYYY-MM-DD, or YYYY alone, or 0000-MM-DD when the year is withheld.
  birthdate: z
    .string()
    .regex(/^\d{4}(?:-\d{2}-\d{2})?$/, { error: 'must be YYYY-MM-DD or YYYY' })
    .optional(),
  zoneinfo: z.string().optional(),
  locale: z.string().optional(),
  updated_at: z.number().int().nonnegative({ error: 'must be seconds since the epoch' }).optional(),
});

const userSchema = z.strictObject({
  // OIDC limits `sub` to 255 ASCII characters; control characters would only cause grief in logs and URLs.
  subject: z
    .string()
    .min(1, { error: 'must not be empty' })
    .max(255, { error: 'must be at most 255 characters' })
    .regex(/^[^\u0000-\u001f\u007f]+$/, { error: 'must not contain control characters' }),
  email: z.email({ error: 'must be an email address' }),
  // Defaults to false: claiming a verified address that nobody verified would let relying
  // parties link accounts on it.
  email_verified: z.boolean().default(false),
  password_hash: z.string().regex(PHC_ARGON2, {
    error: 'must be an argon2 PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash); create one with `npm run users -- add`',
  }),
  profile: profileSchema.default({}),
});

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

const usersSchema = z.array(userSchema).superRefine((users, ctx) => {
  const emails = new Map<string, number>();
  const subjects = new Map<string, number>();
  users.forEach((user, index) => {
    const email = normalizeEmail(user.email);
    const firstEmail = emails.get(email);
    if (firstEmail === undefined) emails.set(email, index);
    else
      ctx.addIssue({
        code: 'custom',
        path: [index, 'email'],
        message: `duplicate email "${user.email}", already used by users[${firstEmail}] (emails are compared case-insensitively)`,
      });
    const firstSubject = subjects.get(user.subject);
    if (firstSubject === undefined) subjects.set(user.subject, index);
    else
      ctx.addIssue({
        code: 'custom',
        path: [index, 'subject'],
        message: `duplicate subject "${user.subject}", already used by users[${firstSubject}]`,
      });
  });
});

const fileSchema = z.strictObject({
  $comment: z.string().optional(),
  users: usersSchema,
});

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

function describeIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): string {
  const shown = error.issues.slice(0, 10).map((issue) => `${formatPath([...prefix, ...issue.path])}: ${issue.message}`);
  if (error.issues.length > shown.length) shown.push(`and ${error.issues.length - shown.length} more`);
  return shown.join('; ');
}

/** Reads and validates a users file. Throws UserFileError naming the file and what is wrong. */
export async function readUserFile(path: string): Promise<UserFileDocument> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new UserFileError(`Users file ${path} does not exist`, { path, reason: 'not-found', cause });
    }
    throw new UserFileError(`Users file ${path} cannot be read: ${code ?? String(cause)}`, {
      path,
      reason: 'unreadable',
      cause,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new UserFileError(`Users file ${path} is not valid JSON: ${(cause as Error).message}`, {
      path,
      reason: 'invalid-json',
      cause,
    });
  }
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    throw new UserFileError(`Users file ${path} is invalid: ${describeIssues(parsed.error)}`, {
      path,
      reason: 'invalid',
    });
  }
  return parsed.data;
}

/**
 * Writes a users file atomically: a temporary file in the same directory (mode 0600, since it
 * holds password hashes), fsync, then rename over the target. Readers see the old or the new
 * file, never half of one. Validates first so an invalid file is never written.
 */
export async function writeUserFile(path: string, document: UserFileDocument): Promise<void> {
  const parsed = fileSchema.safeParse(document);
  if (!parsed.success) {
    throw new UserFileError(`Refusing to write ${path}: ${describeIssues(parsed.error)}`, { path, reason: 'invalid' });
  }
  const data = `${JSON.stringify(parsed.data, null, 2)}\n`;
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.chmod(0o600); // the umask may have narrowed it oddly; be exact
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (cause) {
    await unlink(temp).catch(() => undefined); // may not exist; the original error is what matters
    const code = (cause as NodeJS.ErrnoException).code;
    throw new UserFileError(`Users file ${path} cannot be written: ${code ?? String(cause)}`, {
      path,
      reason: 'unwritable',
      cause,
    });
  }
}

/*
 * Unknown emails are verified against this hash so that they cost one argon2 verification, the
 * same as a known email with a wrong password, and response times do not reveal which accounts
 * exist. It has ARGON2_OPTIONS, the parameters of every hash this project creates (a hash
 * imported with other parameters verifies in a different time; re-hash it with the CLI).
 * Its password is random and thrown away, so nothing can ever match it.
 */
let dummyHashPromise: Promise<string> | undefined;

/** The shared dummy hash (see above); the SQL store verifies unknown emails against it too. */
export function dummyHash(): Promise<string> {
  dummyHashPromise ??= hashPassword(randomBytes(32).toString('base64url')).catch((error: unknown) => {
    dummyHashPromise = undefined; // retry next time rather than failing forever
    throw error;
  });
  return dummyHashPromise;
}

function buildStore(users: readonly StoredUser[]): UserStore {
  const byEmail = new Map<string, { user: User; passwordHash: string }>();
  const bySubject = new Map<string, User>();
  for (const { password_hash, ...rest } of users) {
    // The public record never carries the hash, so it cannot leak into sessions, logs or tokens.
    const user: User = Object.freeze({ ...rest, profile: Object.freeze({ ...rest.profile }) });
    byEmail.set(normalizeEmail(user.email), { user, passwordHash: password_hash });
    bySubject.set(user.subject, user);
  }
  // Warm the dummy hash in the background so the first unknown-email login is not slower.
  dummyHash().catch(() => undefined);

  return {
    async verifyCredentials(email, password) {
      // Request bodies are untyped at runtime; anything odd is simply "no such user".
      const entry = typeof email === 'string' ? byEmail.get(normalizeEmail(email)) : undefined;
      const secret = typeof password === 'string' ? password : '';
      if (entry === undefined) {
        await verify(await dummyHash(), secret);
        return undefined;
      }
      return (await verify(entry.passwordHash, secret)) ? entry.user : undefined;
    },
    async findBySubject(subject) {
      return bySubject.get(subject);
    },
  };
}

/** In-memory store from already-parsed records (demo, tests). Validates them like the file. */
export function createUserStore(users: StoredUser[]): UserStore {
  const parsed = usersSchema.safeParse(users);
  if (!parsed.success) throw new TypeError(`Invalid users: ${describeIssues(parsed.error, ['users'])}`);
  return buildStore(parsed.data);
}

/** Reads USERS_FILE once (at start-up) and returns a store. Throws UserFileError on a bad file. */
export async function loadUserFile(path: string): Promise<UserStore> {
  const { users } = await readUserFile(path);
  const store = buildStore(users);
  await dummyHash();
  return store;
}
