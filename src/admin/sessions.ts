import { Router, type Request } from 'express';
import type { AppDeps } from '../app.js';
import type { RevokeConsentSessionsQuery } from '../hydra/types.js';
import { HttpError } from '../http/errors.js';
import { plainText, type Translate } from '../http/i18n.js';
import { translator } from '../http/locale.js';
import { adminUrl, field, isApi, pager, readPaging, redirectDone, renderAdmin, renderConfirm } from './view.js';

/**
 * A subject's sessions at Hydra. Consent sessions are what Hydra remembers a person granted to
 * each client (revoking one also revokes that client's tokens for them); login sessions are
 * Hydra's "remember me" cookie state (revoking them makes the next authorization ask to log in).
 */

const MAX_SUBJECT = 1024;

/** A 400 whose English is the API's error_description, with the console page's words in `admin_sessions`. */
function badRequest(message: string, key: string): HttpError {
  return new HttpError(400, message, { i18n: { title: 'errors.bad_request_title', message: `admin_sessions.problems.${key}` } });
}


/** A query parameter, or the same field of a console form (which posts to the same URL). */
function param(req: Request, name: string): string | undefined {
  const value = field(req.query, name) ?? field(req.body, name);
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function requireSubject(req: Request): string {
  const subject = param(req, 'subject');
  if (!subject) throw badRequest('subject: is required', 'subject_required');
  if (subject.length > MAX_SUBJECT) throw badRequest('subject: is too long', 'subject_too_long');
  return subject;
}

/** Hydra v25+ accepts exactly subject+client or subject+all=true (and answers 400 to anything else). */
function revokeQuery(req: Request): RevokeConsentSessionsQuery {
  const subject = requireSubject(req);
  const client = param(req, 'client');
  const all = param(req, 'all');
  if (all !== undefined && all !== 'true') throw badRequest('all: must be true when given', 'all_not_true');
  if (client && all) throw badRequest('give client or all=true, not both', 'client_and_all');
  if (client) return { subject, client };
  if (all) return { subject, all: true };
  throw badRequest('client: is required (or all=true to revoke every client)', 'client_required');
}

export function sessionRoutes({ hydra }: AppDeps): Router {
  const router = Router();

  router.get('/sessions/consent', async (req, res) => {
    const api = isApi(res);
    if (!api && field(req.query, 'action') === 'delete') {
      const query = revokeQuery(req);
      const target = query.all ? { subject: query.subject, all: 'true' } : { subject: query.subject, client: query.client };
      const text = plainText(translator(res));
      renderConfirm(req, res, 'sessions', {
        title: text('admin_sessions.confirm.consent_title'),
        message: text(query.all ? 'admin_sessions.confirm.consent_all_message' : 'admin_sessions.confirm.consent_client_message'),
        facts: [
          [text('admin_sessions.fields.subject'), query.subject],
          [text('admin_sessions.fields.client'), query.all ? text('admin_sessions.confirm.all_clients') : query.client],
        ],
        action: adminUrl(res, '/sessions/consent', target),
        method: 'DELETE',
        button: text('admin_sessions.confirm.consent_button'),
        cancel: adminUrl(res, '/sessions/consent', { subject: query.subject }),
      });
      return;
    }
    const subject = api ? requireSubject(req) : param(req, 'subject');
    const title = plainText(translator(res))('admin_sessions.title');
    if (!subject) {
      renderAdmin(req, res, 'consent-sessions', 'sessions', { title, subject: '', sessions: undefined, pager: {} });
      return;
    }
    if (subject.length > MAX_SUBJECT) throw badRequest('subject: is too long', 'subject_too_long');
    const paging = readPaging(req);
    const page = await hydra.listSubjectConsentSessions({ subject, ...paging });
    const links = pager(res, page, '/sessions/consent', { subject }, paging);
    if (api) {
      res.json(page.items);
      return;
    }
    renderAdmin(req, res, 'consent-sessions', 'sessions', {
      title,
      subject,
      pager: links,
      revokeAll: adminUrl(res, '/sessions/consent', { subject, all: 'true', action: 'delete' }),
      revokeLogin: adminUrl(res, '/sessions/login', { subject, action: 'delete' }),
      sessions: page.items.map((session) => {
        const client = session.consent_request?.client;
        const clientId = client?.client_id ?? '';
        return {
          clientId,
          clientName: client?.client_name ?? '',
          scope: (session.grant_scope ?? []).join(' '),
          audience: (session.grant_access_token_audience ?? []).join(' '),
          // Hydra's RFC 3339 string: the page shows it formatted, with the exact value in <time datetime>.
          handledAt: session.handled_at && !Number.isNaN(Date.parse(session.handled_at)) ? { iso: session.handled_at, date: new Date(session.handled_at) } : undefined,
          // Hydra's remember_for: seconds, 0 meaning until the session is revoked.
          remember: session.remember ? (session.remember_for ? { key: 'admin_sessions.remember_for', count: session.remember_for } : { key: 'admin_sessions.remember_forever' }) : { key: 'admin_sessions.remember_no' },
          revoke: clientId ? adminUrl(res, '/sessions/consent', { subject, client: clientId, action: 'delete' }) : undefined,
        };
      }),
    });
  });

  router.delete('/sessions/consent', async (req, res) => {
    const query = revokeQuery(req);
    await hydra.revokeConsentSessions(query);
    if (isApi(res)) {
      res.status(204).end();
      return;
    }
    redirectDone(res, '/sessions/consent', { subject: query.subject }, 'revoked');
  });

  // Console only: the confirmation for DELETE /admin/sessions/login.
  router.get('/sessions/login', (req, res, next) => {
    if (isApi(res)) {
      next();
      return;
    }
    const subject = requireSubject(req);
    if (field(req.query, 'action') !== 'delete') {
      res.redirect(303, adminUrl(res, '/sessions/consent', { subject }));
      return;
    }
    const text = plainText(translator(res));
    renderConfirm(req, res, 'sessions', {
      title: text('admin_sessions.confirm.login_title'),
      message: text('admin_sessions.confirm.login_message'),
      facts: [[text('admin_sessions.fields.subject'), subject]],
      action: adminUrl(res, '/sessions/login', { subject }),
      method: 'DELETE',
      button: text('admin_sessions.confirm.login_button'),
      cancel: adminUrl(res, '/sessions/consent', { subject }),
    });
  });

  router.delete('/sessions/login', async (req, res) => {
    const subject = requireSubject(req);
    await hydra.revokeAuthenticationSession(subject);
    if (isApi(res)) {
      res.status(204).end();
      return;
    }
    redirectDone(res, '/sessions/consent', { subject }, 'revoked');
  });

  return router;
}
