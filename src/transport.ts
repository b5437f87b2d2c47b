/**
 * The contract between the driver and a runtime's sockets
 * (ARCHITECTURE §5 "Adapters only translate"), plus the few helpers the
 * adapters share so that each stays a thin translation.
 *
 * A transport has two planes on ONE port number, as memberlist binds UDP and
 * TCP on the same port:
 * - a best-effort packet plane: {@linkcode Transport.sendPacket} out,
 *   {@linkcode TransportHandlers.packet} in;
 * - a reliable stream plane: {@linkcode Transport.dial} out,
 *   {@linkcode TransportHandlers.stream} in, each connection a web
 *   `ReadableStream`/`WritableStream` pair.
 *
 * Transports move bytes only. Framing, labels and encryption live in the
 * driver's seal stage, never here. Addresses are IP literals: the driver
 * resolves host names before calling {@linkcode Transport.sendPacket} or
 * {@linkcode Transport.dial}.
 *
 * Byte ownership: a `Uint8Array` handed to `sendPacket` or written to a
 * connection may be read by the transport until the send completes, so the
 * caller must not change it afterwards. Bytes handed to the handlers or read
 * from a connection belong to the receiver.
 *
 * @module
 */

import { ClosedError } from "./errors.ts";
import type { Address } from "./machine.ts";

export type { Address };

/** A reliable, ordered byte stream to one peer (a TCP connection). */
export interface TransportConn {
  /**
   * Bytes from the peer. Ends (`done`) when the peer half-closes or closes,
   * or after {@linkcode TransportConn.close}; errors on a reset. Reads are
   * pulled: a slow reader stops the socket's reads, so the peer's writes
   * wait (TCP flow control).
   */
  readonly readable: ReadableStream<Uint8Array>;
  /**
   * Bytes to the peer. A write resolves once the socket has taken the bytes
   * and has room for more, so `await writer.write(x)` is backpressure.
   * `close()` half-closes (sends FIN) after pending writes and leaves
   * `readable` open; `abort()` is {@linkcode TransportConn.close}.
   */
  readonly writable: WritableStream<Uint8Array>;
  /** The peer's address as the socket reports it. */
  readonly remote: Address;
  /**
   * Close both directions now and release the socket. Idempotent. Later
   * writes reject; reads end once already-buffered chunks are consumed.
   * Bytes not yet handed to the OS are dropped: to deliver everything,
   * `await writer.close()` first (the driver's reply does).
   */
  close(): void;
}

/** What a transport calls when something arrives. */
export interface TransportHandlers {
  /**
   * One datagram arrived. `bytes` is the receiver's own copy. Called from
   * the socket's receive event: must not block, and must not throw (an
   * exception escapes to the runtime as an uncaught error).
   */
  packet(bytes: Uint8Array, from: Address): void;
  /**
   * A peer connected. The handler owns `conn` and must close it; the
   * transport's {@linkcode Transport.close} closes it too. Must not throw.
   */
  stream(conn: TransportConn): void;
}

/** Options for {@linkcode Transport.dial}. */
export interface DialOptions {
  /**
   * Aborting rejects a pending dial with `signal.reason`. Like `fetch`, the
   * signal also bounds the connection: aborting after the dial resolved
   * closes the connection (the driver uses this for its reply timeout).
   */
  signal?: AbortSignal;
  /**
   * Bound on connecting (not on the connection's life), in ms; default
   * {@linkcode DEFAULT_DIAL_TIMEOUT_MS}.
   */
  timeoutMs?: number;
}

/** Counters every transport keeps; they only grow. */
export interface TransportStats {
  /** Datagrams handed to the socket. */
  packetsSent: number;
  /** Datagrams delivered to {@linkcode TransportHandlers.packet}. */
  packetsReceived: number;
  /** Datagrams that arrived but were dropped: larger than `maxPacketBytes`. */
  packetsDropped: number;
  /** Datagrams the socket refused (bad address, too large, buffer full). */
  sendErrors: number;
  /** Inbound connections handed to {@linkcode TransportHandlers.stream}. */
  streamsAccepted: number;
  /** Outbound connections established by {@linkcode Transport.dial}. */
  streamsDialed: number;
}

