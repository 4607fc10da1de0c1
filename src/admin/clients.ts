import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../app.js';
import type { OAuth2Client } from '../hydra/types.js';
import { HttpError } from '../http/errors.js';
import { safeHttpUrl } from '../http/urls.js';
import { clientSchema, patchSchema } from './validation.js';
import {
  adminDate,
  adminUrl,
  attempt,
  bodyObject,
  field,
  formErrorKeys,
  isApi,
  lines,
  pager,
  parseJsonField,
  parseOr400,
  plainText,
  pretty,
  readPaging,
  redirectDone,
  renderAdmin,
  renderConfirm,
} from './view.js';

/** Fields the HTML form edits one by one; every other field goes through the JSON editor. */
const FORM_FIELDS = [
  'client_name', 'redirect_uris', 'post_logout_redirect_uris', 'grant_types', 'response_types', 'scope', 'audience',
  'token_endpoint_auth_method', 'skip_consent', 'metadata', 'logo_uri', 'policy_uri', 'tos_uri', 'client_uri',
] as const;
/** Hydra sets these itself; the editor neither shows nor sends them (the id comes from the URL). */
const MANAGED_BY_HYDRA = ['client_id', 'client_secret', 'client_secret_expires_at', 'created_at', 'updated_at', 'registration_access_token', 'registration_client_uri'];

const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', 'implicit', 'urn:ietf:params:oauth:grant-type:jwt-bearer'];
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];
/** Shown as links on the client page, when they are http(s). */
const LINK_FIELDS = new Set(['client_uri', 'logo_uri', 'policy_uri', 'tos_uri', 'jwks_uri', 'sector_identifier_uri']);

/** The client form as typed: strings, so a failed submit shows exactly what was sent. */
interface ClientForm {
  client_name: string;
  redirect_uris: string;
  post_logout_redirect_uris: string;
  grant_types: string[];
  response_types: string;
  scope: string;
  audience: string;
  token_endpoint_auth_method: string;
  skip_consent: boolean;
  metadata: string;
  logo_uri: string;
  policy_uri: string;
  tos_uri: string;
  client_uri: string;
  /** Every other field, as a JSON object. */
  other: string;
}

const NEW_CLIENT_FORM: ClientForm = {
  client_name: '', redirect_uris: '', post_logout_redirect_uris: '', grant_types: ['authorization_code', 'refresh_token'],
  response_types: 'code', scope: 'openid offline_access', audience: '', token_endpoint_auth_method: 'client_secret_basic',
  skip_consent: false, metadata: '', logo_uri: '', policy_uri: '', tos_uri: '', client_uri: '', other: '{}',
};

function formFromClient(client: OAuth2Client): ClientForm {
  const other = Object.fromEntries(
    Object.entries(client).filter(([key]) => !(FORM_FIELDS as readonly string[]).includes(key) && !MANAGED_BY_HYDRA.includes(key)),
  );
  const metadata = client.metadata && Object.keys(client.metadata).length > 0 ? pretty(client.metadata) : '';
  return {
    client_name: client.client_name ?? '',
    redirect_uris: (client.redirect_uris ?? []).join('\n'),
    post_logout_redirect_uris: (client.post_logout_redirect_uris ?? []).join('\n'),
    grant_types: client.grant_types ?? [],
    response_types: (client.response_types ?? []).join('\n'),
    scope: client.scope ?? '',
    audience: (client.audience ?? []).join('\n'),
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? '',
    skip_consent: client.skip_consent === true,
    metadata,
    logo_uri: client.logo_uri ?? '',
    policy_uri: client.policy_uri ?? '',
    tos_uri: client.tos_uri ?? '',
    client_uri: client.client_uri ?? '',
    other: pretty(other),
  };
}

function readForm(body: unknown): ClientForm {
  const text = (name: string) => field(body, name) ?? '';
  const grants = (body as Record<string, unknown> | undefined)?.grant_types;
  return {
    client_name: text('client_name'),
    redirect_uris: text('redirect_uris'),
    post_logout_redirect_uris: text('post_logout_redirect_uris'),
    grant_types: (Array.isArray(grants) ? grants : [grants]).filter((item): item is string => typeof item === 'string'),
    response_types: text('response_types'),
    scope: text('scope'),
    audience: text('audience'),
    token_endpoint_auth_method: text('token_endpoint_auth_method'),
    skip_consent: text('skip_consent') !== '',
    metadata: text('metadata'),
    logo_uri: text('logo_uri').trim(),
    policy_uri: text('policy_uri').trim(),
    tos_uri: text('tos_uri').trim(),
    client_uri: text('client_uri').trim(),
    other: text('other'),
  };
}

/**
 * The form as a whole client (PUT replaces everything), validated like an API body. `otherField`
 * is how the page's language names the "Other fields" box in its messages.
 */
