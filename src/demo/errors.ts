import * as client from 'openid-client';
import { HydraError, HydraUnavailableError } from '../hydra/errors.js';
import { describeError } from '../http/errors.js';
import { clip } from '../http/text.js';

/** An error as the demo page shows it: what failed, in words, with Hydra's own code when it sent one. */
export interface DemoError {
  title: string;
  message: string;
  /** The OAuth error code (access_denied, invalid_grant, …) when there is one. */
  code?: string;
  status: number;
}

/** What the common OAuth errors mean in this demo, in one sentence. */
const MEANING: Record<string, string> = {
  access_denied: 'The person (or our consent screen) said no: Hydra issued no code.',
  login_required: 'prompt=none was asked, but nobody is signed in at Hydra (or max_age has passed), so Hydra could not answer without showing a screen.',
  consent_required: 'prompt=none was asked, but there is no remembered consent for these scopes, so Hydra could not answer without showing a screen.',
  invalid_scope: 'The demo client is not allowed one of the requested scopes.',
  invalid_request: 'Hydra rejected the request; the description says which part.',
  invalid_grant: 'The code or refresh token is no longer valid: it was already used, has expired, or was revoked.',
  invalid_client: 'Hydra does not know the client, or its secret is wrong: check DEMO_CLIENT_ID / DEMO_CLIENT_SECRET against the registered client.',
  request_unauthorized: 'The request took too long or was tampered with; start again.',
};

export function meaningOf(code: string | undefined): string | undefined {
  return code === undefined ? undefined : MEANING[code];
}

function causeText(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown })?.cause;
  if (cause instanceof Error) return cause.message;
  const code = (cause as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps anything the demo's steps throw to words for the page. Never a stack, never a token, never a megabyte. */
export function describeDemoError(err: unknown, step: string): DemoError {
  const described = describe(err, step);
  return { ...described, message: clip(described.message), code: described.code === undefined ? undefined : clip(described.code, 100) };
}

function describe(err: unknown, step: string): DemoError {
  if (err instanceof client.AuthorizationResponseError) {
    return { title: `${step}: Hydra answered with an error`, code: err.error, message: err.error_description ?? err.error, status: 400 };
  }
  if (err instanceof client.ResponseBodyError) {
    return { title: `${step}: Hydra refused (HTTP ${err.status})`, code: err.error, message: err.error_description ?? err.error, status: 502 };
  }
  if (err instanceof client.WWWAuthenticateChallengeError) {
    const challenge = err.cause[0];
    const code = challenge?.parameters.error;
    return { title: `${step}: Hydra refused the access token (HTTP ${err.status})`, code, message: challenge?.parameters.error_description ?? code ?? err.message, status: 502 };
  }
  if (err instanceof client.ClientError) {
    const detail = causeText(err);
    return { title: `${step}: openid-client rejected Hydra's answer`, code: err.code, message: detail && detail !== err.message ? `${err.message}: ${detail}` : err.message, status: 502 };
  }
  if (err instanceof HydraError || err instanceof HydraUnavailableError) {
    const view = describeError(err, false);
    return { title: `${step}: ${view.title}`, code: err instanceof HydraError ? err.error : undefined, message: view.message, status: view.status };
  }
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return { title: `${step}: Hydra did not answer in time`, message: 'The request to Hydra timed out. Is it running?', status: 504 };
  }
  if (err instanceof TypeError && err.message === 'fetch failed') {
    const detail = causeText(err);
    return { title: `${step}: Hydra could not be reached`, message: `The request to Hydra's public API failed${detail ? ` (${detail})` : ''}. Is it running, and is HYDRA_PUBLIC_INTERNAL_URL (or HYDRA_PUBLIC_URL) right?`, status: 502 };
  }
  return { title: `${step} failed`, message: 'An unexpected error occurred; the server log has the details.', status: 500 };
}
