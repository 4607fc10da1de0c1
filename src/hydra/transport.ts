import http from 'node:http';
import https from 'node:https';

/** One request to Hydra's admin API, as the client builds it. */
export interface TransportRequest {
  method: string;
  /** Hydra's admin URL, parsed once: only its scheme, host and port are used. */
  origin: URL;
  /** Path (the admin URL's own path included) and query, ready to send. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** The whole exchange, connect to last byte, is cut after this many milliseconds. */
  timeoutMs: number;
  /** A longer body is refused with ResponseTooLargeError. Default MAX_RESPONSE_BYTES. */
  maxBytes?: number;
}

/** Hydra's answer, body read in full. */
export interface TransportResponse {
  status: number;
  statusText: string;
  headers: { get(name: string): string | null };
  body: string;
}

export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

/** The transport gave up waiting (the client reports it as a 504-style "timeout"). */
export class TransportTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Hydra's largest real answers (a client with a big jwks, a page of 500 clients) are tens of kB;
 * a body past this is a fault or an attack, and reading it would cost its size in memory twice
 * (chunks, then the string). A 520 MiB one used to end the process (ERR_STRING_TOO_LONG).
 */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Hydra's answer was larger than MAX_RESPONSE_BYTES: reading stopped and the socket was destroyed. */
export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  constructor(readonly limit: number) {
    super(`the answer is larger than ${limit} bytes`);
  }
}

/**
 * The default transport: node:http with keep-alive agents. Node's global fetch (undici) keeps
 * connections alive too, but costs several times more CPU per call (WHATWG streams, Headers,
 * Request/Response objects, and ~10 µs for each AbortSignal.timeout on Node 20): about a third
 * of a login page's CPU, measured with `npm run bench -- --profile`. Every flow page makes one or
 * two of these calls.
 *
 * Idle sockets are closed after 4 s, as undici does by default, so we rarely reuse a connection
 * the server is closing; a GET that still meets one (ECONNRESET on a reused socket, before any
 * answer) is sent once more.
 */
const AGENT_OPTIONS = { keepAlive: true, timeout: 4000, scheduling: 'lifo' } as const;
const agents = { 'http:': new http.Agent(AGENT_OPTIONS), 'https:': new https.Agent(AGENT_OPTIONS) };

class ResponseHeaders {
  constructor(private readonly raw: http.IncomingHttpHeaders) {}
  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }
}

function exchange(request: TransportRequest, agent: http.Agent): Promise<TransportResponse> {
  return new Promise<TransportResponse>((resolve, reject) => {
    const { origin } = request;
    // The first outcome wins; a destroyed socket reports its error again afterwards.
    let settled = false;
    const outgoing = (origin.protocol === 'https:' ? https : http).request(
      {
        protocol: origin.protocol,
        hostname: origin.hostname.startsWith('[') ? origin.hostname.slice(1, -1) : origin.hostname,
        port: origin.port,
        path: request.path,
        method: request.method,
        headers: request.headers,
        agent,
      },
      (response) => {
        const limit = request.maxBytes ?? MAX_RESPONSE_BYTES;
        const chunks: Buffer[] = [];
        let received = 0;
        // Past the cap, stop reading and destroy the socket (a half-read answer cannot be reused).
        const tooLarge = () => {
          fail(new ResponseTooLargeError(limit));
          outgoing.destroy();
        };
        const declared = Number(response.headers['content-length']);
        if (declared > limit) {
          tooLarge();
          return;
        }
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > limit) tooLarge();
          else chunks.push(chunk);
        });
        response.on('error', fail);
        // A connection cut mid-body ends in 'close' without 'end'.
        response.on('close', () => {
          if (!response.complete) fail(Object.assign(new Error('connection closed before the response was complete'), { code: 'ECONNRESET' }));
        });
        response.on('end', () => {
          if (settled) return;
          clearTimeout(timer);
          // Nothing thrown here may escape: this listener runs outside any promise.
          try {
            settled = true;
            resolve({
              status: response.statusCode ?? 0,
              statusText: response.statusMessage ?? '',
              headers: new ResponseHeaders(response.headers),
              body: Buffer.concat(chunks).toString('utf8'),
            });
          } catch (err) {
            settled = false;
            fail(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    // One plain timer per call: AbortSignal.timeout costs ~40 times as much on Node 20.
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      outgoing.destroy();
    }, request.timeoutMs);
    function fail(err: Error): void {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      if (timedOut) reject(new TransportTimeoutError(`no answer within ${request.timeoutMs} ms`, { cause: err }));
      else reject(Object.assign(err, { reusedSocket: outgoing.reusedSocket }));
    }
    outgoing.on('error', fail);
    outgoing.end(request.body);
  });
}

export const nodeTransport: Transport = async (request) => {
  const agent = agents[request.origin.protocol as keyof typeof agents];
  if (!agent) throw new TypeError(`unsupported protocol ${request.origin.protocol}`);
  try {
    return await exchange(request, agent);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { reusedSocket?: boolean };
    if (request.method === 'GET' && e.reusedSocket && e.code === 'ECONNRESET') return exchange(request, agent);
    throw err;
  }
};
