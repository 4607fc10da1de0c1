import * as client from 'openid-client';
import type { Config } from '../config.js';

/**
 * Our own relying parties (the demo, the account area) as openid-client v6 sees Hydra's public API.
 *
 * Two URLs for one Hydra. The browser reaches Hydra at HYDRA_PUBLIC_URL (the issuer, e.g.
 * http://localhost:4444/), while this app may have to reach the same public API by another name
 * (HYDRA_PUBLIC_INTERNAL_URL, e.g. http://hydra:4444/ inside docker compose). openid-client's
 * discovery insists that the discovered `issuer` equals the URL it discovered, and the ID token's
 * `iss` must equal that issuer too, so discovering at the internal URL fails with "discovered
 * metadata issuer does not match the expected issuer".
 *
 * We therefore discover at the public URL and give openid-client a customFetch that sends every
 * request aimed at the public origin to the internal one instead. Everything openid-client checks
 * (issuer, `iss`, endpoint URLs in the metadata) stays the truth the browser sees; only the wire
 * changes. The fetch hook covers every endpoint, JWKS included.
 */
export interface HydraPublicOidc {
  /** The issuer as the browser sees it, with a trailing slash. */
  readonly issuer: string;
  /** Where this app really sends a request for an endpoint URL taken from the metadata. */
  backChannel(url: string): string;
  /** Discovery for one client, on first use; a failed discovery is tried again at the next call. */
  discoverer(clientId: string, auth: client.ClientAuth): () => Promise<client.Configuration>;
  /** A second client on already discovered metadata (e.g. client credentials), wired the same way. */
  sibling(server: client.ServerMetadata, clientId: string, auth: client.ClientAuth): client.Configuration;
}

function withSlash(url: string): string {
  const href = new URL(url).href;
  return href.endsWith('/') ? href : `${href}/`;
}

export function hydraPublicOidc(config: Config, publicUrl: string): HydraPublicOidc {
  const publicBase = withSlash(publicUrl);
  const internalBase = withSlash(config.hydra.publicInternalUrl ?? publicUrl);
  const backChannel = (url: string) => (url.startsWith(publicBase) ? internalBase + url.slice(publicBase.length) : url);
  const rewritingFetch: client.CustomFetch = (url, options) => fetch(backChannel(url), options as RequestInit);
  // openid-client refuses plain http unless told; it checks the URL it was given (the public one)
  // before our fetch rewrites it, so that is the URL that decides. Only ever http in development.
  const insecure = publicBase.startsWith('http:');
  const timeout = Math.ceil(config.hydra.timeoutMs / 1000);

  return {
    issuer: publicBase,
    backChannel,
    discoverer(clientId, auth) {
      let discovered: Promise<client.Configuration> | undefined;
      return () => {
        if (discovered) return discovered;
        const attempt = client.discovery(new URL(publicBase), clientId, undefined, auth, {
          [client.customFetch]: rewritingFetch,
          // The ID token comes straight from the token endpoint, so OIDC lets a client skip its
          // signature check, and openid-client does by default. Who is signed in comes from its
          // `sub`, and over plain http that reasoning does not hold: check it against Hydra's JWKS.
          execute: [client.enableNonRepudiationChecks, ...(insecure ? [client.allowInsecureRequests] : [])],
          timeout,
        });
        discovered = attempt;
        attempt.catch(() => {
          if (discovered === attempt) discovered = undefined;
        });
        return attempt;
      };
    },
    sibling(server, clientId, auth) {
      const configuration = new client.Configuration(server, clientId, undefined, auth);
      configuration[client.customFetch] = rewritingFetch;
      configuration.timeout = timeout;
      if (insecure) client.allowInsecureRequests(configuration);
      return configuration;
    },
  };
}
