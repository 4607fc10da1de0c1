import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../app.js';
import type { IntrospectedToken } from '../hydra/types.js';
import { HttpError } from '../http/errors.js';
import { parseDateTime } from './validation.js';
import { adminUrl, attempt, field, isApi, pretty, redirectDone, renderAdmin, renderConfirm } from './view.js';

/**
 * Tokens: introspection (what Hydra knows about an access or refresh token), deleting every token
 * of a client, and flushing expired ones. Flush exists only on Hydra v1; v2 moved it to the
 * `hydra janitor` command, and the client answers that with UnsupportedOperationError (501).
 */

/** Access tokens are a few hundred bytes; JWT ones a few kB. Anything bigger is not a token. */
const MAX_TOKEN = 16 * 1024;

interface TokensPage {
  introspect?: { scope: string; error?: string; result?: IntrospectedToken };
  deleteTokens?: { clientId: string; error?: string };
  flush?: { notAfter: string; error?: string };
}

/** Unix seconds as a readable UTC time next to the number. */
function when(seconds: unknown): string | undefined {
  return typeof seconds === 'number' && Number.isFinite(seconds) ? `${seconds} (${new Date(seconds * 1000).toISOString()})` : undefined;
}

function introspectionRows(result: IntrospectedToken): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(result)) {
    if (value === undefined || value === null) continue;
    const text = ['exp', 'iat', 'nbf'].includes(name) ? when(value) : typeof value === 'object' ? pretty(value) : String(value);
    if (text !== undefined) rows.push([name, text]);
  }
  return rows;
}

function readIntrospection(body: unknown): { token: string; scope: string } {
  const token = (field(body, 'token') ?? '').trim();
  const scope = (field(body, 'scope') ?? '').trim();
  if (token === '') throw new HttpError(400, 'token: is required');
  if (token.length > MAX_TOKEN) throw new HttpError(400, 'token: is too long to be a token');
  return { token, scope };
}

/** notAfter, when given, as RFC 3339; Hydra treats a missing one as "now". */
function readFlush(body: unknown): { notAfter?: string } {
  const notAfter = (field(body, 'notAfter') ?? '').trim();
  return notAfter === '' ? {} : { notAfter: parseDateTime(notAfter, 'notAfter') };
}

export function tokenRoutes({ hydra }: AppDeps): Router {
  const router = Router();

  function renderTokens(req: Request, res: Response, page: TokensPage = {}): void {
    const result = page.introspect?.result;
    renderAdmin(req, res, 'tokens', 'tokens', {
      title: 'Tokens',
      introspect: { scope: '', ...page.introspect, rows: result ? introspectionRows(result) : undefined },
      deleteTokens: { clientId: '', ...page.deleteTokens },
      flush: { notAfter: '', ...page.flush },
      flushSupported: hydra.apiVersion === 'v1',
      actions: {
        introspect: adminUrl(res, '/tokens/introspect'),
        tokens: adminUrl(res, '/tokens'),
      },
    });
  }

  // Console only: the forms, and the confirmation of the two destructive ones.
  router.get('/tokens', async (req, res, next) => {
    if (isApi(res)) {
      next();
      return;
    }
    const action = field(req.query, 'action');
    if (action === 'delete') {
      const clientId = field(req.query, 'client_id')?.trim();
      if (!clientId) {
        res.status(400);
        renderTokens(req, res, { deleteTokens: { clientId: '', error: 'client_id: is required' } });
        return;
      }
      const client = await hydra.getOAuth2Client(clientId);
      renderConfirm(req, res, 'tokens', {
        title: "Delete a client's tokens",
        message: "Every access token issued to this client stops working. Hydra keeps its refresh tokens (both v1.11 and v2.3 delete access tokens only): to end those too, revoke the people's consent sessions for this client.",
        facts: [['Client', client.client_name || clientId], ['Client ID', clientId]],
        action: adminUrl(res, '/tokens', { client_id: clientId }),
        method: 'DELETE',
        button: 'Delete tokens',
        cancel: adminUrl(res, '/tokens'),
      });
      return;
    }
    if (action === 'flush') {
      const raw = field(req.query, 'notAfter') ?? '';
      let flush: { notAfter?: string };
      try {
        flush = readFlush({ notAfter: raw });
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        res.status(err.status);
        renderTokens(req, res, { flush: { notAfter: raw, error: err.message } });
        return;
      }
      renderConfirm(req, res, 'tokens', {
        title: 'Flush inactive tokens',
        message: 'Hydra deletes access and refresh tokens that expired before this time. Active tokens are kept.',
        facts: [['Not after', flush.notAfter ?? 'now']],
        action: adminUrl(res, '/tokens/flush'),
        method: 'POST',
        fields: flush.notAfter ? { notAfter: flush.notAfter } : {},
        button: 'Flush',
        cancel: adminUrl(res, '/tokens'),
      });
      return;
    }
    renderTokens(req, res);
  });

  router.post('/tokens/introspect', async (req, res) => {
    if (isApi(res)) {
      res.json(await hydra.introspectOAuth2Token(readIntrospection(req.body)));
      return;
    }
    // The token is not echoed back into the page; the scope is.
    const scope = (field(req.body, 'scope') ?? '').trim();
    let result: IntrospectedToken | undefined;
    const error = await attempt(res, async () => {
      result = await hydra.introspectOAuth2Token(readIntrospection(req.body));
    });
    renderTokens(req, res, { introspect: { scope, error, result } });
  });

  router.delete('/tokens', async (req, res) => {
    const clientId = (field(req.query, 'client_id') ?? '').trim();
    if (clientId === '') throw new HttpError(400, 'client_id: is required');
    await hydra.deleteOAuth2Token(clientId);
    if (isApi(res)) {
      res.status(204).end();
      return;
    }
    redirectDone(res, '/tokens', {}, 'tokens-deleted');
  });

  router.post('/tokens/flush', async (req, res) => {
    if (isApi(res)) {
      await hydra.flushInactiveOAuth2Tokens(readFlush(req.body));
      res.status(204).end();
      return;
    }
    const notAfter = field(req.body, 'notAfter') ?? '';
    const error = await attempt(res, async () => {
      await hydra.flushInactiveOAuth2Tokens(readFlush(req.body));
    });
    if (error !== undefined) {
      renderTokens(req, res, { flush: { notAfter, error } });
      return;
    }
    redirectDone(res, '/tokens', {}, 'flushed');
  });

  return router;
}
