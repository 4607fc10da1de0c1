import { Router, type Response } from 'express';
import type { AppDeps } from '../app.js';
import type { HydraAdmin } from '../hydra/client.js';
import type { AcceptConsentRequest, ConsentRequest } from '../hydra/types.js';
import { contextLocale, splitUiLocales, translator, useLocale } from '../http/locale.js';
import { allowFormTargets } from '../http/security.js';
import { clip } from '../http/text.js';
import { idTokenClaims } from '../users/claims.js';
import type { UserStore } from '../users/store.js';
import { readChallenge, readCheckbox, readStringList } from './challenge.js';
import { clientRedirectTargets, clientView } from './client-view.js';
import { isDeviceRequestUrl } from './device.js';
import { DENIED, redirectAsHydraSays } from './redirect.js';
import { describeScope } from './scopes.js';

/**
 * The accept body for a consent: exactly the granted scopes, the requested audience (Hydra has
 * already checked it against the client's allowed audiences), and ID-token claims from the
 * user's profile for those scopes. Skipped and interactive consents both come through here, so a
 * skipped consent yields the same claims as a clicked one.
 */
async function consentAcceptance(
  users: UserStore,
  consentRequest: ConsentRequest,
  grantScope: string[],
  remember: { remember: boolean; remember_for: number } | undefined,
): Promise<AcceptConsentRequest> {
  const user = consentRequest.subject ? await users.findBySubject(consentRequest.subject) : undefined;
  return {
    grant_scope: grantScope,
    grant_access_token_audience: consentRequest.requested_access_token_audience ?? [],
    ...remember,
    session: {
      // Shown as `ext` when the access token is introspected.
      access_token: {},
      id_token: user ? idTokenClaims(user, grantScope) : {},
    },
  };
}

/** The consent page's own element ids (views/consent.ejs, partials/head, partials/foot's language switcher) and its form's field names. */
const PAGE_IDS = new Set(['main', 'heading', 'remember', 'accept', 'reject', 'challenge', '_csrf', 'grant_scope', 'action', 'language-select']);

export interface ScopeBox {
  name: string;
  /** The checkbox's element id: the scope itself, as Hydra's browser suite clicks `#<scope>`, unless that is taken. */
  id: string;
  /** What the page shows: the description and the scope, each cut to a page's worth. */
  description: string;
  label: string;
  checked: boolean;
}

/**
 * One checkbox per requested scope (each once). Its id is the scope, which is what Hydra's browser
 * suite and the reference app's users rely on, except when the scope would collide with one of the
 * page's ids (a scope named `remember` would make the "Remember" label tick it) or is not a usable
 * id; that one becomes `scope-<name>`, numbered if even that is taken. Every id is unique.
 */
export function scopeBoxes(requested: readonly string[], checked: boolean, describe: (scope: string) => string = (scope) => scope): ScopeBox[] {
  const scopes = [...new Set(requested)];
  const taken = new Set(PAGE_IDS);
  const own = new Set<string>();
  for (const scope of scopes) {
    if (scope !== '' && !/\s/.test(scope) && !taken.has(scope)) {
      taken.add(scope);
      own.add(scope);
    }
  }
  return scopes.map((scope) => {
    let id = scope;
    if (!own.has(scope)) {
      const base = `scope-${scope.replace(/\s/g, '_')}`;
      id = base;
      for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
      taken.add(id);
    }
    return { name: scope, id, description: clip(describe(scope)), label: clip(scope), checked };
  });
}

/**
 * Whether to accept without a screen. `skip`: a remembered consent covers these scopes, and we
 * must not show UI then. Otherwise a first-party client: `skip_consent`, which the operator sets
 * on a client it trusts (Hydra never enforces it; it is a hint for us), or the account area's
 * own client (also on Hydra v1, which has no skip_consent). Not, though, in a device sign-in by
 * a public client: Hydra itself never skips consent there ("Device initiated flows are never
 * allowed to skip consent", consent/strategy_default.go), since nothing proves which device the
 * code was typed for; so neither do we. Where Hydra says skip=false, the hint is all we add.
 */
