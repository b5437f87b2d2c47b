/**
 * Deno's native transport: `Deno.listenDatagram` for packets (3× the round
 * trips and 5× the packet rate of `node:dgram` on Deno, bench/transport/),
 * `Deno.listen`/`Deno.connect` for streams. `Deno.listenDatagram` needs
 * `--unstable-net` (or `"unstable": ["net"]` in deno.json); without it this
 * falls back to the `node:dgram` transport and says so once.
 *
 * Deno's types are declared structurally in `_deno_types.ts`, so the file
 * type-checks and publishes without Deno's type package.
 *
 * @module
 */

import {
  type Address,
  bindSamePort,
  DEFAULT_MAX_PACKET_BYTES,
  dialClosedError,
  guardDial,
  newStats,
  peerAddress,
  READ_AHEAD_BYTES,
  trackConn,
  type Transport,
  type TransportConn,
  type TransportOptions,
} from "../src/transport.ts";
import type { DenoNet, TcpConn } from "./_deno_types.ts";
import { logRecvBuffer, UDP_RECV_BUFFER_BYTES } from "./_recv_buffer.ts";

/** What the fallback prints, once per process. */
export const UNSTABLE_NET_NOTICE =
  'grapevine: Deno.listenDatagram is unavailable, using node:dgram (about 3× slower on Deno). Run with --unstable-net or add "unstable": ["net"] to deno.json';
let noticed = false;

/**
 * Bind a transport on Deno's native sockets, or on `node:dgram`/`node:net`
 * when `Deno.listenDatagram` is missing (no `--unstable-net`).
 * @param opts where to bind and whom to call
 * @returns the bound transport; its `name` says which ("deno" or "node")
 * @example
 * ```ts
 * import { denoTransport } from "./deno.ts";
 * const t = await denoTransport({
 *   bind: { host: "127.0.0.1", port: 0 },
 *   handlers: { packet: (b, from) => console.log(b.length, from), stream: (c) => c.close() },
 * });
 * console.log(t.name, t.localAddr.port);
 * await t.close();
 * ```
 */
export async function denoTransport(
  opts: TransportOptions,
): Promise<Transport> {
  const deno = (globalThis as { Deno?: DenoNet }).Deno;
  if (typeof deno?.listenDatagram !== "function") {
    if (!noticed) console.warn(UNSTABLE_NET_NOTICE);
    noticed = true;
    // Loaded only for the fallback: node:dgram and node:net cost ~6 MiB of
    // RSS on Deno (bench/idle/README.md).
    const { nodeTransport } = await import("./node.ts");
    return nodeTransport(opts);
  }
  const { handlers } = opts;
  const host = opts.bind.host;
  const max = opts.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  const stats = newStats();
  const conns = new Set<TransportConn>();
  let closed = false;
  const bound = await bindSamePort(
    opts.bind,
    (port) => {
      const s = deno.listenDatagram!({
        transport: "udp",
        hostname: host,
        port,
      });
      return { socket: s, port: s.addr.port, close: () => s.close() };
    },
    (port) => deno.listen({ transport: "tcp", hostname: host, port }),
  );
  const { udp, tcp } = bound;
  logRecvBuffer(raiseRecvBuffer(bound.port));
  // One extra byte tells a datagram longer than `max` from one of exactly `max`.
  const buf = new Uint8Array(max + 1);
  const receiving = loop(() => udp.receive(buf), ([data, from]) => {
    if (data.length > max) return void stats.packetsDropped++;
    stats.packetsReceived++;
    handlers.packet(data.slice(), peerAddress(from.hostname, from.port));
  }, () => closed);
  const accepting = loop(() => tcp.accept(), (c) => {
    if (closed) return c.close();
    stats.streamsAccepted++;
    handlers.stream(
      wrapTcp(c, peerAddress(c.remoteAddr.hostname, c.remoteAddr.port), conns),
    );
  }, () => closed);
  return {
    name: "deno",
    localAddr: { host, port: bound.port },
    stats,
    sendPacket(to: Address, bytes: Uint8Array): void {
      if (closed) return;
      stats.packetsSent++;
      udp.send(bytes, { transport: "udp", hostname: to.host, port: to.port })
        .catch(() => stats.sendErrors++);
    },
    async dial(to, dialOpts): Promise<TransportConn> {
      if (closed) throw dialClosedError(to);
      const c = await guardDial(
        to,
        dialOpts,
        (signal) => deno.connect({ hostname: to.host, port: to.port, signal }),
        (c) => c.close(),
      );
      if (closed) {
        c.close();
        throw dialClosedError(to);
      }
      stats.streamsDialed++;
      return wrapTcp(c, to, conns, dialOpts?.signal);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const c of [...conns]) c.close();
      udp.close();
      tcp.close();
      // A pending receive()/accept() holds its socket open until the op ends:
      // wait for the loops, so the port is free once close() resolves.
      await Promise.allSettled([receiving, accepting]);
    },
  };
}

