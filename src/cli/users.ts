import { randomUUID } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable, type Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  hashPassword,
  normalizeEmail,
  readUserFile,
  UserFileError,
  writeUserFile,
  type StoredUser,
  type UserFileDocument,
} from '../users/file-store.js';

/*
 * Manage a USERS_FILE:  npm run users -- add|list|remove …  (see USAGE).
 * Passwords are read from the terminal without echo, or from stdin when it is not a terminal, and
 * never printed or logged.
 */

export const MIN_PASSWORD_LENGTH = 8;

const USAGE = `Usage: npm run users -- <command> [options]

Commands:
  add <email>        Add a user. On a terminal, asks for the password twice (not echoed);
                     otherwise reads it from stdin (one trailing newline is removed).
  list               List users: email, subject, whether the email is verified. Never hashes.
  remove <email>     Remove a user.

Options:
  --file <path>      Users file (default: $USERS_FILE, else ./users.json). "add" creates it.
  --name <name>      add: full name (the OIDC "name" claim)
  --subject <id>     add: stable subject sent to Hydra (default: a random UUID)
  --email-verified   add: mark the email address as verified
  -h, --help         Show this help

Examples:
  npm run users -- add alice@example.com --name "Alice Example"
  printf '%s\\n' "$PASSWORD" | npm run users -- add bob@example.com --file ./users.json
`;

/** An error meant for the person at the terminal: printed as one line, no stack. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * Asks each question on `output`, reading answers from `input` with echo switched off: readline
 * writes through a sink that drops everything while an answer is being typed, so neither the
 * characters nor readline's line redraws reach the terminal.
 */
export function promptHidden(input: Readable, output: NodeJS.WritableStream, questions: readonly string[]): Promise<string[]> {
  let muted = false;
  const sink = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback) {
      if (!muted) output.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input, output: sink, terminal: true });
  return new Promise((resolvePromise, reject) => {
    const answers: string[] = [];
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      muted = false;
      rl.close();
      if (error) reject(error);
      else resolvePromise(answers);
    };
    rl.on('SIGINT', () => {
      output.write('\n');
      finish(new CliError('cancelled', 130));
    });
    rl.on('close', () => {
      if (settled) return; // our own rl.close() in finish()
      output.write('\n');
      finish(new CliError('no password entered: input closed'));
    });
    const ask = () => {
      const question = questions[answers.length];
      if (question === undefined) {
        finish();
        return;
      }
      muted = false;
      rl.question(question, (answer) => {
        muted = false;
        output.write('\n'); // the Enter keystroke was muted along with the password
        answers.push(answer);
        ask();
      });
      muted = true; // question() has written the prompt synchronously; hide what follows
    };
    ask();
  });
}

/** Everything on a non-terminal stdin, minus one trailing newline (what `echo`/`printf '%s\n'` add). */
export async function readPasswordFromStream(input: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

async function readNewPassword(): Promise<string> {
  let password: string;
  if (process.stdin.isTTY) {
    const [first, second] = await promptHidden(process.stdin, process.stderr, ['Password: ', 'Repeat password: ']);
    if (first !== second) throw new CliError('the passwords do not match');
    password = first ?? '';
  } else {
    password = await readPasswordFromStream(process.stdin);
  }
  // Count code points, not UTF-16 units, so "8 characters" means what a person thinks it means.
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new CliError(`the password must be at least ${MIN_PASSWORD_LENGTH} characters long`);
  }
  return password;
}

const emailSchema = z.email();

function requireEmail(value: string | undefined, command: string): string {
  if (value === undefined || value.trim() === '') throw new CliError(`"${command}" needs an email address (see --help)`);
  const email = value.trim();
  if (!emailSchema.safeParse(email).success) throw new CliError(`"${email}" is not an email address`);
  return email;
}

async function readExisting(file: string, { mustExist }: { mustExist: boolean }): Promise<UserFileDocument> {
  try {
    return await readUserFile(file);
  } catch (error) {
    if (!mustExist && error instanceof UserFileError && error.reason === 'not-found') return { users: [] };
    throw error;
  }
}

