import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type Logger } from 'pino';
import { pinoHttp } from 'pino-http';

/** Query parameters whose values are secrets or one-time credentials: never logged. */
const SECRET_PARAM = /(_challenge|_verifier|_hint|^code|^token|^state|^password|^challenge|secret|^access_token|^refresh_token|^id_token)$/i;

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
    if (SECRET_PARAM.test(key)) params.set(key, '[redacted]');
  }
  return `${url.slice(0, question)}?${params.toString()}`;
}

export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'challenge',
  '*.challenge',
  'headers.cookie',
  'headers.authorization',
  '*.headers.cookie',
  '*.headers.authorization',
  'req.headers',
  'res.headers',
];

export interface LoggerOptions {
  level: string;
  /** Pretty, colourful lines for a developer's terminal (pino-pretty, a dev dependency). */
  pretty?: boolean;
}

export function createLogger({ level, pretty }: LoggerOptions): Logger {
  return pino({
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
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
    serializers: {
      req: (req: { id: unknown; method: string; url: string; raw?: IncomingMessage }) => ({
        id: req.id,
        method: req.method,
        url: redactUrl(req.raw?.originalUrl ?? req.url),
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      // The error handler already logged the cause; the access line needs no stack.
      err: (err: { type?: string; name?: string; message?: string }) => ({ type: err.type ?? err.name, message: err.message }),
    },
    customLogLevel(_req, res, err) {
      if (err || res.statusCode >= 500) return 'error';
      return res.statusCode >= 400 ? 'warn' : 'info';
    },
    // The error handler logs the error itself; the access line carries only the status.
    customErrorMessage: (_req, res) => `request failed with ${res.statusCode}`,
    quietReqLogger: true,
    wrapSerializers: true,
  });
}

declare module 'node:http' {
  interface IncomingMessage {
    originalUrl?: string;
  }
}
