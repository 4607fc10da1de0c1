import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../app.js';
import { UnsupportedOperationError } from '../hydra/errors.js';
import type { IntrospectedToken } from '../hydra/types.js';
import { HttpError } from '../http/errors.js';
import { plainText, type Translate } from '../http/i18n.js';
import { translator } from '../http/locale.js';
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

/** A 400 whose English is the API's error_description, with the console page's words in `admin_tokens`. */
function badRequest(message: string, key: string): HttpError {
  return new HttpError(400, message, { i18n: { title: 'errors.bad_request_title', message: `admin_tokens.problems.${key}` } });
}


interface IntrospectionRow {
  name: string;
  text: string;
  /** exp, iat, nbf: the Unix seconds as a date too (formatDate on the page, exact in <time datetime>). */
  time?: { iso: string; date: Date };
}

function introspectionRows(result: IntrospectedToken): IntrospectionRow[] {
  const rows: IntrospectionRow[] = [];
  for (const [name, value] of Object.entries(result)) {
    if (value === undefined || value === null) continue;
    if (['exp', 'iat', 'nbf'].includes(name)) {
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      const date = new Date(value * 1000);
      rows.push({ name, text: String(value), time: { iso: date.toISOString(), date } });
      continue;
    }
    rows.push({ name, text: typeof value === 'object' ? pretty(value) : String(value) });
  }
  return rows;
}

function readIntrospection(body: unknown): { token: string; scope: string } {
  const token = (field(body, 'token') ?? '').trim();
  const scope = (field(body, 'scope') ?? '').trim();
  if (token === '') throw badRequest('token: is required', 'token_required');
  if (token.length > MAX_TOKEN) throw badRequest('token: is too long to be a token', 'token_too_long');
  return { token, scope };
}

/** notAfter, when given, as RFC 3339; Hydra treats a missing one as "now". */
function readFlush(body: unknown): { notAfter?: string } {
  const notAfter = (field(body, 'notAfter') ?? '').trim();
  if (notAfter === '') return {};
  try {
    return { notAfter: parseDateTime(notAfter, 'notAfter') };
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    throw new HttpError(err.status, err.message, { i18n: { title: 'errors.bad_request_title', message: 'admin_tokens.problems.not_after_invalid' } });
  }
}

/** The janitor hint for a Hydra without flush, in the page's language (attempt's `reword`). */
function flushUnsupported(res: Response): (err: unknown) => string | undefined {
  return (err) =>
    err instanceof UnsupportedOperationError && err.operation === 'flushInactiveOAuth2Tokens' ? plainText(translator(res))('admin_tokens.problems.flush_unsupported') : undefined;
}

export function tokenRoutes({ hydra }: AppDeps): Router {
  const router = Router();

  function renderTokens(req: Request, res: Response, page: TokensPage = {}): void {
    const result = page.introspect?.result;
    renderAdmin(req, res, 'tokens', 'tokens', {
      title: plainText(translator(res))('admin_tokens.title'),
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
    const text = plainText(translator(res));
    if (action === 'delete') {
      const clientId = field(req.query, 'client_id')?.trim();
      if (!clientId) {
        res.status(400);
        renderTokens(req, res, { deleteTokens: { clientId: '', error: text('admin_tokens.problems.client_id_required') } });
        return;
      }
      const client = await hydra.getOAuth2Client(clientId);
      renderConfirm(req, res, 'tokens', {
        title: text('admin_tokens.confirm.delete_title'),
        message: text('admin_tokens.confirm.delete_message'),
        facts: [[text('admin_tokens.fields.client'), client.client_name || clientId], [text('admin_tokens.fields.client_id'), clientId]],
        action: adminUrl(res, '/tokens', { client_id: clientId }),
        method: 'DELETE',
        button: text('admin_tokens.confirm.delete_button'),
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
        renderTokens(req, res, { flush: { notAfter: raw, error: text('admin_tokens.problems.not_after_invalid') } });
        return;
      }
      const formatDate = res.locals.formatDate as (value: Date) => string;
      renderConfirm(req, res, 'tokens', {
        title: text('admin_tokens.confirm.flush_title'),
        message: text('admin_tokens.confirm.flush_message'),
        // The exact UTC time Hydra gets, after the operator's reading of it.
        facts: [[text('admin_tokens.fields.not_after'), flush.notAfter ? `${formatDate(new Date(flush.notAfter))} (${flush.notAfter})` : text('admin_tokens.confirm.now')]],
        action: adminUrl(res, '/tokens/flush'),
        method: 'POST',
        fields: flush.notAfter ? { notAfter: flush.notAfter } : {},
        button: text('admin_tokens.confirm.flush_button'),
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
    if (clientId === '') throw badRequest('client_id: is required', 'client_id_required');
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
    const error = await attempt(
      res,
      async () => {
        await hydra.flushInactiveOAuth2Tokens(readFlush(req.body));
      },
      flushUnsupported(res),
    );
    if (error !== undefined) {
      renderTokens(req, res, { flush: { notAfter, error } });
      return;
    }
    redirectDone(res, '/tokens', {}, 'flushed');
  });

  return router;
}