interface Options {
  file: string;
  name: string | undefined;
  subject: string | undefined;
  emailVerified: boolean;
}

async function add(emailArg: string | undefined, options: Options): Promise<void> {
  const email = requireEmail(emailArg, 'add');
  const document = await readExisting(options.file, { mustExist: false });
  const key = normalizeEmail(email);
  // Check before asking for the password, so nobody types one for nothing.
  if (document.users.some((user) => normalizeEmail(user.email) === key)) {
    throw new CliError(`${email} already exists in ${options.file}`);
  }
  const subject = options.subject ?? randomUUID();
  if (document.users.some((user) => user.subject === subject)) {
    throw new CliError(`subject "${subject}" is already used in ${options.file}`);
  }
  const password = await readNewPassword();
  const user: StoredUser = {
    subject,
    email,
    email_verified: options.emailVerified,
    password_hash: await hashPassword(password),
    profile: {
      ...(options.name === undefined ? {} : { name: options.name }),
      updated_at: Math.floor(Date.now() / 1000),
    },
  };
  await writeUserFile(options.file, { ...document, users: [...document.users, user] });
  process.stdout.write(`Added ${email} (subject ${subject}) to ${options.file}\n`);
}

async function list(options: Options): Promise<void> {
  const { users } = await readExisting(options.file, { mustExist: true });
  if (users.length === 0) {
    process.stderr.write(`No users in ${options.file}\n`);
    return;
  }
  for (const user of users) {
    process.stdout.write(`${user.email}\t${user.subject}\t${user.email_verified ? 'verified' : 'unverified'}\n`);
  }
}

async function remove(emailArg: string | undefined, options: Options): Promise<void> {
  const email = requireEmail(emailArg, 'remove');
  const document = await readExisting(options.file, { mustExist: true });
  const key = normalizeEmail(email);
  const users = document.users.filter((user) => normalizeEmail(user.email) !== key);
  if (users.length === document.users.length) throw new CliError(`${email} is not in ${options.file}`);
  await writeUserFile(options.file, { ...document, users });
  process.stdout.write(`Removed ${email} from ${options.file}\n`);
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        allowPositionals: true,
        options: {
          file: { type: 'string' },
          name: { type: 'string' },
          subject: { type: 'string' },
          'email-verified': { type: 'boolean', default: false },
          help: { type: 'boolean', short: 'h', default: false },
        },
      });
    } catch (error) {
      throw new CliError(`${(error as Error).message} (see --help)`);
    }
    const { values, positionals } = parsed;
    const [command, email, ...extra] = positionals;
    if (values.help || command === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}" (see --help)`);
    const options: Options = {
      file: resolve(values.file ?? (process.env.USERS_FILE || 'users.json')),
      name: values.name,
      subject: values.subject,
      emailVerified: values['email-verified'],
    };
    switch (command) {
      case 'add':
        await add(email, options);
        return 0;
      case 'list':
        if (email !== undefined) throw new CliError(`unexpected argument "${email}" (see --help)`);
        await list(options);
        return 0;
      case 'remove':
        await remove(email, options);
        return 0;
      case undefined:
        process.stderr.write(USAGE);
        return 1;
      default:
        throw new CliError(`unknown command "${command}" (see --help)`);
    }
  } catch (error) {
    if (error instanceof CliError || error instanceof UserFileError) {
      process.stderr.write(`users: ${error.message}\n`);
      return error instanceof CliError ? error.exitCode : 1;
    }
    throw error;
  }
}

// Run only when executed (`tsx src/cli/users.ts`), not when a test imports the helpers above.
const entry = process.argv[1];
const entryPath = entry === undefined ? undefined : await realpath(resolve(entry)).catch(() => resolve(entry));
if (entryPath !== undefined && import.meta.url === pathToFileURL(entryPath).href) {
  process.exitCode = await main(process.argv.slice(2));
}
