// Wire types of Hydra's admin API, snake_case exactly as Hydra sends them.
// See ../shared/docs/hydra-contract.md §2. Fields that only some versions send are optional.

export type ApiVersion = 'v1' | 'v2';

export interface OAuth2Client {
  client_id?: string;
  client_name?: string;
  client_secret?: string;
  client_secret_expires_at?: number;
  redirect_uris?: string[] | null;
  post_logout_redirect_uris?: string[] | null;
  grant_types?: string[] | null;
  response_types?: string[] | null;
  scope?: string;
  audience?: string[] | null;
  owner?: string;
  policy_uri?: string;
  tos_uri?: string;
  client_uri?: string;
  logo_uri?: string;
  allowed_cors_origins?: string[] | null;
  contacts?: string[] | null;
  subject_type?: string;
  sector_identifier_uri?: string;
  jwks_uri?: string;
  jwks?: JsonWebKeySet | Record<string, unknown>;
  token_endpoint_auth_method?: string;
  token_endpoint_auth_signing_alg?: string;
  request_uris?: string[] | null;
  request_object_signing_alg?: string;
  userinfo_signed_response_alg?: string;
  frontchannel_logout_uri?: string;
  frontchannel_logout_session_required?: boolean;
  backchannel_logout_uri?: string;
  backchannel_logout_session_required?: boolean;
  metadata?: Record<string, unknown> | null;
  /** v2 only. */
  access_token_strategy?: 'jwt' | 'opaque' | string;
  /** v2.1+: a hint for the consent UI; Hydra itself never enforces it. */
  skip_consent?: boolean;
  /** v2.2+: a hint for the logout UI. */
  skip_logout_consent?: boolean;
  created_at?: string;
  updated_at?: string;
  registration_access_token?: string;
  registration_client_uri?: string;
  [lifespan: `${string}_lifespan`]: string | null | undefined;
}

export interface OidcContext {
  acr_values?: string[];
  display?: string;
  id_token_hint_claims?: Record<string, unknown>;
  login_hint?: string;
  ui_locales?: string[];
}

export interface LoginRequest {
  challenge: string;
  skip: boolean;
  subject: string;
  client: OAuth2Client;
  request_url: string;
  requested_scope?: string[];
  requested_access_token_audience?: string[];
  session_id?: string;
  oidc_context?: OidcContext;
}

export interface ConsentRequest {
  challenge: string;
  skip?: boolean;
  subject?: string;
  client?: OAuth2Client;
  request_url?: string;
  requested_scope?: string[];
  requested_access_token_audience?: string[];
  oidc_context?: OidcContext;
  login_challenge?: string;
  login_session_id?: string;
  acr?: string;
  amr?: string[];
  context?: unknown;
  /** v25.4+ */
  consent_request_id?: string;
}

export interface LogoutRequest {
  challenge?: string;
  subject?: string;
  sid?: string;
  request_url?: string;
  rp_initiated?: boolean;
  client?: OAuth2Client | null;
  requested_at?: string;
  expires_at?: string;
}

export interface AcceptLoginRequest {
  subject: string;
  remember?: boolean;
  remember_for?: number;
  acr?: string;
  amr?: string[];
  context?: unknown;
  force_subject_identifier?: string;
  /** v2.1.0+ only: the client drops it for v1. */
  extend_session_lifespan?: boolean;
  /** v2.2.0+ only: the client drops it for v1. */
  identity_provider_session_id?: string;
}

export interface ConsentSessionData {
  access_token?: Record<string, unknown>;
  id_token?: Record<string, unknown>;
}

export interface AcceptConsentRequest {
  grant_scope: string[];
  grant_access_token_audience: string[];
  remember?: boolean;
  remember_for?: number;
  session?: ConsentSessionData;
  /** v2.2.0+ only: the client drops it for v1. */
  context?: unknown;
}

export interface RejectRequest {
  error?: string;
  error_description?: string;
  error_hint?: string;
  error_debug?: string;
  status_code?: number;
}

export interface RedirectTo {
  redirect_to: string;
}

export interface JsonWebKey {
  kty: string;
  kid: string;
  alg: string;
  use: string;
  crv?: string;
  d?: string;
  dp?: string;
  dq?: string;
  e?: string;
  k?: string;
  n?: string;
  p?: string;
  q?: string;
  qi?: string;
  x?: string;
  x5c?: string[];
  y?: string;
}

export interface JsonWebKeySet {
  keys: JsonWebKey[];
}

export interface CreateJsonWebKeySet {
  alg: string;
  kid: string;
  use: string;
}

export interface JsonPatch {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

export interface TrustJwtGrantIssuer {
  issuer: string;
  subject?: string;
  allow_any_subject?: boolean;
  scope: string[];
  jwk: JsonWebKey;
  expires_at: string;
}

export interface TrustedJwtGrantIssuer {
  id: string;
  issuer: string;
  subject?: string;
  allow_any_subject?: boolean;
  scope: string[];
  public_key: { set: string; kid: string };
  created_at: string;
  expires_at: string;
}

export interface ConsentSession {
  grant_scope?: string[];
  grant_access_token_audience?: string[];
  session?: ConsentSessionData;
  remember?: boolean;
  remember_for?: number;
  handled_at?: string;
  consent_request?: ConsentRequest;
  context?: unknown;
  consent_request_id?: string;
}

export interface IntrospectedToken {
  active: boolean;
  aud?: string[];
  client_id?: string;
  exp?: number;
  ext?: Record<string, unknown>;
  iat?: number;
  iss?: string;
  nbf?: number;
  obfuscated_subject?: string;
  scope?: string;
  sub?: string;
  token_type?: string;
  token_use?: string;
  username?: string;
}

/**
 * Paging as the caller asks for it. v2 speaks `page_size`/`page_token`, v1 `limit`/`offset`;
 * the client translates `pageSize` and passes the opaque `pageToken` (v2) or offset (v1) through.
 */
export interface PageRequest {
  pageSize?: number;
  /** v2: Hydra's page_token. v1: the offset, as a string. */
  pageToken?: string;
}

/** One page of a list, with the neighbouring pages read from Hydra's `Link` header. */
export interface Page<T> {
  items: T[];
  /** Tokens for PageRequest.pageToken, or undefined when Hydra gave no such link. */
  next?: string;
  prev?: string;
  first?: string;
  /** From X-Total-Count, when Hydra sends it (v1.11 – v2.3). */
  total?: number;
}

export interface ListClientsQuery extends PageRequest {
  client_name?: string;
  owner?: string;
}

export interface ListTrustedIssuersQuery extends PageRequest {
  issuer?: string;
}

export interface ListConsentSessionsQuery extends PageRequest {
  subject: string;
  /** v2.0.3+ */
  login_session_id?: string;
}

export type RevokeConsentSessionsQuery =
  | { subject: string; client: string; all?: undefined }
  | { subject: string; all: true; client?: undefined };

export interface IntrospectRequest {
  token: string;
  scope?: string;
}

export interface FlushInactiveTokensRequest {
  /** RFC 3339; a missing value means now. */
  notAfter?: string;
}
