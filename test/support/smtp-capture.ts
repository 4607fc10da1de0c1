/**
 * The child process behind test/support/smtp-server.ts: a real SMTP server (the `smtp-server`
 * package, from the nodemailer project) on 127.0.0.1, port 0, that accepts every message and
 * writes it to the folder given as argv[2], one JSON file per message: the envelope, the
 * authenticated user (if any) and the raw RFC 5322 text. Prints `listening <port>` once bound.
 * Run with `node --import tsx test/support/smtp-capture.ts <dir>`.
 */
import { rename, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: smtp-capture.ts <dir>');
  process.exit(2);
}
let count = 0;

const server = new SMTPServer({
  logger: false,
  // Plain SMTP on loopback: no STARTTLS offered, and AUTH allowed over it (but not required),
  // so SMTP_URL with and without credentials both work.
  disabledCommands: ['STARTTLS'],
  authOptional: true,
  allowInsecureAuth: true,
  onAuth(auth, _session, callback) {
    callback(null, { user: auth.username ?? '' });
  },
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const n = ++count;
      const record = {
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
        user: session.user ?? null,
        raw: Buffer.concat(chunks).toString('utf8'),
      };
      const file = path.join(dir, `${String(n).padStart(5, '0')}.json`);
      // Written whole, then renamed: a reader never sees half a message.
      writeFile(`${file}.tmp`, JSON.stringify(record))
        .then(() => rename(`${file}.tmp`, file))
        .then(() => callback(), (err: Error) => callback(err));
    });
  },
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.server.address() as AddressInfo;
  console.log(`listening ${port}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent holds our stdin: when it goes away (even SIGKILLed), so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