// Drive an accept/receive loop until the socket closes. An error while open
// (EMFILE, say) backs off briefly instead of spinning.
async function loop<T>(
  next: () => Promise<T>,
  each: (v: T) => void,
  closed: () => boolean,
): Promise<void> {
  for (;;) {
    let v: T;
    try {
      v = await next();
    } catch {
      if (closed()) return;
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    each(v);
  }
}

// Deno's own conn.readable closes the whole socket at EOF and its writable's
// close() does too, which would break half-close (write a request, FIN, read
// the reply). So the streams are built on read/write/closeWrite.
function wrapTcp(
  tcp: TcpConn,
  remote: Address,
  conns: Set<TransportConn>,
  signal?: AbortSignal,
): TransportConn {
  tcp.setNoDelay(true);
  let open = true;
  const scratch = new Uint8Array(READ_AHEAD_BYTES);
  const close = (): void => {
    if (!open) return;
    open = false;
    tcp.close();
    release();
  };
  const conn: TransportConn = {
    // highWaterMark 0: read only when asked, so a slow reader stalls the peer.
    readable: new ReadableStream<Uint8Array>({
      async pull(c): Promise<void> {
        try {
          const n = await tcp.read(scratch);
          if (n === null) c.close();
          else c.enqueue(scratch.slice(0, n));
        } catch (e) {
          // Our own close() interrupts the read: that is an end, not an error.
          if (open) c.error(e);
          else c.close();
        }
      },
      cancel: close,
    }, { highWaterMark: 0 }),
    writable: new WritableStream<Uint8Array>({
      async write(chunk): Promise<void> {
        for (let off = 0; off < chunk.length;) {
          off += await tcp.write(chunk.subarray(off));
        }
      },
      close: () => tcp.closeWrite(),
      abort: close,
    }),
    remote,
    close,
  };
  const release = trackConn(conns, conn, signal);
  return conn;
}

// UDP_RECV_BUFFER_BYTES (memberlist's setUDPRecvBuf): `Deno.listenDatagram`
// has no option and exposes no fd (and Deno's `node:dgram`
// `setRecvBufferSize` reports the size without applying it: `ss -uam` shows
// the default), so on Linux find the socket's fd through /proc and set
// SO_RCVBUF with `Deno.dlopen`. Best effort: without --allow-ffi/--allow-read,
// or off Linux, the kernel default stays.

// The slice of Deno's FFI and file APIs used here, declared structurally.
interface DenoFfi {
  build: { os: string };
  permissions: {
    querySync(d: { name: string; path?: string }): { state: string };
  };
  dlopen(path: string, symbols: Record<string, unknown>): {
    symbols: {
      setsockopt(
        fd: number,
        level: number,
        name: number,
        value: Int32Array,
        len: number,
      ): number;
    };
    close(): void;
  };
  readTextFileSync(path: string): string;
  readDirSync(path: string): Iterable<{ name: string }>;
  readLinkSync(path: string): string;
}

function raiseRecvBuffer(port: number): number {
  const deno = (globalThis as unknown as { Deno?: DenoFfi }).Deno;
  if (deno?.build.os !== "linux" || typeof deno.dlopen !== "function") return 0;
  // Never prompt for these permissions: the larger buffer is an optimisation.
  const granted = (d: { name: string; path?: string }): boolean =>
    deno.permissions.querySync(d).state === "granted";
  if (!granted({ name: "ffi" }) || !granted({ name: "read", path: "/proc" })) {
    return 0;
  }
  try {
    // Every UDP socket on this port (any address), then those that are ours.
    const hexPort = ":" + port.toString(16).toUpperCase().padStart(4, "0");
    const inodes = new Set<string>();
    for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
      for (const line of deno.readTextFileSync(table).split("\n").slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length > 9 && f[1].endsWith(hexPort)) inodes.add(f[9]);
      }
    }
    const fds: number[] = [];
    for (const e of deno.readDirSync("/proc/self/fd")) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(
          deno.readLinkSync(`/proc/self/fd/${e.name}`),
        );
        if (m !== null && inodes.has(m[1])) fds.push(Number(e.name));
      } catch {
        // An fd closed while listing.
      }
    }
    if (fds.length === 0) return 0;
    const lib = deno.dlopen("libc.so.6", {
      setsockopt: {
        parameters: ["i32", "i32", "i32", "buffer", "u32"],
        result: "i32",
      },
    });
    let got = 0;
    for (let size = UDP_RECV_BUFFER_BYTES; size > 0 && got === 0; size >>= 1) {
      // SOL_SOCKET = 1, SO_RCVBUF = 8 on Linux.
      const v = new Int32Array([size]);
      if (fds.every((fd) => lib.symbols.setsockopt(fd, 1, 8, v, 4) === 0)) {
        got = size;
      }
    }
    lib.close();
    return got;
  } catch {
    // No --allow-ffi / --allow-read, or no glibc: the kernel default stays.
    return 0;
  }
}
