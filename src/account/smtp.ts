import { createTransport } from 'nodemailer';
import type { Mailer } from './mail.js';

/* The SMTP `Mailer` on nodemailer, built from SMTP_URL. deps.ts loads this module only then. */

export interface SmtpMailerOptions {
  /** smtp://user:password@host:587 (STARTTLS when offered) or smtps://…:465. */
  url: string;
  /** The From header, e.g. `Sign-in <no-reply@example.com>`. */
  from: string;
  /** Connection, greeting and idle-socket limits, milliseconds. */
  timeoutMs?: number;
}

export function smtpMailer(options: SmtpMailerOptions): Mailer {
  const timeout = options.timeoutMs ?? 10_000;
  // nodemailer's defaults wait minutes for a silent server; a reset mail is not worth that.
  const transport = createTransport({ url: options.url, connectionTimeout: timeout, greetingTimeout: timeout, socketTimeout: timeout * 2 });
  return {
    async send(mail) {
      await transport.sendMail({
        from: options.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        ...(mail.html === undefined ? {} : { html: mail.html }),
        ...(mail.lang === undefined ? {} : { headers: { 'Content-Language': mail.lang } }),
      });
    },
    close: () => transport.close(),
  };
}
