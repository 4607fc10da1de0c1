import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { HydraAdmin } from '../hydra/client.js';
import { HydraError } from '../hydra/errors.js';
import type { OAuth2Client } from '../hydra/types.js';

/**
 * The account area's own OAuth2 client at Hydra, and its registration. The area is a first-party
 * relying party: it signs people in through Hydra like any application, so single sign-on,
 * "keep me signed in" and every rule of the login flow apply to it too.
 */

/** Where Hydra sends the browser back to, under BASE_URL. */
export function accountUrls(baseUrl: string) {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    home: `${base}/account`,
    redirectUri: `${base}/account/callback`,
    postLogoutRedirectUri: `${base}/account/signed-out`,
  };
}

/** The scopes the area asks for: who you are, nothing else (it reads the profile from the database). */
export const ACCOUNT_SCOPE = 'openid';

export function accountClient(config: Config): OAuth2Client {
  const account = config.account;
  if (!account) throw new Error('accountClient needs the account area on (HYDRA_PUBLIC_URL)');
  const urls = accountUrls(config.baseUrl);
  return {
    client_id: account.clientId,
    client_secret: account.clientSecret,
    client_name: 'Your account',
    client_uri: urls.home,
    redirect_uris: [urls.redirectUri],
    post_logout_redirect_uris: [urls.postLogoutRedirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: ACCOUNT_SCOPE,
    token_endpoint_auth_method: 'client_secret_basic',
    // Hints for our own consent and logout screens (Hydra v2.2+; the client drops them for v1,
    // where the flows recognise the client by its id instead): a first party asks for no consent
    // and no "do you want to sign out?".
    skip_consent: true,
    skip_logout_consent: true,
    metadata: { first_party: true },
  };
}

/**
 * Creates or replaces the client under its fixed id: PUT when it exists (secret included), POST
 * otherwise, as the demo's registration does. Running it at every start, on every instance,
 * leaves the same client.
 */
export async function registerAccountClient(hydra: HydraAdmin, config: Config): Promise<'created' | 'updated'> {
  const wanted = accountClient(config);
  const id = wanted.client_id!;
  try {
    await hydra.getOAuth2Client(id);
  } catch (err) {
    if (!(err instanceof HydraError && err.status === 404)) throw err;
    await hydra.createOAuth2Client(wanted);
    return 'created';
  }
  await hydra.updateOAuth2Client(id, wanted);
  return 'updated';
}

const FIRST_RETRY_MS = 2000;
const MAX_RETRY_MS = 60_000;

/**
 * Start-up registration that never stops start-up: one attempt now (bounded by HYDRA_TIMEOUT_MS);
 * when Hydra is not there yet, a warning and retries in the background (2 s, doubling to a
 * minute) until it works, on timers that do not keep the process alive. The login pages of the
 * area answer Hydra's error until then.
 */
export async function keepAccountClientRegistered(hydra: HydraAdmin, config: Config, logger: Logger): Promise<void> {
  const clientId = config.account?.clientId;
  let delay = FIRST_RETRY_MS;
  const attempt = async (first: boolean): Promise<void> => {
    try {
      const outcome = await registerAccountClient(hydra, config);
      logger.info({ clientId, outcome }, 'account area client registered at Hydra');
    } catch (err) {
      if (first) {
        logger.warn({ clientId, error: err instanceof Error ? err.message : String(err) }, 'could not register the account area client at Hydra yet; retrying in the background');
      }
      setTimeout(() => void attempt(false), delay).unref();
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  };
  await attempt(true);
}
