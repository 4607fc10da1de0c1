import { Router, type Request } from 'express';
import type { AppDeps } from '../app.js';
import { HttpError } from '../http/errors.js';
import type { Account, AuditContext } from '../users/accounts.js';
import type { Factor } from '../users/factors.js';
import { isApi, redirectDone } from './view.js';

/**
 * A user's second factors in the console and the API:
 *
 *   GET    /users/:id/factors              { factors: [...], recovery_codes_left }
 *   DELETE /users/:id/factors/:factorId    removes one (the last one takes the recovery codes with it)
 *   DELETE /users/:id/recovery-codes       removes the recovery codes
 *
 * The console's user page lists them (factorRows) with a Remove button each. Every removal is
 * audited with actor `admin`. Secrets are never shown, only kind, name and dates.
 */

export function factorJson(factor: Factor) {
  return { id: factor.id, kind: factor.kind, label: factor.label, created_at: factor.created_at.toISOString(), last_used_at: factor.last_used_at?.toISOString() ?? null };
}

export interface FactorRows {
  items: Factor[];
  codesLeft: number;
}

/** An account's factors and unused recovery codes; undefined when there is no factor store. */
export async function factorRows(deps: AppDeps, account: Account): Promise<FactorRows | undefined> {
  if (!deps.factors) return undefined;
  const [factors, codesLeft] = await Promise.all([deps.factors.list(account.id), deps.factors.recoveryCodesLeft(account.id)]);
  return { items: factors, codesLeft };
}

/** What views/admin/user-factors.ejs shows: dates as Date for formatDate, the kind's catalog key next to the stored kind. */
export function factorView(rows: FactorRows) {
  return {
    codesLeft: rows.codesLeft,
    items: rows.items.map((factor) => ({
      id: factor.id,
      kind: factor.kind,
      kindLabel: `admin_users.factors.kind_${factor.kind}`,
      label: factor.label,
      createdAt: factor.created_at,
      lastUsedAt: factor.last_used_at,
    })),
  };
}

export function factorAdminRoutes(deps: AppDeps, load: (id: string) => Promise<Account>): Router {
  const router = Router();
  const { factors } = deps;
  if (!factors) return router;
  const by = (req: Request): AuditContext => ({ actor: 'admin', ip: req.ip });
  const userPath = (id: string) => `/users/${encodeURIComponent(id)}`;

  router.get('/users/:id/factors', async (req, res) => {
    const account = await load(req.params.id);
    const rows = (await factorRows(deps, account))!;
    res.json({ factors: rows.items.map(factorJson), recovery_codes_left: rows.codesLeft });
  });

  router.delete('/users/:id/factors/:factorId', async (req, res) => {
    const account = await load(req.params.id);
    if (!(await factors.remove(account.id, req.params.factorId, by(req)))) {
      throw new HttpError(404, 'This user has no such factor.', { title: 'Factor not found', i18n: { title: 'admin_users.factors.not_found_title', message: 'admin_users.factors.not_found' } });
    }
    if (isApi(res)) {
      res.status(204).end();
      return;
    }
    redirectDone(res, userPath(account.id), {}, 'deleted');
  });

  router.delete('/users/:id/recovery-codes', async (req, res) => {
    const account = await load(req.params.id);
    if (!(await factors.removeRecoveryCodes(account.id, by(req)))) {
      throw new HttpError(404, 'This user has no recovery codes.', { title: 'Not found', i18n: { title: 'admin_users.factors.no_codes_title', message: 'admin_users.factors.no_codes' } });
    }
    if (isApi(res)) {
      res.status(204).end();
      return;
    }
    redirectDone(res, userPath(account.id), {}, 'deleted');
  });

  return router;
}
