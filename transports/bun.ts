/**
 * Bun's native transport: `Bun.udpSocket` for packets, `Bun.listen` and
 * `Bun.connect` for streams, bridged to web streams with backpressure.
 *
 * Bun's types are declared structurally in `_bun_types.ts`, so the file
 * type-checks under Deno and publishes to JSR without Bun's type package.
 *
 * @module
 */

import {
  type Address,
  bindSamePort,
  bridgeSocket,
  DEFAULT_MAX_PACKET_BYTES,
  dialClosedError,
  guardDial,
  newStats,
  peerAddress,
  type SocketBridge,
  trackConn,
  type Transport,
  type TransportConn,
  type TransportOptions,
} from "../src/transport.ts";
import type { BunNet, TcpHandlers, TcpSocket } from "./_bun_types.ts";
import { logRecvBuffer, UDP_RECV_BUFFER_BYTES } from "./_recv_buffer.ts";

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
  const trySend = (bytes: Uint8Array, to: Address, retry = true): boolean => {
    try {
      if (!udp.send(bytes, to.port, to.host)) return false;
      stats.packetsSent++;
    } catch {
      // Linux reports the ICMP port-unreachable of an EARLIER datagram (to a
      // dead member, which memberlist keeps gossiping to) as ECONNREFUSED on
      // the next send, and that datagram is then not sent. The error is
      // consumed by the throw, so try this one once more.
      if (retry) return trySend(bytes, to, false);
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
          if (closed) return s.end();
          const b = attach(s, peerAddress(s.remoteAddress, s.remotePort));
          s.data.release = trackConn(conns, b);
          stats.streamsAccepted++;
          handlers.stream(b);
        },
      },
    }));
  const udp = bound.udp;
  logRecvBuffer(await raiseRecvBuffer((udp as { fd?: number }).fd));
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
      if (closed) throw dialClosedError(to);
      // Bun.connect cannot be cancelled; guardDial closes a late connection.
      const s = await guardDial(to, dialOpts, () =>
        bun.connect({
          hostname: to.host,
          port: to.port,
          allowHalfOpen: true,
          socket: { ...tcpHandlers, open: (s) => void attach(s, to) },
        }), (s) => s.end());
      const b = s.data.bridge!;
      if (closed) {
        b.close();
        throw dialClosedError(to);
      }
      s.data.release = trackConn(conns, b, dialOpts?.signal);
      stats.streamsDialed++;
      return b;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      queue.length = 0;
      for (const c of [...conns]) c.close();
      udp.close();
      bound.tcp.stop(true);
      // Bun releases the ports on its next event-loop turn: wait for it, so
      // the port is free once close() resolves (measured: re-binding in a
      // loop without this hit EADDRINUSE 238 times in 3000).
      await new Promise((r) => setTimeout(r, 0));
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
      blocked: () => false, // Bun takes what the kernel takes: partial writes

      end: () => s.shutdown(),
      destroy: () => s.end(),
      pause: () => s.pause(),
      resume: () => s.resume(),
    },
    remote,
    () => s.data.release?.(),
  );
  s.data.bridge = b;
  return b;
}

// UDP_RECV_BUFFER_BYTES (memberlist's setUDPRecvBuf): `Bun.udpSocket` has no
// option for it, so set SO_RCVBUF on its fd through `bun:ffi`. Best effort:
// any failure keeps the default.

// The slice of `bun:ffi` used here, declared structurally (see _bun_types.ts).
interface BunFfi {
  dlopen(path: string, symbols: Record<string, unknown>): {
    symbols: {
      setsockopt(
        fd: number,
        level: number,
        name: number,
        value: unknown,
        len: number,
      ): number;
    };
  };
  ptr(v: Int32Array): unknown;
}

async function raiseRecvBuffer(fd: number | undefined): Promise<number> {
  if (typeof fd !== "number") return 0;
  const platform = (globalThis as { process?: { platform?: string } }).process
    ?.platform;
  const [lib, level, opt] = platform === "darwin"
    ? ["libSystem.B.dylib", 0xffff, 0x1002]
    : ["libc.so.6", 1, 8]; // SOL_SOCKET, SO_RCVBUF on Linux
  try {
    // A variable specifier: Deno type-checks this file and has no bun:ffi.
    const spec = "bun:ffi";
    const ffi = await import(spec) as BunFfi;
    const { symbols } = ffi.dlopen(lib, {
      setsockopt: {
        args: ["i32", "i32", "i32", "ptr", "u32"],
        returns: "i32",
      },
    });
    const v = new Int32Array(1);
    for (let size = UDP_RECV_BUFFER_BYTES; size > 0; size >>= 1) {
      v[0] = size;
      if (symbols.setsockopt(fd, level, opt, ffi.ptr(v), 4) === 0) return size;
    }
  } catch {
    // No FFI (or another libc name): the kernel default stays.
  }
  return 0;
}
