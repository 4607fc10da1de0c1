// Issue #11 item 6: Hydra's answers are capped (1 MiB) and their shape is checked, against a
// real HTTP server on port 0 that answers whatever the test says.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHydraAdmin } from '../../src/hydra/client.js';
import { HydraResponseError } from '../../src/hydra/shapes.js';
import { MAX_RESPONSE_BYTES, nodeTransport, ResponseTooLargeError } from '../../src/hydra/transport.js';
import { buildTestApp, type TestApp } from '../support/test-app.js';

const MiB = 1024 * 1024;

const LOGIN_REQUEST = {
  challenge: 'c',
  skip: false,
  subject: '',
  client: { client_id: 'demo', client_name: 'Demo App', redirect_uris: ['http://127.0.0.1:5555/callback'] },
  request_url: 'http://hydra.test/oauth2/auth?client_id=demo',
  requested_scope: ['openid'],
  requested_access_token_audience: [],
};

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe("Hydra's answers: capped at 1 MiB and checked for the shape the flows rely on", () => {
  let handler: Handler;
  const sockets = new Set<Socket>();
  let closedSockets = 0;
  const server = createServer((req, res) => handler(req, res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      closedSockets++;
    });
  });
  let adminUrl: string;
  let t: TestApp;

  const json = (status: number, body: string): Handler => (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  };

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    adminUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const hydra = createHydraAdmin({ baseUrl: adminUrl, apiVersion: 'v2', timeoutMs: 10_000 });
    t = await buildTestApp({ deps: { hydra } });
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });
  beforeEach(() => {
    handler = json(200, JSON.stringify(LOGIN_REQUEST));
  });

  it('renders the login page from a normal answer (the server is sound)', async () => {
    const res = await request(t.app).get('/login?login_challenge=c');
    expect(res.status).toBe(200);
    expect(res.text).toContain('Demo App');
  });

  it('answers 502 to a 2 MiB login request (valid JSON), and says Hydra answered something unexpected', async () => {
    handler = json(200, JSON.stringify({ ...LOGIN_REQUEST, padding: 'x'.repeat(2 * MiB) }));
    const page = await request(t.app).get('/login?login_challenge=c');
    expect(page.status).toBe(502);
    expect(page.text).toContain('Hydra answered something unexpected');
    // What exactly was wrong is for the operator's log, not the person's page.
    expect(page.text).not.toContain('larger than 1 MiB');
    const api = await request(t.app).get('/login?login_challenge=c').set('Accept', 'application/json');
    expect(api.status).toBe(502);
    expect(api.body).toEqual({ error: 'bad_gateway', error_description: expect.stringContaining('Hydra answered something unexpected') });
  });

  it('stops reading a 64 MiB stream after 1 MiB, destroys the socket, and memory stays flat', async () => {
    let written = 0;
    let serverSawClose = false;
    handler = (_req, res) => {
      // Chunked (no Content-Length), valid JSON if it were read to the end.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify(LOGIN_REQUEST).slice(0, -1)},"padding":"`);
      const chunk = Buffer.alloc(64 * 1024, 'x');
      res.on('close', () => {
        serverSawClose = true;
      });
      const pump = () => {
        while (written < 64 * MiB && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end('"}');
      };
      pump();
    };
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    try {
      const res = await request(t.app).get('/login?login_challenge=c');
      expect(res.status).toBe(502);
      expect(res.text).toContain('Hydra answered something unexpected');
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    await expect.poll(() => serverSawClose).toBe(true);
    // What the server managed to push before the cut: the cap plus what the socket buffers held.
    expect(written, `server wrote ${(written / MiB).toFixed(1)} MiB`).toBeLessThan(16 * MiB);
    // Reading it all took ~4× its size (chunks, concat, string, parse): 64 MiB would be ~250 MiB.
    expect(peak - before, `RSS grew ${((peak - before) / MiB).toFixed(1)} MiB`).toBeLessThan(48 * MiB);
  });

  it('refuses a declared Content-Length over the cap before reading a byte, and the next call works', async () => {
    const closedBefore = closedSockets;
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10 * MiB) });
      res.write('{"challenge":"c",'); // and then nothing: the client must not wait for the rest
    };
    const started = Date.now();
    const res = await request(t.app).get('/login?login_challenge=c');
    expect(res.status).toBe(502);
    expect(Date.now() - started).toBeLessThan(2000);
    await expect.poll(() => closedSockets).toBeGreaterThan(closedBefore);
    handler = json(200, JSON.stringify(LOGIN_REQUEST));
    expect((await request(t.app).get('/login?login_challenge=c')).status).toBe(200);
  });

  it('caps error answers too: a 404 with a 2 MiB body is a 502', async () => {
    handler = json(404, JSON.stringify({ error: 'Not Found', error_description: 'y'.repeat(2 * MiB) }));
    expect((await request(t.app).get('/login?login_challenge=c')).status).toBe(502);
  });

  it('the transport itself rejects with ResponseTooLargeError at the cap, never with an uncaught exception', async () => {
    handler = json(200, JSON.stringify({ padding: 'z'.repeat(MAX_RESPONSE_BYTES) }));
    const origin = new URL(adminUrl);
    await expect(nodeTransport({ method: 'GET', origin, path: '/x', headers: {}, timeoutMs: 5000 })).rejects.toBeInstanceOf(ResponseTooLargeError);
    // Exactly at the cap is fine.
    handler = json(200, 'a'.repeat(MAX_RESPONSE_BYTES));
    const ok = await nodeTransport({ method: 'GET', origin, path: '/x', headers: {}, timeoutMs: 5000 });
    expect(ok.body.length).toBe(MAX_RESPONSE_BYTES);
  });

  describe('a 200 with a body the flows cannot use is a 502, not a 500 or a half-empty page', () => {
    const { client: _client, ...withoutClient } = LOGIN_REQUEST;
    const { challenge: _challenge, ...withoutChallenge } = LOGIN_REQUEST;
    const { request_url: _url, ...withoutRequestUrl } = LOGIN_REQUEST;
    const cases: [string, string][] = [
      ['null', 'null'],
      ['a string', '"hello"'],
      ['a number', '42'],
      ['an array', JSON.stringify([LOGIN_REQUEST])],
      ['not JSON', '<html>proxy error</html>'],
      ['no client', JSON.stringify(withoutClient)],
      ['no challenge', JSON.stringify(withoutChallenge)],
      ['no request_url', JSON.stringify(withoutRequestUrl)],
      ['client: null', JSON.stringify({ ...LOGIN_REQUEST, client: null })],
      ['skip as a string', JSON.stringify({ ...LOGIN_REQUEST, skip: 'false' })],
      ['client_name as a number', JSON.stringify({ ...LOGIN_REQUEST, client: { client_id: 'x', client_name: 7 } })],
      ['redirect_uris as a string', JSON.stringify({ ...LOGIN_REQUEST, client: { client_id: 'x', redirect_uris: 'http://a.example/cb' } })],
    ];
    it.each(cases)('GET /login with %s', async (_name, body) => {
      handler = json(200, body);
      const res = await request(t.app).get('/login?login_challenge=c');
      expect(res.status).toBe(502);
      expect(res.text).toContain('Hydra answered something unexpected');
    });

    it('consent and logout requests, and accept answers without redirect_to', async () => {
      handler = json(200, 'null');
      expect((await request(t.app).get('/consent?consent_challenge=c')).status).toBe(502);
      expect((await request(t.app).get('/logout?logout_challenge=c')).status).toBe(502);
      handler = json(200, JSON.stringify({ challenge: 'c', requested_scope: 'openid' }));
      expect((await request(t.app).get('/consent?consent_challenge=c')).status).toBe(502);

      const hydra = createHydraAdmin({ baseUrl: adminUrl, apiVersion: 'v2', timeoutMs: 5000 });
      handler = json(200, '{}');
      await expect(hydra.acceptLoginRequest('c', { subject: 's' })).rejects.toBeInstanceOf(HydraResponseError);
      await expect(hydra.getJsonWebKeySet('s')).rejects.toMatchObject({ detail: expect.stringMatching(/keys/) });
      handler = json(200, '{"keys":null}');
      await expect(hydra.getJsonWebKeySet('s')).rejects.toBeInstanceOf(HydraResponseError);
      handler = json(200, 'null');
      await expect(hydra.getOAuth2Client('x')).rejects.toBeInstanceOf(HydraResponseError);
      handler = json(200, '{"not":"a list"}');
      await expect(hydra.listOAuth2Clients()).rejects.toBeInstanceOf(HydraResponseError);
      // Go's empty list is null: that is an empty page, not a fault.
      handler = json(200, 'null');
      expect((await hydra.listOAuth2Clients()).items).toEqual([]);
    });
  });
});
