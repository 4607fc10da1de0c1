import { createServer } from 'node:net';

/**
 * A loopback port that was free a moment ago: listen on port 0, read the port, close, hand it out.
 * For test and bench servers started right after; another process could take it in between.
 */
export async function freePort(): Promise<number> {
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
      server.close(() => resolve(address.port));
    });
  });
}
