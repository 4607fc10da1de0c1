import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHydraAdmin } from '../../src/hydra/client.js';
import { startFakeHydra, type FakeHydra } from '../support/fake-hydra.js';

describe('the keep-alive transport to Hydra', () => {
  let fake: FakeHydra;
  beforeAll(async () => {
    fake = await startFakeHydra();
  });
  afterAll(() => fake.close());

  it('reuses one connection for calls in sequence', async () => {
    // A bare server that counts TCP connections; the fake does not expose its sockets.
    let connections = 0;
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ challenge: 'c', skip: false, subject: '', client: {}, request_url: 'http://hydra.test/' }));
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const hydra = createHydraAdmin({ baseUrl: `http://127.0.0.1:${port}`, apiVersion: 'v2', timeoutMs: 2000 });
      for (let i = 0; i < 5; i++) expect((await hydra.getLoginRequest('c')).challenge).toBe('c');
      expect(connections).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('waits for a slow answer past the idle-socket timeout, up to HYDRA_TIMEOUT_MS', async () => {
    // The agent closes idle sockets after 4 s; a busy one must not be cut by that.
    const hydra = createHydraAdmin({ baseUrl: fake.url, apiVersion: 'v2', timeoutMs: 8000 });
    const challenge = fake.addLoginRequest();
    fake.setLatency(4500);
    try {
      const loginRequest = await hydra.getLoginRequest(challenge);
      expect(loginRequest.challenge).toBe(challenge);
    } finally {
      fake.setLatency(0);
    }
  }, 15_000);
});