function clientFromForm(form: ClientForm, mode: 'create' | 'edit', apiVersion: string, otherField: string): OAuth2Client {
  const other = parseJsonField(form.other, otherField, {});
  if (typeof other !== 'object' || other === null || Array.isArray(other)) {
    throw new HttpError(400, 'Other fields (JSON): must be a JSON object such as {"owner": "team-a"}', {
      i18n: formErrorKeys('admin_clients.errors.other_not_object'),
    });
  }
  const clash = Object.keys(other).filter((key) => (FORM_FIELDS as readonly string[]).includes(key));
  if (clash.length > 0) {
    throw new HttpError(400, `Other fields (JSON): ${clash.join(', ')} ${clash.length === 1 ? 'is' : 'are'} set in the form above`, {
      i18n: formErrorKeys('admin_clients.errors.other_clash', { count: clash.length, fields: clash.join(', ') }),
    });
  }
  const extra = { ...(other as Record<string, unknown>) };
  // The id comes from the URL on edit; timestamps and registration data are Hydra's.
  for (const key of MANAGED_BY_HYDRA) {
    if (key === 'client_secret' || (key === 'client_id' && mode === 'create')) continue;
    delete extra[key];
  }
  const metadata = parseJsonField(form.metadata, 'metadata', undefined);
  const client: Record<string, unknown> = {
    ...extra,
    client_name: form.client_name.trim(),
    redirect_uris: lines(form.redirect_uris),
    post_logout_redirect_uris: lines(form.post_logout_redirect_uris),
    grant_types: form.grant_types,
    response_types: lines(form.response_types),
    scope: form.scope.trim().split(/\s+/).filter(Boolean).join(' '),
    audience: lines(form.audience),
    token_endpoint_auth_method: form.token_endpoint_auth_method,
    logo_uri: form.logo_uri,
    policy_uri: form.policy_uri,
    tos_uri: form.tos_uri,
    client_uri: form.client_uri,
    ...(metadata === undefined ? {} : { metadata }),
    // Hydra v1.11 has no skip_consent (and would reject it); the client drops it there anyway.
    ...(apiVersion === 'v2' ? { skip_consent: form.skip_consent } : {}),
  };
  return parseOr400(clientSchema, client) as OAuth2Client;
}

/** One row of the client page: the value as text, and a link only when it is http(s). */
interface ClientRow {
  name: string;
  text: string;
  href?: string;
}

function clientRows(client: OAuth2Client): ClientRow[] {
  const rows: ClientRow[] = [];
  for (const [name, value] of Object.entries(client)) {
    if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)) continue;
    const text = Array.isArray(value) && value.every((item) => typeof item === 'string')
      ? value.join('\n')
      : typeof value === 'object' ? pretty(value) : String(value);
    rows.push({ name, text, href: LINK_FIELDS.has(name) ? safeHttpUrl(value) : undefined });
  }
  return rows;
}

function clientPath(id: string, suffix = ''): string {
  return `/clients/${encodeURIComponent(id)}${suffix}`;
}

