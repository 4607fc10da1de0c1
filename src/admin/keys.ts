import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../app.js';
import { HydraError } from '../hydra/errors.js';
import type { ApiVersion, JsonWebKey, JsonWebKeySet } from '../hydra/types.js';
import { HttpError } from '../http/errors.js';
import { generateKeySchema, isPrivateJwk, publicJwk, validateJwk } from './validation.js';
import {
  adminUrl,
  attempt,
  bodyObject,
  field,
  formErrorKeys,
  isApi,
  parseJsonField,
  parseOr400,
  plainText,
  pretty,
  redirectDone,
  renderAdmin,
  renderConfirm,
} from './view.js';

/** The sets Hydra itself signs with; Hydra has no "list sets" call, so these are offered as shortcuts. */
const WELL_KNOWN_SETS = ['hydra.openid.id-token', 'hydra.jwt.access-token'];
/**
 * What each Hydra generates, as tried on real v1.11.10 and v2.3.0: v1 only RS256, ES256, ES512,
 * EdDSA and the shared secrets HS256/HS512; v2 the RSA, RSA-PSS and EC families and EdDSA, but no
 * shared secrets (those it only takes uploaded).
 */
const ALGORITHMS: Record<ApiVersion, readonly string[]> = {
  v1: ['RS256', 'ES256', 'ES512', 'EdDSA', 'HS256', 'HS512'],
  v2: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
};

interface GenerateForm {
  alg: string;
  kid: string;
  use: string;
}

interface KeyView {
  kid: string;
  kty: string;
  alg: string;
  use: string;
  hasPrivate: boolean;
  json: string;
  href: string;
  remove: string;
}

const setPath = (set: string) => `/keys/${encodeURIComponent(set)}`;
const keyPath = (set: string, kid: string) => `${setPath(set)}/${encodeURIComponent(kid)}`;

/**
 * Hydra decodes the path before it routes it, so a set whose name holds a "/" (a trusted issuer's
 * set, named after its URL) has no admin route at all: v1.11.10 and v2.3.0 both answer "route does
 * not exist", however the "/" is escaped. See trusted-issuers.ts.
 */
export function hydraCanRouteSet(set: string): boolean {
  return !set.includes('/');
}

/** Hydra's 404 for an unroutable set name, said plainly; anything else unchanged. */
async function orUnroutable<T>(set: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof HydraError && err.status === 404 && !hydraCanRouteSet(set)) {
      throw new HttpError(404, `Hydra cannot look up the key set "${set}": its admin API has no route for a set name that contains "/".`, {
        i18n: { title: 'errors.not_found_title', message: 'admin_keys.errors.unroutable', values: { set } },
      });
    }
    throw err;
  }
}

function showPrivate(req: Request): boolean {
  return field(req.query, 'show_private') === '1';
}

function keyView(res: Response, set: string, key: JsonWebKey, withPrivate: boolean): KeyView {
  return {
    kid: key.kid ?? '',
    kty: key.kty ?? '',
    alg: key.alg ?? '',
    use: key.use ?? '',
    hasPrivate: isPrivateJwk(key as unknown as Record<string, unknown>),
    json: pretty(withPrivate ? key : publicJwk(key)),
    href: adminUrl(res, keyPath(set, key.kid ?? '')),
    remove: adminUrl(res, keyPath(set, key.kid ?? ''), { action: 'delete' }),
  };
}