/** One bound UDP + TCP port pair on one runtime. */
export interface Transport {
  /** Which adapter: "deno", "bun", "node" or "memory". */
  readonly name: string;
  /** The bound address; the real port when bound to port 0. */
  readonly localAddr: Address;
  /**
   * Send one datagram to `to` (an IP literal). Best effort: never throws on
   * network errors (they count in {@linkcode TransportStats.sendErrors}); a
   * no-op after {@linkcode Transport.close}.
   */
  sendPacket(to: Address, bytes: Uint8Array): void;
  /**
   * Open a stream to `to` (an IP literal). Rejects with an `Error` saying
   * why ("Cannot dial 10.0.0.1:7946: …"), with `signal.reason` when aborted.
   */
  dial(to: Address, opts?: DialOptions): Promise<TransportConn>;
  /**
   * Close the sockets, the listener and every open connection, and abort
   * pending dials. Leaves no timers or handles, so the process can exit.
   * Idempotent.
   */
  close(): Promise<void>;
  /** Counters, live. */
  readonly stats: TransportStats;
}

/** What every {@linkcode TransportFactory} takes. */
export interface TransportOptions {
  /**
   * Where to bind UDP and TCP; port 0 picks a free port that is free for
   * both. Host "0.0.0.0" or "::" binds every interface.
   */
  bind: Address;
  /** Called for each datagram and each inbound connection. */
  handlers: TransportHandlers;
  /**
   * Largest datagram accepted, in bytes; longer ones are dropped and counted.
   * Default {@linkcode DEFAULT_MAX_PACKET_BYTES}.
   */
  maxPacketBytes?: number;
}

/** Binds a transport; rejects with an `Error` saying what could not bind. */
export type TransportFactory = (opts: TransportOptions) => Promise<Transport>;

/** Default {@linkcode TransportOptions.maxPacketBytes}: any UDP datagram. */
export const DEFAULT_MAX_PACKET_BYTES = 65536;
/** Default {@linkcode DialOptions.timeoutMs}: memberlist's TCPTimeout. */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000;
/** Bytes a connection reads ahead of a slow reader before pausing the socket. */
export const READ_AHEAD_BYTES = 64 * 1024;
// Retries when port 0's UDP port is taken for TCP (rare: another process).
const BIND_ATTEMPTS = 8;

/** Fresh zeroed counters. */
export function newStats(): TransportStats {
  return {
    packetsSent: 0,
    packetsReceived: 0,
    packetsDropped: 0,
    sendErrors: 0,
    streamsAccepted: 0,
    streamsDialed: 0,
  };
}

/**
 * "host:port", with brackets around IPv6 literals ("[::1]:7946").
 * @param a the address
 * @returns its text
 */
export function addressText(a: Address): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * A socket's view of a peer, with IPv4-mapped IPv6 ("::ffff:10.0.0.1", seen
 * on dual-stack sockets) written as plain IPv4 so members compare equal.
 * @param host the host as the socket reported it
 * @param port the port
 * @returns the address
 */
export function peerAddress(host: string, port: number): Address {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return { host: v4 ? v4[1] : host, port };
}

/** A bound UDP socket, as {@linkcode bindSamePort} needs it. */
export interface Bound<U> {
  /** The runtime's socket. */
  socket: U;
  /** The port it got. */
  port: number;
  /** Unbind it (a retry with a new port follows). */
  close(): void;
}

/**
 * The error of a dial on a closed transport.
 * @param to where the dial went
 * @returns a {@linkcode ClosedError} saying so
 */
export function dialClosedError(to: Address): Error {
  return new ClosedError(`Cannot dial ${addressText(to)}: transport is closed`);
}

/**
 * Bind UDP then TCP on the same port. With port 0, UDP picks the port and TCP
 * follows; if TCP finds it taken, both retry on a new port.
 * @param bind where to bind
 * @param udp binds UDP on a port (0: any), returning the socket and its port
 * @param tcp binds TCP on exactly that port; may throw or reject
 * @returns both sockets and the shared port
 */