export function clientRoutes({ hydra }: AppDeps): Router {
  const router = Router();

  function renderForm(req: Request, res: Response, locals: { mode: 'create' | 'edit'; form: ClientForm; id?: string; error?: string }): void {
    const extraGrants = locals.form.grant_types.filter((grant) => !GRANT_TYPES.includes(grant));
    const method = locals.form.token_endpoint_auth_method;
    renderAdmin(req, res, 'client-form', 'clients', {
      title: plainText(res)(locals.mode === 'create' ? 'admin_clients.form.title_create' : 'admin_clients.form.title_edit'),
      ...locals,
      action: locals.mode === 'create' ? adminUrl(res, '/clients') : adminUrl(res, clientPath(locals.id ?? '')),
      cancel: locals.mode === 'create' ? adminUrl(res, '/clients') : adminUrl(res, clientPath(locals.id ?? '')),
      grantTypes: [...GRANT_TYPES, ...extraGrants],
      authMethods: method && !AUTH_METHODS.includes(method) ? [...AUTH_METHODS, method] : AUTH_METHODS,
      showSkipConsent: hydra.apiVersion === 'v2',
    });
  }

  async function renderClient(req: Request, res: Response, id: string, locals: { patch?: string; error?: string } = {}): Promise<void> {
    const client = await hydra.getOAuth2Client(id);
    const clientId = client.client_id ?? id;
    renderAdmin(req, res, 'client', 'clients', {
      title: client.client_name || clientId,
      // Not `client`: EJS reads a local of that name as its own "client mode" option.
      name: client.client_name ?? '',
      clientId,
      rows: clientRows(client),
      json: pretty(client),
      patch: locals.patch ?? `[\n  { "op": "replace", "path": "/client_name", "value": ${JSON.stringify(plainText(res)('admin_clients.client.patch_example'))} }\n]`,
      error: locals.error,
      self: adminUrl(res, clientPath(clientId)),
      edit: adminUrl(res, clientPath(clientId), { action: 'edit' }),
      remove: adminUrl(res, clientPath(clientId), { action: 'delete' }),
      deleteTokens: adminUrl(res, '/tokens', { client_id: clientId, action: 'delete' }),
    });
  }

  router.get('/clients', async (req, res) => {
    if (!isApi(res) && field(req.query, 'action') === 'new') {
      renderForm(req, res, { mode: 'create', form: NEW_CLIENT_FORM });
      return;
    }
    const filters = { client_name: field(req.query, 'client_name') || undefined, owner: field(req.query, 'owner') || undefined };
    const paging = readPaging(req);
    const page = await hydra.listOAuth2Clients({ ...filters, ...paging });
    const links = pager(res, page, '/clients', filters, paging);
    if (isApi(res)) {
      res.json(page.items);
      return;
    }
    renderAdmin(req, res, 'clients', 'clients', {
      title: plainText(res)('admin_clients.list.title'),
      filters,
      pager: links,
      create: adminUrl(res, '/clients', { action: 'new' }),
      clients: page.items.map((client) => ({
        id: client.client_id ?? '',
        name: client.client_name ?? '',
        owner: client.owner ?? '',
        grantTypes: (client.grant_types ?? []).join(', '),
        createdAt: adminDate(res, client.created_at),
        href: adminUrl(res, clientPath(client.client_id ?? '')),
      })),
    });
  });

  router.post('/clients', async (req, res) => {
    if (isApi(res)) {
      const client = parseOr400(clientSchema, bodyObject(req)) as OAuth2Client;
      res.status(201).json(await hydra.createOAuth2Client(client));
      return;
    }
    const form = readForm(req.body);
    let created: OAuth2Client | undefined;
    const error = await attempt(res, async () => {
      created = await hydra.createOAuth2Client(clientFromForm(form, 'create', hydra.apiVersion, plainText(res)('admin_clients.errors.other_field')));
    });
    if (error !== undefined || !created) {
      renderForm(req, res, { mode: 'create', form, error });
      return;
    }
    const id = created.client_id ?? '';
    res.status(201);
    renderAdmin(req, res, 'client-created', 'clients', {
      title: plainText(res)('admin_clients.created.title'),
      clientId: id,
      name: created.client_name ?? '',
      secret: created.client_secret,
      href: adminUrl(res, clientPath(id)),
    });
  });

  router.get('/clients/:id', async (req, res) => {
    const { id } = req.params;
    if (isApi(res)) {
      res.json(await hydra.getOAuth2Client(id));
      return;
    }
    const action = field(req.query, 'action');
    if (action === 'edit') {
      renderForm(req, res, { mode: 'edit', id, form: formFromClient(await hydra.getOAuth2Client(id)) });
      return;
    }
    if (action === 'delete') {
      const client = await hydra.getOAuth2Client(id);
      const text = plainText(res);
      renderConfirm(req, res, 'clients', {
        title: text('admin_clients.delete.title'),
        message: text('admin_clients.delete.message'),
        facts: [[text('admin_clients.delete.client'), client.client_name || id], [text('admin_clients.delete.client_id'), id]],
        action: adminUrl(res, clientPath(id)),
        method: 'DELETE',
        button: text('admin_clients.delete.button'),
        cancel: adminUrl(res, clientPath(id)),
      });
      return;
    }
    await renderClient(req, res, id);
  });

  router.put('/clients/:id', async (req, res) => {
    const { id } = req.params;
    if (isApi(res)) {
      const client = parseOr400(clientSchema, bodyObject(req)) as OAuth2Client;
      res.json(await hydra.updateOAuth2Client(id, client));
      return;
    }
    const form = readForm(req.body);
    const error = await attempt(res, async () => {
      await hydra.updateOAuth2Client(id, clientFromForm(form, 'edit', hydra.apiVersion, plainText(res)('admin_clients.errors.other_field')));
    });
    if (error !== undefined) {
      renderForm(req, res, { mode: 'edit', id, form, error });
      return;
    }
    redirectDone(res, clientPath(id), {}, 'saved');
  });

  router.patch('/clients/:id', async (req, res) => {
    const { id } = req.params;
    if (isApi(res)) {
      const patch = parseOr400(patchSchema, req.body ?? []);
      res.json(await hydra.patchOAuth2Client(id, patch));
      return;
    }
    const text = field(req.body, 'patch') ?? '';
    const error = await attempt(res, async () => {
      const patch = parseOr400(patchSchema, parseJsonField(text, 'JSON Patch', []), 'patch');
      await hydra.patchOAuth2Client(id, patch);
    });
    if (error !== undefined) {
      await renderClient(req, res, id, { patch: text, error });
      return;
    }
    redirectDone(res, clientPath(id), {}, 'saved');
  });

  router.delete('/clients/:id', async (req, res) => {
    await hydra.deleteOAuth2Client(req.params.id);
    if (isApi(res)) {
      res.status(204).end();
      return;
    }
    redirectDone(res, '/clients', {}, 'deleted');
  });

  return router;
}
