/**
 * The RPC server's TCP listener on each runtime's native API: `Deno.listen`
 * on Deno, `Bun.listen` on Bun, `node:net` elsewhere. `node:net` costs
 * ~5–6 MiB of RSS to load on Deno and on Bun alike (bench/idle/README.md,
 * `import_cost.ts`), more than the RPC server itself; the native listeners
 * cost nothing the transport has not already paid.
 *
 * A socket has what the RPC connection uses of `net.Socket`: ordered
 * fire-and-forget writes with a count of unsent bytes, pause/resume of
 * reading (backpressure on requests), destroy, and one close notification.
 *
 * @module
 */

import type { Address } from "../machine.ts";

/** One accepted RPC connection. */
export interface RpcSocket {
  /** The client's IP. */
  readonly remoteAddress: string;
  /** The client's port. */
  readonly remotePort: number;
  /** Bytes written but not yet handed to the kernel. */
  readonly writableLength: number;
  /** Queue `bytes` for sending, in order (the socket keeps the array). */
  write(bytes: Uint8Array): void;
  /** Stop reading until {@linkcode RpcSocket.resume}. */
  pause(): void;
  /** Read again. */
  resume(): void;
  /** Close at once; `close` is then called (once). */
  destroy(): void;
}

/** What the listener calls for one connection. */
export interface RpcSocketHandlers {
  /** Bytes arrived (the chunk is the handler's to keep). */
  data(chunk: Uint8Array): void;
  /** The connection is closed, by either side; called once. */
  close(): void;
}

/** A listening RPC socket. */
export interface RpcListener {
  /** The bound address (the real port when bound to 0). */
  readonly address: Address;
  /** Stop listening (accepted connections are the caller's to close). */
  close(): Promise<void>;
}

/**
 * Called for each new connection: the handlers, or null to refuse it (the
 * listener closes it).
 */
export type RpcAccept = (socket: RpcSocket) => RpcSocketHandlers | null;

/**
 * Listen for RPC clients on `bind` with the runtime's native TCP API.
 *
 * @param bind where to listen (port 0 = any)
 * @param accept called for every connection
 * @returns the listener
 * @throws {Error} when the address cannot be bound
 */
export function listenRpc(
  bind: Address,
  accept: RpcAccept,
): Promise<RpcListener> {
  const g = globalThis as { Deno?: DenoTcp; Bun?: BunTcp };
  if (g.Deno !== undefined) {
    return Promise.resolve(denoListen(g.Deno, bind, accept));
  }
  if (g.Bun !== undefined) {
    return Promise.resolve(bunListen(g.Bun, bind, accept));
  }
  return nodeListen(bind, accept);
}

// ------------------------------------------------------------------- Deno

