import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import { pinoHttp } from 'pino-http';

/** Query parameters whose values are secrets or one-time credentials: never logged. */
const SECRET_PARAM = /(_challenge|_verifier|_hint|^code|^token|^state|^password|^challenge|secret|^access_token|^refresh_token|^id_token)$/i;

const REDACTED = '[redacted]';
const ENCODED_REDACTED = encodeURIComponent(REDACTED);

/** The URL with every secret query value replaced, so access logs can be shared. */
export function redactUrl(url: string | undefined): string {
  if (!url) return '';
  const question = url.indexOf('?');
  if (question === -1) return url;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(url.slice(question + 1));
  } catch {
    return `${url.slice(0, question)}?[unparsable]`;
  }
  for (const key of new Set(params.keys())) {
    if (SECRET_PARAM.test(key)) params.set(key, REDACTED);
  }
  // URLSearchParams would print %5Bredacted%5D; the marker stays readable.
  return `${url.slice(0, question)}?${params.toString().replaceAll(ENCODED_REDACTED, REDACTED)}`;
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
 */
export function requestLogger(logger: Logger) {
  return pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    // Our serializers get the raw objects and pick the few fields above; the standard ones would
    // copy headers and, for a plain `err` object, replace its type with "Object".
    serializers: {
      req: (req: IncomingMessage & { id?: unknown }) => ({
        id: req.id,
        method: req.method,
        url: redactUrl(req.originalUrl ?? req.url),
      }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
      // Type and message only: stacks are for bugs, which the error handler logs separately.
      err: (err: { type?: string; name?: string; message?: string }) => ({ type: err.type ?? err.name, message: err.message }),
    },
    customLogLevel(_req, res) {
      if (res.statusCode >= 500) return 'error';
      return res.statusCode >= 400 ? 'warn' : 'info';
    },
    // The error handler puts the cause on res.err, so a failed request is still one line.
    customErrorMessage: (_req, res, err) => `${res.statusCode} ${err.message}`,
    quietReqLogger: true,
    wrapSerializers: false,
  });
}

declare module 'node:http' {
  interface IncomingMessage {
    originalUrl?: string;
  }
}
