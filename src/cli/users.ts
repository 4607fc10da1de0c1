import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable, type Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AccountConflictError, AccountInputError, PasswordRejectedError, type Account, type AccountStore } from '../users/accounts.js';
import { UserFileError } from '../users/file-store.js';
import { importUserFile } from '../users/import.js';
import { checkPassword, DEFAULT_MIN_PASSWORD_LENGTH } from '../users/passwords.js';
import { StoreUnavailableError } from '../users/store.js';
import { parseDatabaseUrl } from '../users/sql/url.js';
import { openAccountStore, type SqlAccountStore } from '../users/sql/store.js';

/*
 * Manage the user database (DATABASE_URL, the same the server uses):
 *   npm run users -- add|list|disable|enable|set-password|remove|import|migrate …  (see USAGE).
 * Passwords are read from the terminal without echo, or from stdin when it is not a terminal, and
 * never printed or logged. Every change is in the audit trail with actor "cli".
 */

const USAGE = `Usage: npm run users -- <command> [options]

Commands:
  add <email>            Add a user. On a terminal, asks for the password twice (not echoed);
                         otherwise reads it from stdin (one trailing newline is removed).
  list                   List users: email, subject, verified or not, disabled or not. Never hashes.
  disable <email>        Disable a user: sign-in then fails as with a wrong password.
  enable <email>         Enable a disabled user again.
  set-password <email>   Set a new password (read like "add" does).
  remove <email>         Delete a user. Its subject is retired and never given out again.
  import <users.json>    Add the users of a JSON user file (users.example.json), keeping their
                         subjects and password hashes. Users already there are left as they are,
                         so importing the same file again changes nothing.
  migrate                Bring the database schema up to date (the server also does at start-up).

Options:
  --database <url>       Database (default: $DATABASE_URL, else ./data/accounts.db):
                         sqlite:path/to.db, sqlite:///absolute/path.db, postgres://user:pw@host/db
  --name <name>          add: full name (the OIDC "name" claim)
  --subject <id>         add: stable subject sent to Hydra (default: a random UUID)
  --email-verified       add: mark the email address as verified
  --search <text>        list: only emails or names containing this
  -h, --help             Show this help

Passwords: at least $PASSWORD_MIN_LENGTH characters (default ${DEFAULT_MIN_PASSWORD_LENGTH}), not in the list of
common and leaked passwords, no other rules.

Examples:
  npm run users -- add alice@example.com --name "Alice Example"
  printf '%s\\n' "$PASSWORD" | npm run users -- set-password bob@example.com
  DATABASE_URL=postgres://accounts:secret@db/accounts npm run users -- import users.json
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

function minLength(): number {
  const raw = process.env.PASSWORD_MIN_LENGTH;
  if (raw === undefined || raw.trim() === '') return DEFAULT_MIN_PASSWORD_LENGTH;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < DEFAULT_MIN_PASSWORD_LENGTH || value > 64) {
    throw new CliError(`PASSWORD_MIN_LENGTH must be a whole number from ${DEFAULT_MIN_PASSWORD_LENGTH} to 64`);
  }
  return value;
}

async function readNewPassword(context: readonly (string | undefined)[]): Promise<string> {
  let password: string;
  if (process.stdin.isTTY) {
    const [first, second] = await promptHidden(process.stdin, process.stderr, ['Password: ', 'Repeat password: ']);
    if (first !== second) throw new CliError('the passwords do not match');
    password = first ?? '';
  } else {
    password = await readPasswordFromStream(process.stdin);
  }
  // Checked here too, before any hashing, so the message is the one line the person needs.
  const problem = checkPassword(password, { minLength: minLength() }, context);
  if (problem) throw new CliError(`password refused: ${problem.message}`);
  return password;
}

function requireArgument(value: string | undefined, command: string, what = 'an email address'): string {
  if (value === undefined || value.trim() === '') throw new CliError(`"${command}" needs ${what} (see --help)`);
  return value.trim();
}

async function requireAccount(store: AccountStore, email: string): Promise<Account> {
  const account = await store.getByEmail(email);
  if (!account) throw new CliError(`${email} is not in the database`);
  return account;
}

interface Options {
  name: string | undefined;
  subject: string | undefined;
  emailVerified: boolean;
  search: string | undefined;
}

const BY = { actor: 'cli' } as const;

async function run(store: SqlAccountStore, command: string, argument: string | undefined, options: Options): Promise<void> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  switch (command) {
    case 'add': {
      const email = requireArgument(argument, 'add');
      // Check before asking for the password, so nobody types one for nothing.
      if (await store.getByEmail(email)) throw new CliError(`${email} already exists`);
      const password = await readNewPassword([email, options.name]);
      const account = await store.create(
        {
          email,
          password,
          subject: options.subject,
          email_verified: options.emailVerified,
          profile: options.name === undefined ? {} : { name: options.name },
        },
        BY,
      );
      out(`Added ${account.email} (subject ${account.subject})`);
      return;
    }
    case 'list': {
      let after: string | undefined;
      let count = 0;
      do {
        const page = await store.list({ search: options.search, limit: 200, after });
        for (const account of page.items) {
          out([account.email, account.subject, account.email_verified ? 'verified' : 'unverified', ...(account.disabled ? ['disabled'] : [])].join('\t'));
        }
        count += page.items.length;
        after = page.next;
      } while (after !== undefined);
      if (count === 0) process.stderr.write(`No users in ${store.description}\n`);
      return;
    }
    case 'disable':
    case 'enable': {
      const account = await requireAccount(store, requireArgument(argument, command));
      await store.setDisabled(account.id, command === 'disable', BY);
      out(`${command === 'disable' ? 'Disabled' : 'Enabled'} ${account.email}`);
      return;
    }
    case 'set-password': {
      const account = await requireAccount(store, requireArgument(argument, command));
      const password = await readNewPassword([account.email, account.profile.name]);
      await store.setPassword(account.id, password, BY);
      out(`Set a new password for ${account.email}`);
      return;
    }
    case 'remove': {
      const account = await requireAccount(store, requireArgument(argument, command));
      await store.delete(account.id, BY);
      out(`Removed ${account.email} (subject ${account.subject}, retired)`);
      return;
    }
    case 'import': {
      const file = resolve(requireArgument(argument, command, 'a users file'));
      const result = await importUserFile(store, file, BY);
      for (const skipped of result.skipped) process.stderr.write(`users[${skipped.index}] (subject ${skipped.subject}) skipped: ${skipped.reason}\n`);
      out(`Imported ${file}: ${result.created} added, ${result.kept} already there, ${result.skipped.length} skipped`);
      if (result.skipped.length > 0) throw new CliError(`${result.skipped.length} users were not imported (see above)`);
      return;
    }
    case 'migrate': {
      const applied = store.appliedMigrations;
      out(applied.length === 0 ? `${store.description}: the schema is up to date` : `${store.description}: applied ${applied.join(', ')}`);
      return;
    }
    default:
      throw new CliError(`unknown command "${command}" (see --help)`);
  }
}

const COMMANDS = new Set(['add', 'list', 'disable', 'enable', 'set-password', 'remove', 'import', 'migrate']);
const NO_ARGUMENT = new Set(['list', 'migrate']);

export async function main(argv: readonly string[]): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        allowPositionals: true,
        options: {
          database: { type: 'string' },
          name: { type: 'string' },
          subject: { type: 'string' },
          'email-verified': { type: 'boolean', default: false },
          search: { type: 'string' },
          help: { type: 'boolean', short: 'h', default: false },
        },
      });
    } catch (error) {
      throw new CliError(`${(error as Error).message} (see --help)`);
    }
    const { values, positionals } = parsed;
    const [command, argument, ...extra] = positionals;
    if (values.help || command === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    if (command === undefined) {
      process.stderr.write(USAGE);
      return 1;
    }
    if (!COMMANDS.has(command)) throw new CliError(`unknown command "${command}" (see --help)`);
    const unexpected = NO_ARGUMENT.has(command) ? argument : extra[0];
    if (unexpected !== undefined) throw new CliError(`unexpected argument "${unexpected}" (see --help)`);

    const target = parseDatabaseUrl(values.database ?? process.env.DATABASE_URL);
    if (typeof target === 'string') throw new CliError(target.replace(/^DATABASE_URL/, values.database ? '--database' : 'DATABASE_URL'));
    const store = await openAccountStore(target, { passwordPolicy: { minLength: minLength() } });
    try {
      await run(store, command, argument, {
        name: values.name,
        subject: values.subject,
        emailVerified: values['email-verified'],
        search: values.search,
      });
    } finally {
      await store.close();
    }
    return 0;
  } catch (error) {
    if (
      error instanceof CliError ||
      error instanceof UserFileError ||
      error instanceof StoreUnavailableError ||
      error instanceof AccountConflictError ||
      error instanceof AccountInputError ||
      error instanceof PasswordRejectedError
    ) {
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
