import { createServer, type Server } from 'node:net';

/** Listens on a port the kernel picks (port 0) and says which. */
function listenAnywhere(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no port'));
        return;
      }
      resolve({ server, port: address.port });
    });
  });
}

/**
 * A loopback port that was free a moment ago: listen on port 0, read the port, close, hand it out.
 * For test and bench servers started right after; another process could take it in between.
 */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/**
 * `count` different loopback ports, free a moment ago. All are held until the last is known:
 * taken one after the other, a port closed can come back at once as the next one.
 */
export async function freePorts(count: number): Promise<number[]> {
  const held: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const { server, port } = await listenAnywhere();
      held.push(server);
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
