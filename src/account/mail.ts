import { plainText, type Translate } from '../http/i18n.js';

/**
 * Outgoing email: the seam (`deps.mailer`) and the messages. Its SMTP implementation is in
 * smtp.ts, loaded only when SMTP_URL is set. A fork that sends through an HTTP API implements
 * `Mailer` instead.
 */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  /** The same message as HTML (sent as multipart/alternative beside `text`). */
  html?: string;
  /** Its language (BCP 47), for Content-Language and the HTML's `lang`. */
  lang?: string;
}

export interface Mailer {
  /** Resolves once the server accepted the message; rejects with a message that holds no secret. */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' };
const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/**
 * The "Forgot password?" message, in `lang` (the language of the page that asked for it): the
 * link, how long it works, and what to do if it was not you; plain text, and the same as HTML.
 * The words are the catalog's `email.reset`; only the link (ours) goes into them, escaped in HTML.
 */
export function resetPasswordMail(to: string, link: string, expiresAt: Date, t: Translate, lang: string, now = new Date()): OutgoingMail {
  const minutes = Math.max(1, Math.round((expiresAt.getTime() - now.getTime()) / 60_000));
  const duration = minutes % 60 === 0 ? t('email.reset.hours', { count: minutes / 60 }) : t('email.reset.minutes', { count: minutes });
  // Text: nothing is escaped. HTML: i18next escapes interpolated values (src/http/i18n.ts).
  const plain = plainText(t);
  const href = escapeHtml(link);
  return {
    to,
    lang,
    subject: plain('email.reset.subject'),
    text: [plain('email.reset.greeting'), '', plain('email.reset.open'), '', link, '', plain('email.reset.lasts', { duration }), ''].join('\n'),
    html: [
      '<!doctype html>',
      `<html lang="${escapeHtml(lang)}"><head><meta charset="utf-8"><title>${t('email.reset.subject')}</title></head>`,
      '<body style="font-family: sans-serif; line-height: 1.5;">',
      `<p>${t('email.reset.greeting')}</p>`,
      `<p>${t('email.reset.open')}</p>`,
      `<p><a href="${href}">${t('email.reset.button')}</a></p>`,
      `<p style="word-break: break-all;"><a href="${href}">${href}</a></p>`,
      `<p>${t('email.reset.lasts', { duration })}</p>`,
      '</body></html>',
      '',
    ].join('\n'),
  };
}
