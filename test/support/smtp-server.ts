/**
 * A real SMTP server for tests, in a child process of its own (test/support/smtp-capture.ts):
 * the app's nodemailer talks SMTP over TCP to it exactly as to a production relay, and the test
 * reads what arrived from a temporary folder. No stubbed transport anywhere.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CapturedMail {
  from: string;
  to: string[];
  /** The AUTH user, when the client authenticated. */
  user: string | null;
  raw: string;
  /** Header lines, unfolded, by lower-case name. */
  headers: Record<string, string>;
  /** The body, with its Content-Transfer-Encoding undone (quoted-printable, base64, 7bit); of a multipart message, its text/plain part. */
  text: string;
  /** A multipart message's text/html part, decoded likewise. */
  html?: string;
}

export interface SmtpServer {
  port: number;
  /** smtp://127.0.0.1:PORT, or with `user:password@` from smtpUrl({ auth }). */
  url: string;
  urlWithAuth(user: string, password: string): string;
  /** Every message received so far, oldest first. */
  messages(): Promise<CapturedMail[]>;
  /** Resolves once at least `count` messages arrived; rejects after `timeoutMs`. */
  waitForMessages(count: number, timeoutMs?: number): Promise<CapturedMail[]>;
  close(): Promise<void>;
}

function decodeQuotedPrintable(body: string): string {
  const bytes = body
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** Headers and decoded body of a message or of one MIME part. */
function parsePart(raw: string): { headers: Record<string, string>; body: string } {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split === -1 ? raw : raw.slice(0, split);
  const body = split === -1 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const encoding = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  return { headers, body: encoding === 'quoted-printable' ? decodeQuotedPrintable(body) : encoding === 'base64' ? Buffer.from(body, 'base64').toString('utf8') : body };
}

export function parseMail(record: { from: string; to: string[]; user: string | null; raw: string }): CapturedMail {
  const { headers, body } = parsePart(record.raw);
  // multipart/alternative (text and HTML, as nodemailer sends both): each part on its own.
  const boundary = /^multipart\/[^;]+;.*boundary="?([^";]+)"?/i.exec(headers['content-type'] ?? '')?.[1];
  if (!boundary) return { ...record, headers, text: body };
  const parts = body.split(`--${boundary}`).slice(1, -1).map((part) => parsePart(part.replace(/^\r?\n/, '')));
  const of = (type: string) => parts.find((part) => (part.headers['content-type'] ?? '').toLowerCase().startsWith(type))?.body;
  return { ...record, headers, text: of('text/plain') ?? '', html: of('text/html') };
}

const live = new Set<ChildProcess>();
let hooked = false;

export async function startSmtpServer(): Promise<SmtpServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hlc-smtp-'));
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/support/smtp-capture.ts'), dir], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`smtp-capture did not start within 15 s:\n${output}`)), 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /listening (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`smtp-capture exited with ${code}:\n${output}`));
    });
  });

  async function messages(): Promise<CapturedMail[]> {
    const files = (await readdir(dir)).filter((file) => file.endsWith('.json')).sort();
    return Promise.all(files.map(async (file) => parseMail(JSON.parse(await readFile(path.join(dir, file), 'utf8')))));
  }

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    urlWithAuth: (user, password) => `smtp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    messages,
    async waitForMessages(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = await messages();
        if (found.length >= count) return found;
        if (Date.now() > deadline) throw new Error(`expected ${count} message(s) within ${timeoutMs} ms, got ${found.length}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