interface DenoConn {
  readonly remoteAddr: { hostname: string; port: number };
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

interface DenoTcp {
  listen(o: { hostname: string; port: number; transport: "tcp" }): {
    readonly addr: { hostname: string; port: number };
    accept(): Promise<DenoConn>;
    close(): void;
  };
}

const READ_CHUNK_BYTES = 64 * 1024;

function denoListen(
  deno: DenoTcp,
  bind: Address,
  accept: RpcAccept,
): RpcListener {
  const l = deno.listen({
    hostname: bind.host,
    port: bind.port,
    transport: "tcp",
  });
  let open = true;
  void (async () => {
    while (open) {
      let conn: DenoConn;
      try {
        conn = await l.accept();
      } catch {
        // Closed listener (or a transient accept error, which ends it too:
        // the agent keeps running without RPC, as serf's listener loop).
        return;
      }
      denoServe(conn, accept);
    }
  })();
  return {
    address: { host: l.addr.hostname, port: l.addr.port },
    close(): Promise<void> {
      if (open) {
        open = false;
        l.close();
      }
      return Promise.resolve();
    },
  };
}

function denoServe(conn: DenoConn, accept: RpcAccept): void {
  const queue: Uint8Array[] = [];
  let queued = 0;
  let writing = false;
  let closed = false;
  let paused = false;
  let wakeReader: (() => void) | null = null;
  let handlers: RpcSocketHandlers | null = null;
  const socket: RpcSocket = {
    remoteAddress: conn.remoteAddr.hostname,
    remotePort: conn.remoteAddr.port,
    get writableLength(): number {
      return queued;
    },
    write(bytes: Uint8Array): void {
      if (closed) return;
      queue.push(bytes);
      queued += bytes.length;
      if (!writing) void pump();
    },
    pause(): void {
      paused = true;
    },
    resume(): void {
      paused = false;
      const w = wakeReader;
      wakeReader = null;
      w?.();
    },
    destroy(): void {
      if (closed) return;
      closed = true;
      queue.length = 0;
      queued = 0;
      try {
        conn.close();
      } catch {
        // Already closed by the peer.
      }
      wakeReader?.();
      handlers?.close();
    },
  };
  const pump = async (): Promise<void> => {
    writing = true;
    try {
      while (queue.length > 0 && !closed) {
        const bytes = queue[0];
        for (let off = 0; off < bytes.length;) {
          off += await conn.write(bytes.subarray(off));
        }
        queue.shift();
        queued -= bytes.length;
      }
    } catch {
      socket.destroy();
    } finally {
      writing = false;
    }
  };
  handlers = accept(socket);
  if (handlers === null) {
    closed = true;
    conn.close();
    return;
  }
  void (async () => {
    const buf = new Uint8Array(READ_CHUNK_BYTES);
    try {
      while (!closed) {
        if (paused) {
          await new Promise<void>((r) => (wakeReader = r));
          continue;
        }
        const n = await conn.read(buf);
        if (n === null) break;
        handlers.data(buf.slice(0, n));
      }
    } catch {
      // Reset by the peer, or closed by destroy().
    }
    socket.destroy();
  })();
}

// -------------------------------------------------------------------- Bun

interface BunSocket {
  data: { rpc?: BunRpc };
  readonly remoteAddress: string;
  readonly remotePort: number;
  write(data: Uint8Array): number;
  end(): void;
  pause(): void;
  resume(): void;
}

interface BunSocketHandlers {
  open(s: BunSocket): void;
  data(s: BunSocket, d: Uint8Array): void;
  drain(s: BunSocket): void;
  close(s: BunSocket): void;
  error(s: BunSocket, err: Error): void;
}

interface BunTcp {
  listen(o: {
    hostname: string;
    port: number;
    socket: BunSocketHandlers;
  }): {
    readonly hostname: string;
    readonly port: number;
    stop(closeActive: boolean): void;
  };
}

/** One Bun connection's state: its write queue and handlers. */
interface BunRpc {
  socket: RpcSocket;
  handlers: RpcSocketHandlers;
  flush(): void;
  closed(): void;
}

// Bun shares one handler object among all sockets; the state is s.data.rpc.
const bunHandlers: BunSocketHandlers = {
  open(s: BunSocket): void {
    // Replaced per listener (it needs `accept`), see bunListen.
    s.end();
  },
  // Bun may reuse the chunk's memory after the callback: copy it.
  data: (s, d) => s.data.rpc?.handlers.data(new Uint8Array(d)),
  drain: (s) => s.data.rpc?.flush(),
  close: (s) => s.data.rpc?.closed(),
  error: (s) => s.data.rpc?.closed(),
};

function bunListen(bun: BunTcp, bind: Address, accept: RpcAccept): RpcListener {
  const server = bun.listen({
    hostname: bind.host,
    port: bind.port,
    socket: {
      ...bunHandlers,
      open(s: BunSocket): void {
        s.data ??= {};
        const rpc = bunConnection(s);
        const h = accept(rpc.socket);
        if (h === null) return s.end();
        rpc.handlers = h;
        s.data.rpc = rpc;
      },
    },
  });
  let open = true;
  return {
    address: { host: server.hostname, port: server.port },
    close(): Promise<void> {
      if (open) {
        open = false;
        server.stop(false);
      }
      return Promise.resolve();
    },
  };
}

function bunConnection(s: BunSocket): BunRpc {
  const queue: Uint8Array[] = [];
  let queued = 0;
  let closed = false;
  const rpc: BunRpc = {
    handlers: { data: () => {}, close: () => {} },
    socket: {
      remoteAddress: s.remoteAddress,
      remotePort: s.remotePort,
      get writableLength(): number {
        return queued;
      },
      write(bytes: Uint8Array): void {
        if (closed) return;
        queue.push(bytes);
        queued += bytes.length;
        if (queue.length === 1) rpc.flush();
      },
      pause: () => s.pause(),
      resume: () => s.resume(),
      destroy(): void {
        if (closed) return;
        s.end();
        rpc.closed();
      },
    },
    // Bun's write takes what the kernel takes now (partial writes); drain()
    // calls flush again when there is room.
    flush(): void {
      while (queue.length > 0 && !closed) {
        const head = queue[0];
        const n = Math.max(0, s.write(head));
        queued -= n;
        if (n < head.length) {
          queue[0] = head.subarray(n);
          return;
        }
        queue.shift();
      }
    },
    closed(): void {
      if (closed) return;
      closed = true;
      queue.length = 0;
      queued = 0;
      rpc.handlers.close();
    },
  };
  return rpc;
}

// ------------------------------------------------------------------- Node

async function nodeListen(
  bind: Address,
  accept: RpcAccept,
): Promise<RpcListener> {
  // Loaded only where there is no native listener (Node).
  const net = await import("node:net");
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(bind.port, bind.host, () => resolve());
  });
  server.on("connection", (s) => {
    let closed = false;
    const socket: RpcSocket = {
      remoteAddress: s.remoteAddress ?? "",
      remotePort: s.remotePort ?? 0,
      get writableLength(): number {
        return s.writableLength;
      },
      write: (bytes) => void s.write(bytes),
      pause: () => void s.pause(),
      resume: () => void s.resume(),
      destroy: () => void s.destroy(),
    };
    const h = accept(socket);
    if (h === null) return void s.destroy();
    s.on("data", (chunk: Uint8Array) => h.data(chunk));
    s.on("error", () => s.destroy());
    s.on("close", () => {
      if (closed) return;
      closed = true;
      h.close();
    });
  });
  const a = server.address() as { address: string; port: number };
  return {
    address: { host: a.address, port: a.port },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
