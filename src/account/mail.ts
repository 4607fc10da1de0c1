import { createTransport } from 'nodemailer';

/**
 * Outgoing email: the seam (`deps.mailer`) and its SMTP implementation on nodemailer, built from
 * SMTP_URL. A fork that sends through an HTTP API implements `Mailer` instead.
 */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  /** Resolves once the server accepted the message; rejects with a message that holds no secret. */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

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
      await transport.sendMail({ from: options.from, to: mail.to, subject: mail.subject, text: mail.text });
    },
    close: () => transport.close(),
  };
}

/** The "Forgot password?" message: plain text, the link, how long it works, and what to do if it was not you. */
export function resetPasswordMail(to: string, link: string, expiresAt: Date, now = new Date()): OutgoingMail {
  const minutes = Math.max(1, Math.round((expiresAt.getTime() - now.getTime()) / 60_000));
  const lasts = minutes % 60 === 0 ? `${minutes / 60} hour${minutes === 60 ? '' : 's'}` : `${minutes} minutes`;
  return {
    to,
    subject: 'Set a new password',
    text: [
      'Someone (hopefully you) asked to set a new password for the account with this email address.',
      '',
      'Open this link to choose one:',
      '',
      link,
      '',
      `The link works once, for ${lasts}. If you did not ask for it, ignore this message: your password stays as it is.`,
      '',
    ].join('\n'),
  };
}
