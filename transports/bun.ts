/**
 * Bun's native transport: `Bun.udpSocket` for packets, `Bun.listen` and
 * `Bun.connect` for streams, bridged to web streams with backpressure.
 *
 * Bun's types are declared here structurally, so the file type-checks under
 * Deno and publishes to JSR without Bun's type package.
 *
 * @module
 */

import { ClosedError } from "../src/errors.ts";
import {
  type Address,
  addressText,
  bindSamePort,
  bridgeSocket,
  DEFAULT_MAX_PACKET_BYTES,
  guardDial,
  newStats,
  peerAddress,
  type SocketBridge,
  trackConn,
  type Transport,
  type TransportConn,
  type TransportOptions,
} from "../src/transport.ts";

interface UdpSocket {
  readonly port: number;
  send(data: Uint8Array, port: number, address: string): boolean;
  close(): void;
}
interface TcpSocket {
  data: { remote?: Address; bridge?: SocketBridge; release?: () => void };
  readonly remoteAddress: string;
  readonly remotePort: number;
  write(data: Uint8Array): number;
  shutdown(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(on: boolean): boolean;
}
interface TcpHandlers {
  open(s: TcpSocket): void;
  data(s: TcpSocket, d: Uint8Array): void;
  drain(s: TcpSocket): void;
  end(s: TcpSocket): void;
  close(s: TcpSocket, err?: Error): void;
  error(s: TcpSocket, err: Error): void;
}
interface TcpOptions {
  hostname: string;
  port: number;
  allowHalfOpen: true;
  socket: TcpHandlers;
  data?: TcpSocket["data"];
}
interface BunNet {
  udpSocket(o: {
    hostname: string;
    port: number;
    binaryType: "uint8array";
    socket: {
      data(s: UdpSocket, d: Uint8Array, port: number, address: string): void;
      drain(s: UdpSocket): void;
      error(s: UdpSocket, err: Error): void;
    };
  }): Promise<UdpSocket>;
  listen(o: TcpOptions): { stop(closeActive: boolean): void };
  connect(o: TcpOptions): Promise<TcpSocket>;
}

/** Datagrams held while Bun's send buffer is full; beyond it they drop (and count). */
export const BUN_SEND_QUEUE_MAX = 1024;

/**
 * Bind a transport on Bun's native sockets (Bun only).
 * @param opts where to bind and whom to call
 * @returns the bound transport
 * @example
 * ```ts
 * import { bunTransport } from "./bun.ts";
 * const t = await bunTransport({
 *   bind: { host: "127.0.0.1", port: 0 },
 *   handlers: { packet: (b, from) => console.log(b.length, from), stream: (c) => c.close() },
 * });
 * console.log(t.localAddr.port);
 * await t.close();
 * ```
 */
export async function bunTransport(opts: TransportOptions): Promise<Transport> {
  const bun = (globalThis as { Bun?: BunNet }).Bun;
  if (bun === undefined) {
    throw new TypeError("Cannot use bunTransport: not running on Bun");
  }
  const { handlers } = opts;
  const host = opts.bind.host;
  const max = opts.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  const stats = newStats();
  const conns = new Set<TransportConn>();
  const queue: [Uint8Array, Address][] = [];
  let closed = false;
  // Bun's send() answers false when the socket buffer is full (the datagram
  // was not sent) and calls drain() later; it throws on a bad address or size.
  const trySend = (bytes: Uint8Array, to: Address): boolean => {
    try {
      if (!udp.send(bytes, to.port, to.host)) return false;
      stats.packetsSent++;
    } catch {
      stats.sendErrors++;
    }
    return true;
  };
  const flush = (): void => {
    while (queue.length > 0 && !closed && trySend(...queue[0])) queue.shift();
  };
  const bound = await bindSamePort(opts.bind, async (port) => {
    const s = await bun.udpSocket({
      hostname: host,
      port,
      binaryType: "uint8array",
      socket: {
        data(_s, d, port, address): void {
          if (closed) return;
          if (d.length > max) return void stats.packetsDropped++;
          stats.packetsReceived++;
          handlers.packet(d, peerAddress(address, port));
        },
        drain: flush,
        // Without an error handler Bun would surface socket errors as throws.
        error: () => void stats.sendErrors++,
      },
    });
    return { socket: s, port: s.port, close: () => s.close() };
  }, (port) =>
    bun.listen({
      hostname: host,
      port,
      allowHalfOpen: true,
      socket: {
        ...tcpHandlers,
        open(s): void {
          if (closed) return s.terminate();
          const b = attach(s, peerAddress(s.remoteAddress, s.remotePort));
          s.data.release = trackConn(conns, b);
          stats.streamsAccepted++;
          handlers.stream(b);
        },
      },
    }));
  const udp = bound.udp;
  return {
    name: "bun",
    localAddr: { host, port: bound.port },
    stats,
    sendPacket(to: Address, bytes: Uint8Array): void {
      if (closed) return;
      if (queue.length === 0 && trySend(bytes, to)) return;
      if (queue.length >= BUN_SEND_QUEUE_MAX) stats.sendErrors++;
      else queue.push([bytes, to]);
    },
    async dial(to, dialOpts): Promise<TransportConn> {
      const why = `Cannot dial ${addressText(to)}: transport is closed`;
      if (closed) throw new ClosedError(why);
      // Bun.connect cannot be cancelled; guardDial closes a late connection.
      const s = await guardDial(to, dialOpts, () =>
        bun.connect({
          hostname: to.host,
          port: to.port,
          allowHalfOpen: true,
          data: { remote: to },
          socket: { ...tcpHandlers, open: (s) => void attach(s, to) },
        }), (s) => s.terminate());
      const b = s.data.bridge!;
      if (closed) {
        b.close();
        throw new ClosedError(why);
      }
      s.data.release = trackConn(conns, b, dialOpts?.signal);
      stats.streamsDialed++;
      return b;
    },
    close(): Promise<void> {
      if (!closed) {
        closed = true;
        queue.length = 0;
        for (const c of [...conns]) c.close();
        udp.close();
        bound.tcp.stop(true);
      }
      return Promise.resolve();
    },
  };
}

// Bun shares one handler object among all sockets (its fast path); each
// socket's bridge lives in socket.data.
const tcpHandlers: Omit<TcpHandlers, "open"> = {
  // Bun hands client sockets a Buffer even with binaryType set: view it plainly.
  data: (s, d) =>
    s.data.bridge?.push(new Uint8Array(d.buffer, d.byteOffset, d.length)),
  drain: (s) => s.data.bridge?.drained(),
  end: (s) => s.data.bridge?.pushEnd(),
  close: (s, err) => s.data.bridge?.closed(err),
  error: (s, err) => s.data.bridge?.closed(err),
};

function attach(s: TcpSocket, remote: Address): SocketBridge {
  s.setNoDelay(true);
  s.data ??= {};
  const b = bridgeSocket(
    {
      write: (chunk) => Math.max(0, s.write(chunk)),
      blocked: () => false, // Bun writes only what the kernel takes (partial writes).
      end: () => s.shutdown(),
      destroy: () => s.terminate(),
      pause: () => s.pause(),
      resume: () => s.resume(),
    },
    remote,
    () => s.data.release?.(),
  );
  s.data.bridge = b;
  return b;
}
