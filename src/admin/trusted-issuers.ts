import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../app.js';
import type { TrustJwtGrantIssuer, TrustedJwtGrantIssuer } from '../hydra/types.js';
import { HttpError } from '../http/errors.js';
import { hydraCanRouteSet } from './keys.js';
import { FIELD_MESSAGES, futureDate, validateJwk } from './validation.js';
import {
  adminDate,
  adminUrl,
  attempt,
  bodyObject,
  field,
  formErrorKeys,
  isApi,
  pager,
  parseJsonField,
  parseOr400,
  plainText,
  pretty,
  readPaging,
  redirectDone,
  renderAdmin,
  renderConfirm,
  words,
} from './view.js';

/**
 * Trusted issuers for the JWT-bearer grant (RFC 7523): Hydra accepts assertions signed by
 * `jwk` from `issuer`, for `subject` (or anyone), with at most `scope`, until `expires_at`.
 */

const shape = z.object({
  issuer: z.string().trim().min(1, FIELD_MESSAGES.required),
  subject: z.string().trim().optional(),
  allow_any_subject: z.boolean().optional(),
  scope: z.array(z.string().min(1)),
  // Checked below with their own messages (zod 4 would call a missing unknown() "nonoptional").
  jwk: z.unknown().optional(),
  expires_at: z.unknown().optional(),
});

/** The body Hydra takes, checked: exactly one of subject / allow_any_subject, a public key, a future date. */
async function trustBody(input: unknown): Promise<TrustJwtGrantIssuer> {
  const body = parseOr400(shape, input);
  const subject = body.subject || undefined;
  const anySubject = body.allow_any_subject === true;
  if (!subject && !anySubject) {
    throw new HttpError(400, 'subject: set a subject, or allow any subject', { i18n: formErrorKeys('admin_issuers.errors.subject_missing') });
  }
  if (subject && anySubject) {
    throw new HttpError(400, 'subject: set a subject or allow any subject, not both', { i18n: formErrorKeys('admin_issuers.errors.subject_both') });
  }
  return {
    issuer: body.issuer,
    ...(subject ? { subject } : { allow_any_subject: true }),
    scope: body.scope,
    // Hydra verifies assertions with it, so it must be the issuer's public key, never a secret.
    jwk: await validateJwk(body.jwk, 'jwk', { publicOnly: true }),
    expires_at: futureDate(body.expires_at, 'expires_at'),
  };
}

interface TrustForm {
  issuer: string;
  subject: string;
  allow_any_subject: boolean;
  scope: string;
  jwk: string;
  expires_at: string;
}

const EMPTY_FORM: TrustForm = { issuer: '', subject: '', allow_any_subject: false, scope: '', jwk: '', expires_at: '' };

function readForm(body: unknown): TrustForm {
  const text = (name: string) => field(body, name) ?? '';
  return {
    issuer: text('issuer'),
    subject: text('subject'),
    allow_any_subject: text('allow_any_subject') !== '',
    scope: text('scope'),
    jwk: text('jwk'),
    expires_at: text('expires_at'),
  };
}

const issuerPath = (id: string) => `/trust/issuers/${encodeURIComponent(id)}`;

/** Whom the grant is for, as the page says it. */
function subjectOf(res: Response, grant: TrustedJwtGrantIssuer): string {
  return grant.allow_any_subject ? plainText(res)('admin_issuers.any_subject') : (grant.subject ?? '');
}

