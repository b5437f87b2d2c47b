/**
 * The few Deno socket types the Deno adapter uses, declared structurally so
 * the repo type-checks, and publishes to JSR, without Deno's type package.
 *
 * @module
 */

/** A socket address. */
export interface NetAddr {
  /** IP literal. */
  hostname: string;
  /** Port. */
  port: number;
}

/** A bound `Deno.listenDatagram` socket. */
export interface DatagramConn {
  /** The bound address. */
  readonly addr: NetAddr;
  /** Receive one datagram into `p` (truncated to its length). */
  receive(p: Uint8Array): Promise<[Uint8Array, NetAddr]>;
  /** Send one datagram; rejects on a bad address or size. */
  send(p: Uint8Array, to: NetAddr & { transport: "udp" }): Promise<number>;
  /** Close; pending receives reject. */
  close(): void;
}

/** A `Deno.TcpConn`, used through read/write (see the adapter for why). */
export interface TcpConn {
  /** The peer's address. */
  readonly remoteAddr: NetAddr;
  /** Read into `p`; null at the peer's FIN. */
  read(p: Uint8Array): Promise<number | null>;
  /** Write some of `p`; returns how much. */
  write(p: Uint8Array): Promise<number>;
  /** Half-close: FIN. */
  closeWrite(): Promise<void>;
  /** Close; pending reads reject. */
  close(): void;
  /** Disable Nagle's algorithm. */
  setNoDelay(on: boolean): void;
}

/** The part of the `Deno` global the adapter uses. */
export interface DenoNet {
  /** Bind UDP; missing without `--unstable-net`. */
  listenDatagram?(o: NetAddr & { transport: "udp" }): DatagramConn;
  /** Listen on TCP; throws (AddrInUse) synchronously. */
  listen(
    o: NetAddr & { transport: "tcp" },
  ): { accept(): Promise<TcpConn>; close(): void };
  /** Connect over TCP; the signal cancels connecting only. */
  connect(o: NetAddr & { signal: AbortSignal }): Promise<TcpConn>;
}
