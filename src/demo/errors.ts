import * as client from 'openid-client';
import { HydraError, HydraUnavailableError } from '../hydra/errors.js';
import { describeError } from '../http/errors.js';
import type { PlainTranslate } from '../http/i18n.js';
import { clip } from '../http/text.js';

/** An error as the demo page shows it: what failed, in words, with Hydra's own code when it sent one. */
export interface DemoError {
  title: string;
  message: string;
  /** The OAuth error code (access_denied, invalid_grant, …) when there is one. */
  code?: string;
  status: number;
}

/** The catalog's words for text a template prints with `<%= %>` (src/http/i18n.ts plainText). */
export type Say = PlainTranslate;

/** The OAuth errors the catalogs explain in one sentence each (`demo.meaning.<code>`). */
const EXPLAINED = new Set([
  'access_denied',
  'login_required',
  'consent_required',
  'invalid_scope',
  'invalid_request',
  'invalid_grant',
  'invalid_client',
  'request_unauthorized',
]);

/** What a common OAuth error means in this demo, in one sentence. */
export function meaningOf(code: string | undefined, say: Say): string | undefined {
  return code !== undefined && EXPLAINED.has(code) ? say(`demo.meaning.${code}`) : undefined;
}

function causeText(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown })?.cause;
  if (cause instanceof Error) return cause.message;
  const code = (cause as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Maps anything the demo's steps throw to words for the page. Never a stack, never a token, never a
 * megabyte. `step` is the step's name as the page says it; the messages openid-client and Hydra
 * wrote stay in their words (English), the titles around them are the catalog's.
 */
export function describeDemoError(err: unknown, step: string, say: Say): DemoError {
  const described = describe(err, step, say);
  return { ...described, message: clip(described.message), code: described.code === undefined ? undefined : clip(described.code, 100) };
}

function describe(err: unknown, step: string, say: Say): DemoError {
  if (err instanceof client.AuthorizationResponseError) {
    return { title: say('demo.error.hydra_error', { step }), code: err.error, message: err.error_description ?? err.error, status: 400 };
  }
  if (err instanceof client.ResponseBodyError) {
    return { title: say('demo.error.hydra_refused', { step, status: err.status }), code: err.error, message: err.error_description ?? err.error, status: 502 };
  }
  if (err instanceof client.WWWAuthenticateChallengeError) {
    const challenge = err.cause[0];
    const code = challenge?.parameters.error;
    return { title: say('demo.error.token_refused', { step, status: err.status }), code, message: challenge?.parameters.error_description ?? code ?? err.message, status: 502 };
  }
  if (err instanceof client.ClientError) {
    const detail = causeText(err);
    return { title: say('demo.error.client_rejected', { step }), code: err.code, message: detail && detail !== err.message ? `${err.message}: ${detail}` : err.message, status: 502 };
  }
  if (err instanceof HydraError || err instanceof HydraUnavailableError) {
    const view = describeError(err, false);
    const title = view.i18n ? say(view.i18n.title, view.i18n.values) : view.title;
    const message = view.i18n?.message ? say(view.i18n.message, view.i18n.values) : view.message;
    return { title: say('demo.error.step', { step, title }), code: err instanceof HydraError ? err.error : undefined, message, status: view.status };
  }
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return { title: say('demo.error.timeout_title', { step }), message: say('demo.error.timeout'), status: 504 };
  }
  if (err instanceof TypeError && err.message === 'fetch failed') {
    const detail = causeText(err);
    return {
      title: say('demo.error.unreachable_title', { step }),
      message: detail ? say('demo.error.unreachable_detail', { detail }) : say('demo.error.unreachable'),
      status: 502,
    };
  }
  return { title: say('demo.error.failed_title', { step }), message: say('demo.error.failed'), status: 500 };
}
