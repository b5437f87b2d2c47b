/**
 * The `node:dgram` + `node:net` transport. It runs on Node ≥ 22 (type
 * stripping, so erasable syntax only), and is the fallback on Deno (without
 * `--unstable-net`) and on Bun.
 *
 * @module
 */

import { createSocket } from "node:dgram";
import { connect, createServer, isIPv4, isIPv6, type Socket } from "node:net";
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
import { UDP_RECV_BUFFER_BYTES } from "./_recv_buffer.ts";

/**
 * Bind a transport on `node:dgram` and `node:net`.
 * @param opts where to bind and whom to call
 * @returns the bound transport
 * @example
 * ```ts
 * import { nodeTransport } from "./node.ts";
 * const t = await nodeTransport({
 *   bind: { host: "127.0.0.1", port: 0 },
 *   handlers: { packet: (b, from) => console.log(b.length, from), stream: (c) => c.close() },
 * });
 * console.log(t.localAddr.port);
 * await t.close();
 * ```
 */
export async function nodeTransport(
  opts: TransportOptions,
): Promise<Transport> {
  const { handlers } = opts;
  const max = opts.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  const stats = newStats();
  const conns = new Set<TransportConn>();
  const family = isIPv6(opts.bind.host) ? "udp6" : "udp4";
  let closed = false;
  const bound = await bindSamePort(opts.bind, async (port) => {
    const s = createSocket(family);
    await new Promise<void>((resolve, reject) => {
      s.once("error", (e) => {
        s.close(); // a socket that failed to bind is still a live handle
        reject(e);
      });
      s.bind(port, opts.bind.host, () => {
        s.removeAllListeners("error");
        resolve();
      });
    });
    // memberlist's setUDPRecvBuf (net_transport.go): ask for 2 MB, halving on
    // failure, so a member starved of CPU queues gossip instead of dropping
    // it (the kernel default is ~208 KiB). Deno's node:dgram accepts the call
    // without applying it; Node and Bun apply it.
    for (let size = UDP_RECV_BUFFER_BYTES; size > 0; size >>= 1) {
      try {
        s.setRecvBufferSize(size);
        break;
      } catch {
        // Not allowed at this size: try half.
      }
    }
    return { socket: s, port: s.address().port, close: () => s.close() };
  }, async (port) => {
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      if (closed) return void socket.destroy();
      const from = peerAddress(
        socket.remoteAddress ?? "",
        socket.remotePort ?? 0,
      );
      stats.streamsAccepted++;
      handlers.stream(wrapSocket(socket, from, conns));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: opts.bind.host, port }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return server;
  });
  const udp = bound.udp;
  // An 'error' without a listener would throw; send errors also land here.
  udp.on("error", () => stats.sendErrors++);
  bound.tcp.on("error", () => {});
  udp.on("message", (m, r) => {
    if (m.length > max) return void stats.packetsDropped++;
    stats.packetsReceived++;
    handlers.packet(
      new Uint8Array(m.buffer, m.byteOffset, m.length),
      peerAddress(r.address, r.port),
    );
  });
  const send = (
    bytes: Uint8Array,
    port: number,
    host: string,
    retries: number,
  ): void => {
    udp.send(bytes, port, host, (err: Error | null) => {
      if (!err) return;
      // An ICMP port-unreachable of an earlier datagram (to a dead member)
      // can surface as ECONNREFUSED on this send (Bun's node:dgram), which
      // then was not sent: try it again, a few times at most.
      if (
        retries > 0 && (err as { code?: string }).code === "ECONNREFUSED" &&
        !closed
      ) {
        send(bytes, port, host, retries - 1);
      } else stats.sendErrors++;
    });
  };
  return {
    name: "node",
    localAddr: { host: opts.bind.host, port: bound.port },
    stats,
    sendPacket(to: Address, bytes: Uint8Array): void {
      if (closed) return;
      try {
        // A dual-stack "::" socket reaches IPv4 peers by their mapped address.
        const host = family === "udp6" && isIPv4(to.host)
          ? `::ffff:${to.host}`
          : to.host;
        send(bytes, to.port, host, 3);
        stats.packetsSent++;
      } catch {
        stats.sendErrors++;
      }
    },
    dial(to, dialOpts): Promise<TransportConn> {
      if (closed) return Promise.reject(dialClosedError(to));
      return guardDial(
        to,
        dialOpts,
        (signal) =>
          new Promise<Socket>((resolve, reject) => {
            const s = connect({
              host: to.host,
              port: to.port,
              allowHalfOpen: true,
            });
            const abort = (): void => void s.destroy(signal.reason);
            signal.addEventListener("abort", abort, { once: true });
            s.once("error", reject).once("connect", () => {
              signal.removeEventListener("abort", abort);
              s.off("error", reject);
              resolve(s);
            });
          }),
        (s) => s.destroy(),
      ).then((s) => {
        if (closed) {
          s.destroy();
          throw dialClosedError(to);
        }
        stats.streamsDialed++;
        return wrapSocket(s, to, conns, dialOpts?.signal);
      });
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const c of [...conns]) c.close();
      await Promise.all([
        new Promise<void>((r) => udp.close(() => r())),
        new Promise<void>((r) => bound.tcp.close(() => r())),
      ]);
    },
  };
}

function wrapSocket(
  s: Socket,
  remote: Address,
  conns: Set<TransportConn>,
  signal?: AbortSignal,
): SocketBridge {
  s.setNoDelay(true);
  let release = (): void => {};
  const bridge = bridgeSocket(
    {
      write: (chunk) => (s.write(chunk), chunk.length),
      blocked: () => s.writableNeedDrain,
      end: () => new Promise<void>((resolve) => void s.end(resolve)),
      destroy: () => void s.destroy(),
      pause: () => void s.pause(),
      resume: () => void s.resume(),
    },
    remote,
    () => release(),
  );
  release = trackConn(conns, bridge, signal);
  s.on(
    "data",
    (b: Uint8Array) =>
      bridge.push(new Uint8Array(b.buffer, b.byteOffset, b.length)),
  );
  s.on("end", () => bridge.pushEnd());
  s.on("drain", () => bridge.drained());
  s.on("error", (e) => bridge.closed(e));
  s.on("close", () => bridge.closed());
  return bridge;
}