export async function bindSamePort<U, T>(
  bind: Address,
  udp: (port: number) => Bound<U> | Promise<Bound<U>>,
  tcp: (port: number) => T | Promise<T>,
): Promise<{ udp: U; tcp: T; port: number }> {
  for (let attempt = 1;; attempt++) {
    let u;
    try {
      u = await udp(bind.port);
    } catch (e) {
      throw bindError(bind, "UDP", e);
    }
    try {
      return { udp: u.socket, tcp: await tcp(u.port), port: u.port };
    } catch (e) {
      u.close();
      const inUse = /EADDRINUSE|AddrInUse|in use/i.test(
        `${(e as { code?: string }).code} ${(e as Error).name} ${e}`,
      );
      if (bind.port !== 0 || !inUse || attempt >= BIND_ATTEMPTS) {
        throw bindError({ host: bind.host, port: u.port }, "TCP", e);
      }
    }
  }
}

function bindError(a: Address, what: string, cause: unknown): Error {
  return new Error(
    `Cannot bind ${what} on ${addressText(a)}: ${reason(cause)}`,
    { cause },
  );
}

/**
 * Run a runtime's connect under the dial's timeout and signal. `connect` gets
 * a signal that aborts on either, and should stop connecting then; if it
 * cannot (Bun), a connection that still arrives is handed to `discard`.
 * @param to the destination, for error messages
 * @param opts the caller's dial options
 * @param connect the runtime's connect
 * @param discard closes a connection nobody waits for any more
 * @returns the connection
 */
export function guardDial<C>(
  to: Address,
  opts: DialOptions | undefined,
  connect: (signal: AbortSignal) => Promise<C>,
  discard: (c: C) => void,
): Promise<C> {
  const user = opts?.signal;
  if (user?.aborted) return Promise.reject(user.reason);
  const ms = opts?.timeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
  const ac = new AbortController();
  const onAbort = (): void => ac.abort(user?.reason);
  user?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(
    () =>
      ac.abort(
        new Error(
          `Cannot dial ${addressText(to)}: no connection within ${ms} ms`,
        ),
      ),
    ms,
  );
  return new Promise<C>((resolve, reject) => {
    let settled = false;
    // Settle once, and drop the timer and listeners at once: a connect that
    // cannot be cancelled (Bun) must not keep the process alive.
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      user?.removeEventListener("abort", onAbort);
      ac.signal.removeEventListener("abort", abort);
      return true;
    };
    const abort = (): void => void (settle() && reject(ac.signal.reason));
    ac.signal.addEventListener("abort", abort, { once: true });
    let connecting: Promise<C>;
    try {
      connecting = connect(ac.signal);
    } catch (e) {
      connecting = Promise.reject(e); // bad port, say: still "Cannot dial"
    }
    connecting.then(
      (c) => settle() ? resolve(c) : discard(c),
      (e) =>
        settle() && reject(
          new Error(`Cannot dial ${addressText(to)}: ${reason(e)}`, {
            cause: e,
          }),
        ),
    );
  });
}

// The runtime's message, plus its code when the message lacks it (Bun says
// only "Failed to connect" and keeps ECONNREFUSED in `code`).
function reason(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && !e.message.includes(code)
    ? `${e.message} (${code})`
    : e.message;
}

/**
 * Track `conn` until it closes: `transport.close()` closes what `conns`
 * holds, and aborting the dial's signal closes `conn` (see
 * {@linkcode DialOptions.signal}).
 * @param conns the transport's open connections
 * @param conn the new connection
 * @param signal the dial's signal, if any
 * @returns what to call once `conn` closed
 */
export function trackConn(
  conns: Set<TransportConn>,
  conn: TransportConn,
  signal?: AbortSignal,
): () => void {
  conns.add(conn);
  const onAbort = (): void => conn.close();
  signal?.addEventListener("abort", onAbort, { once: true });
  return () => {
    conns.delete(conn);
    signal?.removeEventListener("abort", onAbort);
  };
}

