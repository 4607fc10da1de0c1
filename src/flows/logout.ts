import { Router } from 'express';
import type { AppDeps } from '../app.js';
import { translator, uiLocalesOfUrl, useLocale } from '../http/locale.js';
import { allowFormTargets } from '../http/security.js';
import { readChallenge } from './challenge.js';
import { clientView } from './client-view.js';
import { hydraRedirectTarget, redirectAsHydraSays } from './redirect.js';

export function logoutRouter({ hydra, config, metrics }: AppDeps): Router {
  const router = Router();

  router.get('/logout', async (req, res) => {
    const challenge = readChallenge(req.query.logout_challenge, 'logout_challenge');
    const logoutRequest = await hydra.getLogoutRequest(challenge);
    // skip_logout_consent (Hydra v2.2+) is a hint for us: the operator trusts this client to log people out.
    // The account area's own client is trusted so on Hydra v1 too, which has no such field.
    const trusted = logoutRequest.client?.skip_logout_consent || (config.account !== undefined && logoutRequest.client?.client_id === config.account.clientId);
    if (logoutRequest.rp_initiated && trusted) {
      const { redirect_to } = await hydra.acceptLogoutRequest(challenge);
      metrics?.flowOutcome('logout', 'skipped', logoutRequest.client?.client_id);
      redirectAsHydraSays(res, redirect_to);
      return;
    }
    // "Yes" goes to Hydra, then to the client's post-logout URI. Hydra v2 sends this request_url
    // as a bare path (/oauth2/sessions/logout?…), so its origin comes from HYDRA_PUBLIC_URL.
    const { publicUrl } = config.hydra;
    const requestUrl = logoutRequest.request_url && publicUrl && URL.canParse(logoutRequest.request_url, publicUrl)
      ? new URL(logoutRequest.request_url, publicUrl).href
      : logoutRequest.request_url;
    allowFormTargets(res, [requestUrl, ...(logoutRequest.client?.post_logout_redirect_uris ?? [])]);
    // Hydra leaves ui_locales out of the logout request, but its request_url still has it.
    useLocale(res, uiLocalesOfUrl(logoutRequest.request_url));
    res.render('logout', {
      title: translator(res)('logout.title'),
      challenge,
      subject: logoutRequest.subject ?? '',
      application: logoutRequest.rp_initiated && logoutRequest.client ? clientView(logoutRequest.client) : undefined,
    });
  });

  router.post('/logout', async (req, res) => {
    const challenge = readChallenge(req.body?.challenge, 'logout_challenge');
    if (req.body.action === 'accept') {
      const { redirect_to } = await hydra.acceptLogoutRequest(challenge);
      metrics?.flowOutcome('logout', 'accepted');
      if (config.hydra.publicUrl) {
        redirectAsHydraSays(res, redirect_to);
        return;
      }
      // Without HYDRA_PUBLIC_URL the logout page's CSP could not name Hydra's origin in
      // form-action, and Chromium would block a 302 there. A page that moves on by itself is a
      // new navigation, which form-action does not govern.
      res.render('continue', { title: translator(res)('logout.continue_title'), target: hydraRedirectTarget(redirect_to) });
      return;
    }
    // "No": Hydra answers 204 and forgets the request; the session stays, and so do we.
    const logoutRequest = await hydra.getLogoutRequest(challenge).catch(() => undefined);
    await hydra.rejectLogoutRequest(challenge);
    metrics?.flowOutcome('logout', 'cancelled', logoutRequest?.client?.client_id);
    useLocale(res, uiLocalesOfUrl(logoutRequest?.request_url));
    res.render('logout-cancelled', {
      title: translator(res)('logout_cancelled.title'),
      application: logoutRequest?.rp_initiated && logoutRequest.client ? clientView(logoutRequest.client) : undefined,
    });
  });

  return router;
}
