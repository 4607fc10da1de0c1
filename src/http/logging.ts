import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { RequestHandler } from 'express';

/** Query parameters whose values are secrets or one-time credentials: never logged. */
// return_to: the language switcher's way back, a page URL that may carry a challenge.
const SECRET_PARAM = /(_challenge|_verifier|_hint|^code|^user_code|^token|^state|^password|^challenge|secret|^access_token|^refresh_token|^id_token|^return_to)$/i;

const REDACTED = '[redacted]';

/**
 * The URL with every secret query value replaced, so access logs can be shared. Other parameters
 * stay exactly as sent. Keys are compared decoded (`login%5Fchallenge` is `login_challenge`).
 */
export function redactUrl(url: string | undefined): string {
  if (!url) return '';
  const question = url.indexOf('?');
  if (question === -1) return url;
  const pairs = url.slice(question + 1).split('&');
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i]!;
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    let key = pair.slice(0, eq);
    if (key.includes('%') || key.includes('+')) {
      try {
        key = decodeURIComponent(key.replaceAll('+', ' '));
      } catch {
        return `${url.slice(0, question)}?[unparsable]`;
      }
    }
    if (SECRET_PARAM.test(key)) pairs[i] = `${pair.slice(0, eq)}=${REDACTED}`;
  }
  return `${url.slice(0, question)}?${pairs.join('&')}`;
}

/**
 * Keys whose values never reach a log line, wherever a logged object carries them: at the top
 * level or one level down (pino's redaction takes paths, not patterns, so *_challenge and
 * *_verifier are spelled out). The access log itself logs no headers and a redacted URL.
 */
const SECRET_KEYS = [
  'password',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'code',
  'code_verifier',
  'challenge',
  'login_challenge',
  'consent_challenge',
  'logout_challenge',
  'login_verifier',
  'consent_verifier',
  'logout_verifier',
  'device_challenge',
  'device_verifier',
  'user_code',
  'client_secret',
  'cookie',
  'cookies',
  'authorization',
  '_csrf',
];
export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((key) => `*.${key}`),
  'headers.cookie',
  'headers.authorization',
  '*.headers.cookie',
  '*.headers.authorization',
  '*.headers["set-cookie"]',
  'req.headers',
  'res.headers',
];

export interface LoggerOptions {
  level: string;
  /** Pretty, colourful lines for a developer's terminal (pino-pretty, a dev dependency). */
  pretty?: boolean;
  /** Where JSON lines go; stdout by default. Tests pass a stream they read. */
  destination?: DestinationStream;
}

/** pino-pretty is a dev dependency: absent from a production install, so never required there. */
function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * JSON lines (pino), redacted as above. `pretty` asks for pino-pretty, which only a development
 * install has; without it the logger says so once and stays JSON.
 */
export function createLogger({ level, pretty, destination }: LoggerOptions): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (pretty && destination === undefined) {
    if (prettyAvailable()) {
      return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } });
    }
    const logger = pino(options);
    logger.info('pino-pretty is not installed: logging JSON');
    return logger;
  }
  return destination ? pino(options, destination) : pino(options);
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * One access-log line per request, with a request id (taken from X-Request-Id when it looks sane,
 * otherwise new) that is sent back in X-Request-Id. Only the method, the redacted URL and the
 * status are logged: no headers, so no cookies or authorization.
 *
 * The access line is built here from those few fields, so it needs no key-based redaction, which
 * costs ~20 µs a line with REDACT_PATHS (pino walks every path, wildcards included): it goes
 * through a child logger without it. req.log, for the app's own events, keeps full redaction and
 * is only created when something logs through it.
 *
 * `onResponse` is told each response's status as its line is written (the metrics' response
 * count): one listener and one middleware for both, not two of each on every request.
 */
export function requestLogger(logger: Logger, onResponse?: (status: number) => void): RequestHandler {
  const access = logger.child({}, { redact: { paths: [], censor: REDACTED } });
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', id);
    req.id = id;
    let child: Logger | undefined;
    const log = () => (child ??= logger.child({ reqId: id }));
    Object.defineProperty(req, 'log', { get: log, configurable: true });
    Object.defineProperty(res, 'log', { get: log, configurable: true });
    const start = Date.now();
    const finish = () => {
      const status = res.statusCode;
      onResponse?.(status);
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
      const line: Record<string, unknown> = {
        reqId: id,
        req: { id, method: req.method, url: redactUrl(req.originalUrl ?? req.url) },
        res: { statusCode: status },
        responseTime: Date.now() - start,
      };
      const err = res.err as { type?: string; name?: string; message?: string } | undefined;
      if (err) {
        line.err = { type: err.type ?? err.name, message: err.message };
        access[level](line, `${status} ${err.message}`);
      } else {
        access[level](line, 'request completed');
      }
    };
    // 'close' follows 'finish' on every response, and also ends one whose client went away.
    res.once('close', finish);
    next();
  };
}

declare module 'node:http' {
  interface IncomingMessage {
    originalUrl?: string;
    /** The request id (X-Request-Id), set by requestLogger. */
    id: string;
    /** A logger bound to this request's id, with full redaction. */
    log: Logger;
  }
  interface ServerResponse {
    /** What went wrong, put here by the error handler for the access line. */
    err?: unknown;
    log: Logger;
  }
}
