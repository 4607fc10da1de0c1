import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promptHidden, readPasswordFromStream } from '../../src/cli/users.js';
import { loadUserFile, readUserFile } from '../../src/users/file-store.js';

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
  const { USERS_FILE: _ignored, ...inherited } = process.env;
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

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'users-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run users (end to end)', { timeout: 60_000 }, () => {
  it('add: creates the file (0600) with a verifiable argon2id hash and a UUID subject', async () => {
    const file = join(dir, 'add.json');
    const result = await users(
      ['add', 'Carol@Example.com', '--name', 'Carol Example', '--file', file],
      'carol password 1\n',
      {},
      'npx',
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Added Carol@Example\.com \(subject [0-9a-f-]{36}\) to /);
    expect(result.stdout + result.stderr).not.toContain('carol password');

    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const { users: stored } = await readUserFile(file);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ email: 'Carol@Example.com', email_verified: false, profile: { name: 'Carol Example' } });
    expect(stored[0]!.subject).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(stored[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await readFile(file, 'utf8')).not.toContain('carol password');

    // Only the one trailing newline was removed: the inner space is part of the password.
    const store = await loadUserFile(file);
    expect(await store.verifyCredentials('carol@example.com', 'carol password 1')).toMatchObject({
      subject: stored[0]!.subject,
    });
    expect(await store.verifyCredentials('carol@example.com', 'carol password 1\n')).toBeUndefined();
  });

  it('add: --subject and --email-verified, appends to an existing file, strips a CRLF', async () => {
    const file = join(dir, 'append.json');
    expect((await users(['add', 'dan@example.com', '--file', file], 'dan-password')).code).toBe(0);
    const result = await users(
      ['add', 'erin@example.com', '--subject', 'erin-42', '--email-verified', '--file', file],
      'erin-password\r\n',
    );
    expect(result.code).toBe(0);
    const store = await loadUserFile(file);
    expect(await store.verifyCredentials('dan@example.com', 'dan-password')).toBeDefined();
    expect(await store.verifyCredentials('erin@example.com', 'erin-password')).toMatchObject({
      subject: 'erin-42',
      email_verified: true,
    });
  });

  it('add: refuses a duplicate email (case-insensitive) and leaves the file alone', async () => {
    const file = join(dir, 'dup.json');
    expect((await users(['add', 'frank@example.com', '--file', file], 'frank-password\n')).code).toBe(0);
    const before = await readFile(file, 'utf8');
    const result = await users(['add', 'FRANK@example.com', '--file', file], 'other-password\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`users: FRANK@example.com already exists in ${file}\n`);
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('add: refuses a password shorter than 8 characters, or none, and writes nothing', async () => {
    const file = join(dir, 'short.json');
    const short = await users(['add', 'gina@example.com', '--file', file], 'seven77\n');
    expect(short.code).toBe(1);
    expect(short.stderr).toBe('users: the password must be at least 8 characters long\n');
    const empty = await users(['add', 'gina@example.com', '--file', file], '');
    expect(empty.code).toBe(1);
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('add: refuses something that is not an email', async () => {
    const result = await users(['add', 'not-an-email', '--file', join(dir, 'x.json')], 'long-enough-pw\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('users: "not-an-email" is not an email address\n');
  });

  it('uses USERS_FILE when --file is not given; list shows emails and subjects, never hashes; remove', async () => {
    const file = join(dir, 'env.json');
    const env = { USERS_FILE: file };
    expect((await users(['add', 'hal@example.com', '--subject', 'hal-1'], 'hal-password\n', env)).code).toBe(0);
    expect((await users(['add', 'ivy@example.com', '--subject', 'ivy-1'], 'ivy-password\n', env)).code).toBe(0);

    const listed = await users(['list'], '', env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toBe('hal@example.com\thal-1\tunverified\nivy@example.com\tivy-1\tunverified\n');
    expect(listed.stdout).not.toContain('argon2');

    const removed = await users(['remove', 'HAL@example.com'], '', env);
    expect(removed.code).toBe(0);
    const store = await loadUserFile(file);
    expect(await store.findBySubject('hal-1')).toBeUndefined();
    expect(await store.verifyCredentials('ivy@example.com', 'ivy-password')).toBeDefined();
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const again = await users(['remove', 'hal@example.com'], '', env);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`users: hal@example.com is not in ${file}\n`);
  });

  it('an invalid existing file is reported, not overwritten', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '{"users": [{"email": "x@example.com"}]}');
    const result = await users(['add', 'jo@example.com', '--file', file], 'jo-password\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^users: Users file ${file} is invalid: users\\[0\\]\\.subject`));
    expect(await readFile(file, 'utf8')).toBe('{"users": [{"email": "x@example.com"}]}');
    const missing = await users(['list', '--file', join(dir, 'missing.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('does not exist');
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
