import * as client from 'openid-client';
import type { Config } from '../config.js';
import { hydraPublicOidc } from '../hydra/public-oidc.js';

/** The account area as an openid-client relying party of our own Hydra (src/hydra/public-oidc.ts). */
export interface AccountOidc {
  /** Discovered on first use; a failed discovery is tried again next time. */
  configuration(): Promise<client.Configuration>;
}

export function createAccountOidc(config: Config): AccountOidc {
  const account = config.account;
  const publicUrl = config.hydra.publicUrl;
  if (account === undefined || publicUrl === undefined) throw new Error('the account area needs HYDRA_PUBLIC_URL');
  const configuration = hydraPublicOidc(config, publicUrl).discoverer(account.clientId, client.ClientSecretBasic(account.clientSecret));
  return { configuration };
}
