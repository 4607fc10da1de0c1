import * as client from 'openid-client';
import type { Config } from '../config.js';

/**
 * The account area as an openid-client v6 relying party of our own Hydra. As in the demo
 * (src/demo/oidc.ts, which explains it at length): discovery at HYDRA_PUBLIC_URL, the issuer the
 * browser sees, and every back-channel request (token, JWKS) rewritten to
 * HYDRA_PUBLIC_INTERNAL_URL when the app reaches Hydra by another name, so openid-client's issuer
 * checks still hold.
 */
export interface AccountOidc {
  /** Discovered on first use; a failed discovery is tried again next time. */
  configuration(): Promise<client.Configuration>;
}

function withSlash(url: string): string {
  const href = new URL(url).href;
  return href.endsWith('/') ? href : `${href}/`;
}

export function createAccountOidc(config: Config): AccountOidc {
  const account = config.account;
  const publicUrl = config.hydra.publicUrl;
  if (account === undefined || publicUrl === undefined) throw new Error('the account area needs HYDRA_PUBLIC_URL');
  const publicBase = withSlash(publicUrl);
  const internalBase = withSlash(config.hydra.publicInternalUrl ?? publicUrl);
  const backChannel = (url: string) => (url.startsWith(publicBase) ? internalBase + url.slice(publicBase.length) : url);
  const rewritingFetch: client.CustomFetch = (url, options) => fetch(backChannel(url), options as RequestInit);
  const insecure = publicBase.startsWith('http:');
  const timeout = Math.ceil(config.hydra.timeoutMs / 1000);
  let discovered: Promise<client.Configuration> | undefined;

  return {
    configuration() {
      if (discovered) return discovered;
      const attempt = client.discovery(new URL(publicBase), account.clientId, undefined, client.ClientSecretBasic(account.clientSecret), {
        [client.customFetch]: rewritingFetch,
        // Who is signed in comes from the ID token's `sub`, so its signature is checked against
        // Hydra's JWKS as well, not only trusted for having come over the back channel.
        execute: [client.enableNonRepudiationChecks, ...(insecure ? [client.allowInsecureRequests] : [])],
        timeout,
      });
      discovered = attempt;
      attempt.catch(() => {
        if (discovered === attempt) discovered = undefined;
      });
      return attempt;
    },
  };
}
