import * as client from 'openid-client';
import type { Config } from '../config.js';

/**
 * The demo relying party's view of Hydra, through openid-client v6.
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
 * changes. Rewriting the metadata by hand (internal token/userinfo/jwks endpoints, public
 * authorization/end-session endpoints) would work as well, but would need updating with every
 * endpoint we start to use; the fetch hook covers them all, JWKS included.
 */
export interface DemoOidc {
  /** The authorization-code client, discovered on first use; a failed discovery is retried next time. */
  rp(): Promise<client.Configuration>;
  /** The client-credentials client, or undefined when DEMO_M2M_CLIENT_ID is not set. */
  m2m(): Promise<client.Configuration | undefined>;
  /** Where this app really sends a request for an endpoint URL taken from the metadata. */
  backChannel(url: string): string;
  readonly issuer: string;
  readonly m2mClientId?: string;
}

function withSlash(url: string): string {
  const href = new URL(url).href;
  return href.endsWith('/') ? href : `${href}/`;
}

export function createDemoOidc(config: Config): DemoOidc {
  const demo = config.demo;
  const publicUrl = config.hydra.publicUrl;
  if (demo === undefined || publicUrl === undefined) throw new Error('the demo needs DEMO_CLIENT_ID and HYDRA_PUBLIC_URL');
  const publicBase = withSlash(publicUrl);
  const internalBase = withSlash(config.hydra.publicInternalUrl ?? publicUrl);

  const backChannel = (url: string) => (url.startsWith(publicBase) ? internalBase + url.slice(publicBase.length) : url);
  const rewritingFetch: client.CustomFetch = (url, options) => fetch(backChannel(url), options as RequestInit);
  // openid-client refuses plain http unless told; it checks the URL it was given (the public one)
  // before our fetch rewrites it, so that is the URL that decides. Only ever http in development.
  const insecure = publicBase.startsWith('http:');
  const timeout = Math.ceil(config.hydra.timeoutMs / 1000);

  // No secret: a public client, which PKCE protects on its own.
  const rpAuth = demo.clientSecret ? client.ClientSecretBasic(demo.clientSecret) : client.None();
  let discovered: Promise<client.Configuration> | undefined;

  function rp(): Promise<client.Configuration> {
    if (discovered) return discovered;
    const attempt = client.discovery(new URL(publicBase), demo!.clientId, undefined, rpAuth, {
      [client.customFetch]: rewritingFetch,
      // The ID token comes straight from the token endpoint, so OIDC lets a client skip its
      // signature check, and openid-client does by default. Over plain http that reasoning does
      // not hold, and checking against Hydra's JWKS is what the demo wants to show anyway.
      execute: [client.enableNonRepudiationChecks, ...(insecure ? [client.allowInsecureRequests] : [])],
      timeout,
    });
    discovered = attempt;
    attempt.catch(() => {
      if (discovered === attempt) discovered = undefined;
    });
    return attempt;
  }

  let m2mConfig: client.Configuration | undefined;
  async function m2m(): Promise<client.Configuration | undefined> {
    if (!demo!.m2mClientId) return undefined;
    if (m2mConfig) return m2mConfig;
    const server = (await rp()).serverMetadata();
    const auth = demo!.m2mClientSecret ? client.ClientSecretBasic(demo!.m2mClientSecret) : client.None();
    const configuration = new client.Configuration(server, demo!.m2mClientId, undefined, auth);
    configuration[client.customFetch] = rewritingFetch;
    configuration.timeout = timeout;
    if (insecure) client.allowInsecureRequests(configuration);
    m2mConfig = configuration;
    return configuration;
  }

  return { rp, m2m, backChannel, issuer: publicBase, m2mClientId: demo.m2mClientId };
}
