import { Router, type RequestHandler, type Response } from 'express';
import type { AppDeps } from '../app.js';
import { HydraError, UnsupportedOperationError } from '../hydra/errors.js';
import { HttpError } from '../http/errors.js';
import { recordDeviceOutcome } from '../http/rate-limit.js';
import { translator } from '../http/locale.js';
import { allowFormTargets } from '../http/security.js';
import { clip } from '../http/text.js';
import { readChallenge, readString } from './challenge.js';
import { hydraRedirectTarget } from './redirect.js';

/**
 * The device authorization grant's verification screen (RFC 8628, Hydra v25.4+), for Hydra's
 * `urls.device.verification` and `urls.device.success`:
 * 1. Hydra sends the browser to /device?device_challenge=…, with &user_code=… when the person
 *    opened the "complete" verification URI (a QR code on the TV, say).
 * 2. The person types (or confirms) the code their device shows; we hand it to Hydra
 *    (PUT /admin/oauth2/auth/requests/device/accept, the only admin device operation: there is
 *    no GET and no reject) and follow its redirect_to, Hydra's /oauth2/device/verify.
 * 3. The usual login and consent follow (their request_url is that verify URL, which is how the
 *    consent page knows it is a device sign-in), then Hydra sends the browser to /device/success.
 *
 * A pre-filled code is never submitted by itself: RFC 8628 §5.4 warns of remote phishing, where
 * someone sends a victim a complete verification URI for a device the attacker holds. The
 * person must press the button, and the consent page then names the device's application.
 */

/** What the page shows comes from the catalogs' `device.*` keys; this one is for operators (a misconfiguration). */
const UNSUPPORTED = 'the device sign-in needs Hydra v25.4 or later, with HYDRA_API_VERSION=v2';

/** Longer than any code Hydra makes (its presets: 8 or 9 characters; a configured length rarely past 20). */
const MAX_USER_CODE_LENGTH = 64;

/**
 * The code as Hydra will compare it. Hydra HMACs the exact string it is given (fosite rfc8628
 * UserCodeSignature) and does not normalise it, so only what no code of Hydra's contains is
 * dropped: spaces and dashes, which people type when they copy "ABCD-EFGH" or "abcd efgh" (RFC
 * 8628 §6.1 suggests accepting both). Full-width letters (some phone keyboards) become ASCII.
 * Case is kept: Hydra's default `high` preset mixes lower and upper case
 * (abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679). DEVICE_USER_CODE_UPPERCASE folds it for
 * the `medium` preset (A–Z) or an upper-case character_set, where a lower-case guess would fail.
 */
export function normaliseUserCode(typed: string, uppercase = false): string {
  const code = typed.normalize('NFKC').replace(/[\s\-\u2010-\u2015\u2212]/g, '');
  return uppercase ? code.toUpperCase() : code;
}

interface DeviceForm {
  userCode: string;
  error?: string;
}

export function deviceRouter({ hydra, config, metrics }: AppDeps, limit: RequestHandler[] = []): Router {
  const router = Router();
  const publicUrl = config.hydra.publicUrl;

  function renderDevice(res: Response, challenge: string, form: DeviceForm): void {
    // The POST ends in a redirect to Hydra's /oauth2/device/verify: allow its origin (when known).
    allowFormTargets(res, [publicUrl]);
    res.render('device', { title: translator(res)('device.title'), challenge, userCode: clip(form.userCode, 100), error: form.error });
  }

  function requireDeviceLayout(): void {
    // Hydra v1.11 (and v2.0–2.3) have no device grant; a form that could only fail helps nobody.
    if (hydra.apiVersion !== 'v2') throw new UnsupportedOperationError('acceptUserCodeRequest', hydra.apiVersion, UNSUPPORTED);
  }

  router.get('/device', (req, res) => {
    requireDeviceLayout();
    const challenge = readChallenge(req.query.device_challenge, 'device_challenge');
    renderDevice(res, challenge, { userCode: readString(req.query.user_code) ?? '' });
  });

  router.post('/device', ...limit, async (req, res) => {
    requireDeviceLayout();
    const challenge = readChallenge(req.body?.challenge, 'device_challenge');
    const typed = readString(req.body.user_code) ?? '';
    const userCode = normaliseUserCode(typed, config.device.uppercaseUserCode);
    const t = translator(res);
    if (userCode === '') {
      recordDeviceOutcome(res, 'empty');
      res.status(400);
      renderDevice(res, challenge, { userCode: typed, error: t('device.empty') });
      return;
    }

    let redirectTo: string | undefined;
    if (userCode.length <= MAX_USER_CODE_LENGTH) {
      try {
        ({ redirect_to: redirectTo } = await hydra.acceptUserCodeRequest(challenge, userCode));
      } catch (err) {
        if (!(err instanceof HydraError)) throw err;
        // 404: a challenge Hydra cannot decrypt; 401: one past ttl.login_consent_request.
        if (err.status === 404) throw new HttpError(404, t('device.not_found'), { title: t('device.not_found_title'), cause: err });
        if (err.status === 401) throw new HttpError(410, t('device.expired'), { title: t('device.expired_title'), code: 'expired', cause: err });
        // We always send a challenge and a non-empty code as JSON, so Hydra's one 400 left is
        // "The 'user_code' session could not be found or has expired or is otherwise malformed":
        // a wrong, expired or already used code, which Hydra does not tell apart.
        if (err.status !== 400) throw err;
      }
    }
    if (redirectTo === undefined) {
      recordDeviceOutcome(res, 'wrong');
      metrics?.flowOutcome('device', 'wrong_code');
      req.log.info({ event: 'device_code_wrong' }, 'device user code refused');
      res.status(400);
      renderDevice(res, challenge, { userCode: typed, error: t('device.wrong') });
      return;
    }

    recordDeviceOutcome(res, 'accepted');
    const target = hydraRedirectTarget(redirectTo);
    // Hydra appends the device's client_id to its verify URL: the client label comes from Hydra.
    metrics?.flowOutcome('device', 'accepted', new URL(target).searchParams.get('client_id'));
    req.log.info({ event: 'device_code_accepted' }, 'device user code accepted');
    if (publicUrl && new URL(target).origin === new URL(publicUrl).origin) {
      res.redirect(302, target);
      return;
    }
    // Without HYDRA_PUBLIC_URL (or when Hydra answers another origin) the form's CSP could not
    // name Hydra in form-action, and Chromium would block a 302 there; a page that moves on by
    // itself is a new navigation, which form-action does not govern.
    res.render('continue', { title: t('device.continue_title'), target });
  });

  // urls.device.success: Hydra adds ?client_id=…, which we do not show (anyone can put any text in it).
  router.get('/device/success', (_req, res) => {
    res.render('device-success', { title: translator(res)('device.success_title') });
  });

  return router;
}

/**
 * True when a login or consent request belongs to a device sign-in. Hydra v26.2's consent request
 * has no field that says so (its flow's device_challenge_id stays inside the encrypted challenge);
 * what it does say is the request_url, which for a device flow is its own
 * <public>/oauth2/device/verify?client_id=… (consent/strategy_default.go forwardDeviceRequest and
 * acceptUserCodeRequest), where any other flow has /oauth2/auth?….
 */
export function isDeviceRequestUrl(requestUrl: string | null | undefined): boolean {
  if (!requestUrl || !URL.canParse(requestUrl, 'http://hydra.invalid')) return false;
  return new URL(requestUrl, 'http://hydra.invalid').pathname.replace(/\/+$/, '').endsWith('/oauth2/device/verify');
}