export function skipsConsent(consentRequest: ConsentRequest, accountClientId?: string): boolean {
  if (consentRequest.skip) return true;
  const client = consentRequest.client;
  const firstParty = Boolean(client?.skip_consent) || (accountClientId !== undefined && client?.client_id === accountClientId);
  if (!firstParty) return false;
  const publicClient = client?.token_endpoint_auth_method === 'none';
  return !(publicClient && isDeviceRequestUrl(consentRequest.request_url));
}

function renderConsent(res: Response, consentRequest: ConsentRequest, challenge: string, preselect: boolean): void {
  allowFormTargets(res, [consentRequest.request_url, ...clientRedirectTargets(consentRequest.client)]);
  // The client's ui_locales first, then the language the login step passed on (localeContext).
  useLocale(res, [...splitUiLocales(consentRequest.oidc_context?.ui_locales), contextLocale(consentRequest.context)]);
  const t = translator(res);
  res.render('consent', {
    title: t('consent.title'),
    challenge,
    // A device sign-in (RFC 8628): the page says so, and names the client the device runs.
    device: isDeviceRequestUrl(consentRequest.request_url),
    application: clientView(consentRequest.client),
    subject: clip(consentRequest.subject ?? ''),
    // Unticked unless CONSENT_PRESELECT_SCOPES: a person grants a scope by ticking it, as on
    // Ory's reference app (Hydra's browser suite clicks `#<scope>` to grant, and expects nothing
    // granted when it clicks nothing).
    scopes: scopeBoxes(consentRequest.requested_scope ?? [], preselect, (scope) => describeScope(scope, t)),
    audiences: (consentRequest.requested_access_token_audience ?? []).map((audience) => clip(audience)),
  });
}

async function acceptAndRedirect(hydra: HydraAdmin, res: Response, challenge: string, body: AcceptConsentRequest) {
  const { redirect_to } = await hydra.acceptConsentRequest(challenge, body);
  redirectAsHydraSays(res, redirect_to);
}

export function consentRouter({ hydra, users, config, metrics }: AppDeps): Router {
  const router = Router();

  router.get('/consent', async (req, res) => {
    const challenge = readChallenge(req.query.consent_challenge, 'consent_challenge');
    const consentRequest = await hydra.getConsentRequest(challenge);
    if (skipsConsent(consentRequest, config.account?.clientId)) {
      const grant = consentRequest.requested_scope ?? [];
      await acceptAndRedirect(hydra, res, challenge, await consentAcceptance(users, consentRequest, grant, undefined));
      metrics?.flowOutcome('consent', 'skipped', consentRequest.client?.client_id);
      return;
    }
    renderConsent(res, consentRequest, challenge, config.consentPreselectScopes);
  });

  router.post('/consent', async (req, res) => {
    const challenge = readChallenge(req.body?.challenge, 'consent_challenge');

    if (req.body.action === 'reject') {
      const { redirect_to } = await hydra.rejectConsentRequest(challenge, DENIED);
      // No client label here: a reject needs no GET, and we add none for a label.
      metrics?.flowOutcome('consent', 'denied');
      redirectAsHydraSays(res, redirect_to);
      return;
    }

    // What was requested comes from Hydra, never from the form: a ticked box can only narrow it.
    const consentRequest = await hydra.getConsentRequest(challenge);
    const ticked = new Set(readStringList(req.body.grant_scope));
    const grant = (consentRequest.requested_scope ?? []).filter((scope) => ticked.has(scope));
    const remember = { remember: readCheckbox(req.body.remember), remember_for: config.consentRememberFor };
    await acceptAndRedirect(hydra, res, challenge, await consentAcceptance(users, consentRequest, grant, remember));
    const everything = (consentRequest.requested_scope ?? []).every((scope) => ticked.has(scope));
    metrics?.flowOutcome('consent', everything ? 'granted' : 'partially_granted', consentRequest.client?.client_id);
  });

  return router;
}