export function trustedIssuerRoutes({ hydra }: AppDeps): Router {
  const router = Router();

  function renderForm(req: Request, res: Response, form: TrustForm, error?: string): void {
    renderAdmin(req, res, 'issuer-form', 'trust', {
      title: plainText(res)('admin_issuers.form.title'),
      form,
      error,
      action: adminUrl(res, '/trust/issuers'),
      cancel: adminUrl(res, '/trust/issuers'),
    });
  }

  function rowOf(res: Response, grant: TrustedJwtGrantIssuer) {
    return {
      id: grant.id,
      issuer: grant.issuer,
      subject: subjectOf(res, grant),
      scope: (grant.scope ?? []).join(' '),
      kid: grant.public_key?.kid ?? '',
      expiresAt: adminDate(res, grant.expires_at),
      createdAt: adminDate(res, grant.created_at),
      href: adminUrl(res, issuerPath(grant.id)),
      keySet: grant.public_key?.set ?? '',
      // Hydra files the issuer's key in a set named after the issuer. An issuer URL holds "/", and
      // neither v1.11 nor v2.3 can route such a set name, so a link there would always end on
      // Hydra's "route does not exist": the console links the key only when Hydra can serve it.
      keyHref:
        grant.public_key?.kid && hydraCanRouteSet(grant.public_key.set)
          ? adminUrl(res, `/keys/${encodeURIComponent(grant.public_key.set)}/${encodeURIComponent(grant.public_key.kid)}`)
          : undefined,
    };
  }

  router.get('/trust/issuers', async (req, res) => {
    if (!isApi(res) && field(req.query, 'action') === 'new') {
      renderForm(req, res, EMPTY_FORM);
      return;
    }
    const filters = { issuer: field(req.query, 'issuer') || undefined };
    const paging = readPaging(req);
    const page = await hydra.listTrustedJwtGrantIssuers({ ...filters, ...paging });
    const links = pager(res, page, '/trust/issuers', filters, paging);
    if (isApi(res)) {
      res.json(page.items);
      return;
    }
    renderAdmin(req, res, 'issuers', 'trust', {
      title: plainText(res)('admin_issuers.list.title'),
      filters,
      pager: links,
      create: adminUrl(res, '/trust/issuers', { action: 'new' }),
      issuers: page.items.map((grant) => rowOf(res, grant)),
    });
  });

  router.post('/trust/issuers', async (req, res) => {
    if (isApi(res)) {
      res.status(201).json(await hydra.trustJwtGrantIssuer(await trustBody(bodyObject(req))));
      return;
    }
    const form = readForm(req.body);
    let created: TrustedJwtGrantIssuer | undefined;
    const error = await attempt(res, async () => {
      created = await hydra.trustJwtGrantIssuer(
        await trustBody({
          issuer: form.issuer,
          subject: form.subject,
          allow_any_subject: form.allow_any_subject,
          scope: words(form.scope),
          jwk: parseJsonField(form.jwk, 'jwk'),
          expires_at: form.expires_at,
        }),
      );
    });
    if (error !== undefined || !created) {
      renderForm(req, res, form, error);
      return;
    }
    redirectDone(res, issuerPath(created.id), {}, 'created');
  });

  router.get('/trust/issuers/:id', async (req, res) => {
    const { id } = req.params;
    const grant = await hydra.getTrustedJwtGrantIssuer(id);
    if (isApi(res)) {
      res.json(grant);
      return;
    }
    if (field(req.query, 'action') === 'delete') {
      const text = plainText(res);
      renderConfirm(req, res, 'trust', {
        title: text('admin_issuers.delete.title'),
        message: text('admin_issuers.delete.message'),
        facts: [
          [text('admin_issuers.issuer'), grant.issuer],
          [text('admin_issuers.subject'), subjectOf(res, grant)],
          [text('admin_issuers.kid'), grant.public_key?.kid ?? ''],
        ],
        action: adminUrl(res, issuerPath(id)),
        method: 'DELETE',
        button: text('admin_issuers.delete.button'),
        cancel: adminUrl(res, issuerPath(id)),
      });
      return;
    }
    renderAdmin(req, res, 'issuer', 'trust', {
      title: plainText(res)('admin_issuers.detail.title', { issuer: grant.issuer }),
      grant: rowOf(res, grant),
      json: pretty(grant),
      remove: adminUrl(res, issuerPath(id), { action: 'delete' }),
    });
  });

  router.delete('/trust/issuers/:id', async (req, res) => {
    await hydra.deleteTrustedJwtGrantIssuer(req.params.id);
    if (isApi(res)) {
      res.status(204).end();
      return;
    }
    redirectDone(res, '/trust/issuers', {}, 'deleted');
  });

  return router;
}
