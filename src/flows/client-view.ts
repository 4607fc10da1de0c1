import type { OAuth2Client } from '../hydra/types.js';
import { clip } from '../http/text.js';
import { safeHttpUrl } from '../http/urls.js';

/** What a page may show about a client. Its metadata comes from whoever registered it, so only http(s) links survive. */
export interface ClientView {
  id: string;
  name: string;
  logoUri?: string;
  clientUri?: string;
  policyUri?: string;
  tosUri?: string;
}

export function clientView(client: OAuth2Client | null | undefined): ClientView {
  const id = client?.client_id ?? '';
  return {
    id,
    name: clip(client?.client_name?.trim() || id || 'An application'),
    logoUri: safeHttpUrl(client?.logo_uri),
    clientUri: safeHttpUrl(client?.client_uri),
    policyUri: safeHttpUrl(client?.policy_uri),
    tosUri: safeHttpUrl(client?.tos_uri),
  };
}

/** Every URL a flow may redirect the browser to for this client (used for CSP form-action). */
export function clientRedirectTargets(client: OAuth2Client | null | undefined): string[] {
  return [...(client?.redirect_uris ?? []), ...(client?.post_logout_redirect_uris ?? [])];
}
