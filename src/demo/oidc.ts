import * as client from 'openid-client';
import type { Config } from '../config.js';
import { hydraPublicOidc } from '../hydra/public-oidc.js';

/** The demo relying party's view of Hydra, through openid-client v6 (src/hydra/public-oidc.ts). */
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

export function createDemoOidc(config: Config): DemoOidc {
  const demo = config.demo;
  const publicUrl = config.hydra.publicUrl;
  if (demo === undefined || publicUrl === undefined) throw new Error('the demo needs DEMO_CLIENT_ID and HYDRA_PUBLIC_URL');
  const hydra = hydraPublicOidc(config, publicUrl);
  // No secret: a public client, which PKCE protects on its own.
  const rp = hydra.discoverer(demo.clientId, demo.clientSecret ? client.ClientSecretBasic(demo.clientSecret) : client.None());

  let m2mConfig: client.Configuration | undefined;
  async function m2m(): Promise<client.Configuration | undefined> {
    if (!demo!.m2mClientId) return undefined;
    if (m2mConfig) return m2mConfig;
    const auth = demo!.m2mClientSecret ? client.ClientSecretBasic(demo!.m2mClientSecret) : client.None();
    m2mConfig = hydra.sibling((await rp()).serverMetadata(), demo!.m2mClientId, auth);
    return m2mConfig;
  }

  return { rp, m2m, backChannel: hydra.backChannel, issuer: hydra.issuer, m2mClientId: demo.m2mClientId };
}
