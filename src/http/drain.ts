import type { Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

/** On SIGTERM, a connection that has not sent a whole request head yet gets this long to do so. */
const FIRST_REQUEST_GRACE_MS = 1000;

/**
 * Graceful drain for the HTTP server. Node's server.close() also closes every connection it
 * counts as idle, and to Node a connection whose request is still unread in the socket is idle:
 * those clients got ECONNRESET for a request sent before SIGTERM. Here the listening socket is
 * closed on its own and each connection is judged by what it has done:
 * - a request in progress is answered, with `Connection: close`, and its connection then closed;
 * - a keep-alive connection that has served its requests and has none pending is closed now;
 * - a connection that has not sent a request yet gets FIRST_REQUEST_GRACE_MS to send it.
 * So the process exits as soon as the last response is out, not when keep-alive clients hang up.
 */
export function drainable(server: Server) {
  const connections = new Map<Socket, { inFlight: Set<ServerResponse>; served: number }>();
  let draining = false;
  const closeIfIdle = (socket: Socket) => {
    const state = connections.get(socket);
    if (state && state.served > 0 && state.inFlight.size === 0) socket.destroySoon();
  };

  server.on('connection', (socket: Socket) => {
    connections.set(socket, { inFlight: new Set(), served: 0 });
    socket.once('close', () => connections.delete(socket));
  });
  // Before the app's own listener, so the header is set before any route can answer.
  server.prependListener('request', (req, res) => {
    if (draining) res.setHeader('Connection', 'close');
    const state = connections.get(req.socket);
    if (!state) return;
    state.inFlight.add(res);
    res.once('close', () => {
      state.inFlight.delete(res);
      state.served++;
      if (draining) closeIfIdle(req.socket);
    });
  });

  return {
    /** Stops accepting connections; resolves once every connection has closed. */
    drain(): Promise<void> {
      draining = true;
      return new Promise((resolve) => {
        // After this turn of the event loop, so that a request already in a socket's buffer when
        // the signal came has been read and counts as in progress.
        setImmediate(() => {
          // net.Server's close: stop listening, call back when the last connection is gone.
          NetServer.prototype.close.call(server, () => resolve());
          for (const [socket, state] of connections) {
            for (const res of state.inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
            closeIfIdle(socket);
          }
          setTimeout(() => {
            for (const [socket, state] of connections) if (state.served === 0 && state.inFlight.size === 0) socket.destroy();
          }, FIRST_REQUEST_GRACE_MS).unref();
        });
      });
    },
    /** At the shutdown deadline: every connection, whatever it is doing. */
    closeAll(): void {
      server.closeAllConnections();
      for (const socket of connections.keys()) socket.destroy();
    },
  };
}
