import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/free-port.js';
import { promptHidden, readPasswordFromStream } from '../../src/cli/users.js';
import { hashPassword } from '../../src/users/file-store.js';
import { openAccountStore } from '../../src/users/sql/store.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI with `input` piped on stdin (so not a TTY). `npx tsx` is what `npm run users` does;
 * `node --import tsx` loads the same file through the same loader in one process instead of two,
 * which keeps the many error-case runs cheap on a 2-core runner.
 */
function users(args: string[], input = '', env: Record<string, string> = {}, via: 'npx' | 'node' = 'node'): Promise<Result> {
  const { DATABASE_URL: _ignored, PASSWORD_MIN_LENGTH: _also, ...inherited } = process.env;
  const [command, prefix] = via === 'npx' ? ['npx', ['tsx']] : [process.execPath, ['--import', 'tsx']];
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...prefix, 'src/cli/users.ts', ...args], {
      cwd: repoRoot,
      env: { ...inherited, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** A fresh SQLite database for one test, as DATABASE_URL. */
let databases = 0;
function database(): { env: { DATABASE_URL: string }; file: string } {
  const file = join(dir, `db-${++databases}`, 'accounts.db');
  return { env: { DATABASE_URL: `sqlite:${file}` }, file };
}

async function withStore<T>(file: string, use: (store: Awaited<ReturnType<typeof openAccountStore>>) => Promise<T>): Promise<T> {
  const store = await openAccountStore({ dialect: 'sqlite', file });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'users-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run users (end to end, against the database)', { timeout: 60_000 }, () => {
  it('add: creates the database (0600) and a user with a verifiable argon2id hash and a UUID subject', async () => {
    const { env, file } = database();
    const result = await users(['add', 'Carol@Example.com', '--name', 'Carol Example'], 'carol password 1\n', env, 'npx');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Added Carol@Example\.com \(subject [0-9a-f-]{36}\)\n$/);
    expect(result.stdout + result.stderr).not.toContain('carol password');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await withStore(file, async (store) => {
      // Only the one trailing newline was removed: the inner space is part of the password.
      expect(await store.verifyCredentials('carol@example.com', 'carol password 1')).toMatchObject({
        email: 'Carol@Example.com',
        email_verified: false,
        profile: { name: 'Carol Example' },
      });
      expect(await store.verifyCredentials('carol@example.com', 'carol password 1\n')).toBeUndefined();
      expect((await store.auditTrail((await store.getByEmail('carol@example.com'))!.id)).items.at(-1)).toMatchObject({ action: 'account.created', actor: 'cli' });
    });
  });

  it('add: --subject and --email-verified; strips a CRLF; refuses a duplicate email (case-insensitive)', async () => {
    const { env, file } = database();
    expect((await users(['add', 'erin@example.com', '--subject', 'erin-42', '--email-verified'], 'erin password\r\n', env)).code).toBe(0);
    const dup = await users(['add', 'ERIN@example.com'], 'another password\n', env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toBe('users: ERIN@example.com already exists\n');
    await withStore(file, async (store) => {
      expect(await store.verifyCredentials('erin@example.com', 'erin password')).toMatchObject({ subject: 'erin-42', email_verified: true });
      expect((await store.list()).items).toHaveLength(1);
    });
  });

  it('add: refuses a short, common or missing password, and something that is not an email', async () => {
    const { env, file } = database();
    const short = await users(['add', 'gina@example.com'], 'seven77\n', env);
    expect(short.code).toBe(1);
    expect(short.stderr).toBe('users: password refused: Use at least 8 characters.\n');
    const common = await users(['add', 'gina@example.com'], 'iloveyou1\n', env);
    expect(common.stderr).toMatch(/^users: password refused: This password is too common/);
    const longer = await users(['add', 'gina@example.com'], 'ten chars!\n', { ...env, PASSWORD_MIN_LENGTH: '12' });
    expect(longer.stderr).toBe('users: password refused: Use at least 12 characters.\n');
    expect((await users(['add', 'gina@example.com'], '', env)).code).toBe(1);
    const notEmail = await users(['add', 'not-an-email'], 'long enough pw\n', env);
    expect(notEmail.code).toBe(1);
    expect(notEmail.stderr).toBe('users: This is not an email address.\n');
    await withStore(file, async (store) => expect((await store.list()).items).toEqual([]));
  });

  it('list, disable, enable, set-password, remove', async () => {
    const { env, file } = database();
    expect((await users(['add', 'hal@example.com', '--subject', 'hal-1'], 'hal password\n', env)).code).toBe(0);
    expect((await users(['add', 'ivy@example.com', '--subject', 'ivy-1'], 'ivy password\n', env)).code).toBe(0);

    const disabled = await users(['disable', 'HAL@example.com'], '', env);
    expect(disabled).toMatchObject({ code: 0, stdout: 'Disabled hal@example.com\n' });
    const listed = await users(['list'], '', env);
    expect(listed.stdout).toBe('hal@example.com\thal-1\tunverified\tdisabled\nivy@example.com\tivy-1\tunverified\n');
    expect(listed.stdout).not.toContain('argon2');
    expect((await users(['list', '--search', 'IVY'], '', env)).stdout).toBe('ivy@example.com\tivy-1\tunverified\n');
    expect((await users(['enable', 'hal@example.com'], '', env)).stdout).toBe('Enabled hal@example.com\n');

    expect((await users(['set-password', 'ivy@example.com'], 'ivy new password\n', env)).stdout).toBe('Set a new password for ivy@example.com\n');
    expect((await users(['remove', 'hal@example.com'], '', env)).stdout).toBe('Removed hal@example.com (subject hal-1, retired)\n');
    const again = await users(['remove', 'hal@example.com'], '', env);
    expect(again).toMatchObject({ code: 1, stderr: 'users: hal@example.com is not in the database\n' });
    const reuse = await users(['add', 'hal2@example.com', '--subject', 'hal-1'], 'hal password 2\n', env);
    expect(reuse.stderr).toBe('users: This subject belonged to a deleted account and is never given out again.\n');

    await withStore(file, async (store) => {
      expect(await store.verifyCredentials('ivy@example.com', 'ivy password')).toBeUndefined();
      expect(await store.verifyCredentials('ivy@example.com', 'ivy new password')).toBeDefined();
      expect(await store.getBySubject('hal-1')).toBeUndefined();
    });
  });

  it('import: adds the users of a JSON file with their subjects and hashes; again, it changes nothing', async () => {
    const { env, file } = database();
    const users_json = join(dir, 'import.json');
    const hash = await hashPassword('jo imported password');
    await writeFile(users_json, JSON.stringify({ users: [{ subject: 'jo-7', email: 'jo@example.com', email_verified: true, password_hash: hash, profile: { name: 'Jo' } }] }));
    const first = await users(['import', users_json], '', env);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toBe(`Imported ${users_json}: 1 added, 0 already there, 0 skipped\n`);
    const second = await users(['import', users_json], '', env);
    expect(second.stdout).toBe(`Imported ${users_json}: 0 added, 1 already there, 0 skipped\n`);
    await withStore(file, async (store) => {
      expect(await store.verifyCredentials('jo@example.com', 'jo imported password')).toMatchObject({ subject: 'jo-7', profile: { name: 'Jo' } });
    });

    await writeFile(users_json, '{"users": [{"email": "x@example.com"}]}');
    const broken = await users(['import', users_json], '', env);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(new RegExp(`^users: Users file ${users_json} is invalid: users\\[0\\]\\.subject`));
    const missing = await users(['import', join(dir, 'missing.json')], '', env);
    expect(missing.stderr).toContain('does not exist');
  });

  it('migrate: applies the schema once, then says it is up to date', async () => {
    const { env, file } = database();
    expect((await users(['migrate'], '', env)).stdout).toBe(`sqlite:${file}: applied 0001_accounts, 0002_factors\n`);
    expect((await users(['migrate'], '', env)).stdout).toBe(`sqlite:${file}: the schema is up to date\n`);
  });

  it('an unreachable database is one line, without the password', async () => {
    const port = await freePort();
    const result = await users(['list'], '', { DATABASE_URL: `postgres://app:pa55word@127.0.0.1:${port}/accounts` });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^users: database postgres://app:\\*\\*\\*@127\\.0\\.0\\.1:${port}/accounts is unreachable: .*ECONNREFUSED.*\\n$`));
    expect(result.stderr).not.toContain('pa55word');
    const bad = await users(['list'], '', { DATABASE_URL: 'mysql://x/y' });
    expect(bad.stderr).toMatch(/^users: DATABASE_URL must be sqlite:/);
  });

  it('--help prints usage and exits 0; unknown commands and options exit 1', async () => {
    const help = await users(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: npm run users -- <command>');
    const unknown = await users(['frobnicate']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('users: unknown command "frobnicate" (see --help)\n');
    const option = await users(['list', '--nope']);
    expect(option.code).toBe(1);
    expect(option.stderr).toContain("Unknown option '--nope'");
  });
});

describe('password input helpers', () => {
  it('promptHidden shows the prompts but never echoes what is typed', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (chunk: Buffer) => (shown += chunk.toString()));
    const answers = promptHidden(input, output, ['Password: ', 'Repeat password: ']);
    input.write('s3cret-typed\r');
    await new Promise((r) => setImmediate(r));
    input.write('s3cret-typed\r');
    expect(await answers).toEqual(['s3cret-typed', 's3cret-typed']);
    expect(shown).toContain('Password: ');
    expect(shown).toContain('Repeat password: ');
    expect(shown).not.toContain('s3cret');
  });

  it('promptHidden fails cleanly when the input closes (Ctrl-D)', async () => {
    const input = new PassThrough();
    const answers = promptHidden(input, new PassThrough(), ['Password: ']);
    input.end();
    await expect(answers).rejects.toThrow('no password entered');
  });

  it('readPasswordFromStream removes exactly one trailing newline', async () => {
    const read = (text: string) => readPasswordFromStream(PassThrough.from([Buffer.from(text)]));
    expect(await read('pass word\n')).toBe('pass word');
    expect(await read('password\r\n')).toBe('password');
    expect(await read('password\n\n')).toBe('password\n');
    expect(await read(' password ')).toBe(' password ');
  });
});
