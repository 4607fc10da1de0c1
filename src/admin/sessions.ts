import { Router, type Request } from 'express';
import type { AppDeps } from '../app.js';
import type { RevokeConsentSessionsQuery } from '../hydra/types.js';
import { HttpError } from '../http/errors.js';
import { adminUrl, field, isApi, pager, readPaging, redirectDone, renderAdmin, renderConfirm } from './view.js';

/**
 * A subject's sessions at Hydra. Consent sessions are what Hydra remembers a person granted to
 * each client (revoking one also revokes that client's tokens for them); login sessions are
 * Hydra's "remember me" cookie state (revoking them makes the next authorization ask to log in).
 */

const MAX_SUBJECT = 1024;

/** A query parameter, or the same field of a console form (which posts to the same URL). */
function param(req: Request, name: string): string | undefined {
  const value = field(req.query, name) ?? field(req.body, name);
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function requireSubject(req: Request): string {
  const subject = param(req, 'subject');
  if (!subject) throw new HttpError(400, 'subject: is required');
  if (subject.length > MAX_SUBJECT) throw new HttpError(400, 'subject: is too long');
  return subject;
}

/** Hydra v25+ accepts exactly subject+client or subject+all=true (and answers 400 to anything else). */
function revokeQuery(req: Request): RevokeConsentSessionsQuery {
  const subject = requireSubject(req);
  const client = param(req, 'client');
  const all = param(req, 'all');
  if (all !== undefined && all !== 'true') throw new HttpError(400, 'all: must be true when given');
  if (client && all) throw new HttpError(400, 'give client or all=true, not both');
  if (client) return { subject, client };
  if (all) return { subject, all: true };
  throw new HttpError(400, 'client: is required (or all=true to revoke every client)');
}

export function sessionRoutes({ hydra }: AppDeps): Router {
  const router = Router();

  router.get('/sessions/consent', async (req, res) => {
    const api = isApi(res);
    if (!api && field(req.query, 'action') === 'delete') {
      const query = revokeQuery(req);
      const target = query.all ? { subject: query.subject, all: 'true' } : { subject: query.subject, client: query.client };
      renderConfirm(req, res, 'sessions', {
        title: 'Revoke consent',
        message: query.all
          ? 'Every client loses the consent this subject gave, and the tokens issued on it. Each client will ask for consent again.'
          : 'This client loses the consent this subject gave, and the tokens issued on it. It will ask for consent again.',
        facts: [['Subject', query.subject], ['Client', query.all ? 'all clients' : query.client]],
        action: adminUrl(res, '/sessions/consent', target),
        method: 'DELETE',
        button: 'Revoke consent',
        cancel: adminUrl(res, '/sessions/consent', { subject: query.subject }),
      });
      return;
    }
    const subject = api ? requireSubject(req) : param(req, 'subject');
    if (!subject) {
      renderAdmin(req, res, 'consent-sessions', 'sessions', { title: 'Sessions', subject: '', sessions: undefined, pager: {} });
      return;
    }
    if (subject.length > MAX_SUBJECT) throw new HttpError(400, 'subject: is too long');
    const paging = readPaging(req);
    const page = await hydra.listSubjectConsentSessions({ subject, ...paging });
    const links = pager(res, page, '/sessions/consent', { subject }, paging);
    if (api) {
      res.json(page.items);
      return;
    }
    renderAdmin(req, res, 'consent-sessions', 'sessions', {
      title: 'Sessions',
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
          handledAt: session.handled_at ?? '',
          remember: session.remember ? (session.remember_for ? `${session.remember_for} s` : 'until revoked') : 'no',
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
    renderConfirm(req, res, 'sessions', {
      title: 'Revoke login sessions',
      message: 'Hydra forgets that this subject is signed in, on every device: their next authorization asks them to log in again. Tokens already issued keep working.',
      facts: [['Subject', subject]],
      action: adminUrl(res, '/sessions/login', { subject }),
      method: 'DELETE',
      button: 'Revoke login sessions',
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