/** What a callback-style socket (Bun, node:net, memory) offers the bridge. */
export interface SocketControl {
  /** Offer bytes; returns how many leading bytes the socket took. */
  write(chunk: Uint8Array): number;
  /** True while the socket wants no more bytes until it calls `drained()`. */
  blocked(): boolean;
  /** Half-close: FIN after the bytes already taken; settles once they are handed to the OS. */
  end(): Promise<void> | void;
  /** Close both directions now; must be idempotent. */
  destroy(): void;
  /** Stop reading: the reader is behind by {@linkcode READ_AHEAD_BYTES}. */
  pause(): void;
  /** Read again. */
  resume(): void;
}

/** A {@linkcode TransportConn} fed by a socket's callbacks. */
export interface SocketBridge extends TransportConn {
  /** The socket read bytes (the bridge keeps them; pass a copy if reused). */
  push(chunk: Uint8Array): void;
  /** The peer half-closed: the reader sees `done` after buffered chunks. */
  pushEnd(): void;
  /** The socket can take bytes again. */
  drained(): void;
  /** The socket closed by itself (`err` for a reset or failure). */
  closed(err?: Error): void;
}

/**
 * Bridge a callback-style socket to web streams with backpressure both ways:
 * writes wait while the socket is blocked; reads pause the socket once
 * {@linkcode READ_AHEAD_BYTES} wait unread.
 * @param ctl the socket's controls
 * @param remote the peer's address
 * @param onClose called once when the connection closes, for bookkeeping
 * @returns the connection plus the callbacks the adapter calls
 */
export function bridgeSocket(
  ctl: SocketControl,
  remote: Address,
  onClose: () => void,
): SocketBridge {
  let rc!: ReadableStreamDefaultController<Uint8Array>;
  let wc!: WritableStreamDefaultController;
  let readOpen = true;
  let open = true;
  let waiter: { resolve(): void; reject(e: Error): void } | undefined;
  // Settles a half-close that the socket would never finish once it died.
  let onShut!: (e: Error) => void;
  const shutPromise = new Promise<never>((_, reject) => onShut = reject);
  shutPromise.catch(() => {});
  const closedError = (): Error =>
    new Error(`Connection to ${addressText(remote)} closed`);
  const endRead = (err?: Error): void => {
    if (!readOpen) return;
    readOpen = false;
    try {
      err ? rc.error(err) : rc.close();
    } catch {
      // Already cancelled by the reader: nothing to end.
    }
  };
  const shut = (err?: Error): void => {
    if (!open) return;
    open = false;
    endRead(err);
    wc.error(err ?? closedError());
    waiter?.reject(err ?? closedError());
    waiter = undefined;
    onShut(err ?? closedError());
    ctl.destroy();
    onClose();
  };
  const write = async (chunk: Uint8Array): Promise<void> => {
    for (let off = 0;;) {
      if (!open) throw closedError();
      off += ctl.write(off === 0 ? chunk : chunk.subarray(off));
      if (off >= chunk.length && !ctl.blocked()) return;
      await new Promise<void>((resolve, reject) => {
        waiter = { resolve, reject };
      });
      if (off >= chunk.length) return;
    }
  };
  return {
    readable: new ReadableStream<Uint8Array>({
      start: (c) => void (rc = c),
      pull: () => ctl.resume(),
      cancel: () => shut(),
    }, { highWaterMark: READ_AHEAD_BYTES, size: (c) => c.byteLength }),
    writable: new WritableStream<Uint8Array>({
      start: (c) => void (wc = c),
      write,
      close: () => Promise.race([ctl.end(), shutPromise]),
      abort: () => shut(),
    }),
    remote,
    close: () => shut(),
    push(chunk: Uint8Array): void {
      if (!readOpen) return;
      rc.enqueue(chunk);
      if ((rc.desiredSize ?? 0) <= 0) ctl.pause();
    },
    pushEnd: () => endRead(),
    drained(): void {
      const w = waiter;
      waiter = undefined;
      w?.resolve();
    },
    closed: (err?: Error) => shut(err),
  };
}