/** A set typed as {"keys": [...]} or as a bare array of keys. */
async function readKeySet(value: unknown): Promise<JsonWebKeySet> {
  const keys = Array.isArray(value) ? value : typeof value === 'object' && value !== null ? (value as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw new HttpError(400, 'keys: a JSON Web Key Set is {"keys": [ ... ]}', { i18n: formErrorKeys('admin_keys.errors.not_a_set') });
  return { keys: await Promise.all(keys.map((key, i) => validateJwk(key, `keys.${i}`))) };
}

export function keyRoutes({ hydra }: AppDeps): Router {
  const router = Router();

  async function renderSet(
    req: Request,
    res: Response,
    set: string,
    locals: { generate?: GenerateForm; replace?: string; error?: string } = {},
  ): Promise<void> {
    let keys: JsonWebKey[] = [];
    let missing = false;
    try {
      keys = (await orUnroutable(set, () => hydra.getJsonWebKeySet(set))).keys ?? [];
    } catch (err) {
      // An unknown set is where a new one starts: show the page with the generate form.
      if (!(err instanceof HydraError && err.status === 404)) throw err;
      missing = true;
      if (res.statusCode < 400) res.status(404);
    }
    const withPrivate = showPrivate(req);
    renderAdmin(req, res, 'key-set', 'keys', {
      title: plainText(res)('admin_keys.set.title', { set }),
      set,
      missing,
      withPrivate,
      keys: keys.map((key) => keyView(res, set, key, withPrivate)),
      generate: locals.generate ?? { alg: 'RS256', kid: '', use: 'sig' },
      replace: locals.replace ?? '',
      error: locals.error,
      algorithms: ALGORITHMS[hydra.apiVersion],
      self: adminUrl(res, setPath(set)),
      togglePrivate: adminUrl(res, setPath(set), withPrivate ? {} : { show_private: '1' }),
      remove: adminUrl(res, setPath(set), { action: 'delete' }),
    });
  }

  async function renderKey(req: Request, res: Response, set: string, kid: string, locals: { replace?: string; error?: string } = {}): Promise<void> {
    const found = (await orUnroutable(set, () => hydra.getJsonWebKey(set, kid))).keys?.[0];
    if (!found) {
      throw new HttpError(404, `There is no key ${kid} in ${set}.`, {
        i18n: { title: 'errors.not_found_title', message: 'admin_keys.errors.no_such_key', values: { kid, set } },
      });
    }
    const withPrivate = showPrivate(req);
    renderAdmin(req, res, 'key', 'keys', {
      title: plainText(res)('admin_keys.key.title', { kid }),
      set,
      key: keyView(res, set, found, withPrivate),
      withPrivate,
      replace: locals.replace ?? '',
      error: locals.error,
      setHref: adminUrl(res, setPath(set)),
      togglePrivate: adminUrl(res, keyPath(set, kid), withPrivate ? {} : { show_private: '1' }),
    });
  }

  // Console only: Hydra cannot list sets, so this page opens one by name.
  router.get('/keys', (req, res, next) => {
    if (isApi(res)) {
      next();
      return;
    }
    const set = field(req.query, 'set')?.trim();
    if (set) {
      res.redirect(303, adminUrl(res, setPath(set)));
      return;
    }
    renderAdmin(req, res, 'keys', 'keys', {
      title: plainText(res)('admin_keys.list.title'),
      sets: WELL_KNOWN_SETS.map((name) => ({ name, href: adminUrl(res, setPath(name)) })),
    });
  });

  router.post('/keys/:set', async (req, res) => {
    const { set } = req.params;
    if (isApi(res)) {
      const body = parseOr400(generateKeySchema, bodyObject(req));
      res.status(201).json(await hydra.createJsonWebKeySet(set, body));
      return;
    }
    const form: GenerateForm = { alg: field(req.body, 'alg') ?? '', kid: field(req.body, 'kid') ?? '', use: field(req.body, 'use') ?? '' };
    const error = await attempt(res, async () => {
      await hydra.createJsonWebKeySet(set, parseOr400(generateKeySchema, form));
    });
    if (error !== undefined) {
      await renderSet(req, res, set, { generate: form, error });
      return;
    }
    redirectDone(res, setPath(set), {}, 'created');
  });

  router.get('/keys/:set', async (req, res) => {
    const { set } = req.params;
    if (isApi(res)) {
      res.json(await orUnroutable(set, () => hydra.getJsonWebKeySet(set)));
      return;
    }
    if (field(req.query, 'action') === 'delete') {
      const { keys } = await hydra.getJsonWebKeySet(set);
      const text = plainText(res);
      renderConfirm(req, res, 'keys', {
        title: text('admin_keys.delete_set.title'),
        message: text('admin_keys.delete_set.message'),
        facts: [[text('admin_keys.delete_set.set'), set], [text('admin_keys.delete_set.keys'), (keys ?? []).map((key) => key.kid).join(', ')]],
        action: adminUrl(res, setPath(set)),
        method: 'DELETE',
        button: text('admin_keys.delete_set.button'),
        cancel: adminUrl(res, setPath(set)),
      });
      return;
    }
    await renderSet(req, res, set);
  });

  router.put('/keys/:set', async (req, res) => {
    const { set } = req.params;
    if (isApi(res)) {
      res.json(await hydra.updateJsonWebKeySet(set, await readKeySet(bodyObject(req))));
      return;
    }
    const text = field(req.body, 'keys') ?? '';
    const error = await attempt(res, async () => {
      await hydra.updateJsonWebKeySet(set, await readKeySet(parseJsonField(text, 'keys')));
    });
    if (error !== undefined) {
      await renderSet(req, res, set, { replace: text, error });
      return;
    }
    redirectDone(res, setPath(set), {}, 'saved');
  });

  router.delete('/keys/:set', async (req, res) => {
    await hydra.deleteJsonWebKeySet(req.params.set);
    if (isApi(res)) {
      res.status(204).end();
      return;
    }
    redirectDone(res, '/keys', {}, 'deleted');
  });

  router.get('/keys/:set/:kid', async (req, res) => {
    const { set, kid } = req.params;
    if (isApi(res)) {
      res.json(await orUnroutable(set, () => hydra.getJsonWebKey(set, kid)));
      return;
    }
    if (field(req.query, 'action') === 'delete') {
      await hydra.getJsonWebKey(set, kid);
      const text = plainText(res);
      renderConfirm(req, res, 'keys', {
        title: text('admin_keys.delete_key.title'),
        message: text('admin_keys.delete_key.message'),
        facts: [[text('admin_keys.delete_key.set'), set], [text('admin_keys.kid'), kid]],
        action: adminUrl(res, keyPath(set, kid)),
        method: 'DELETE',
        button: text('admin_keys.delete_key.button'),
        cancel: adminUrl(res, keyPath(set, kid)),
      });
      return;
    }
    await renderKey(req, res, set, kid);
  });

  router.put('/keys/:set/:kid', async (req, res) => {
    const { set, kid } = req.params;
    if (isApi(res)) {
      res.json(await hydra.updateJsonWebKey(set, kid, await validateJwk(bodyObject(req), 'jwk', { kid })));
      return;
    }
    const text = field(req.body, 'jwk') ?? '';
    const error = await attempt(res, async () => {
      await hydra.updateJsonWebKey(set, kid, await validateJwk(parseJsonField(text, 'jwk'), 'jwk', { kid }));
    });
    if (error !== undefined) {
      await renderKey(req, res, set, kid, { replace: text, error });
      return;
    }
    redirectDone(res, keyPath(set, kid), {}, 'saved');
  });

  router.delete('/keys/:set/:kid', async (req, res) => {
    const { set, kid } = req.params;
    await hydra.deleteJsonWebKey(set, kid);
    if (isApi(res)) {
      res.status(204).end();
      return;
    }
    redirectDone(res, setPath(set), {}, 'deleted');
  });

  return router;
}
