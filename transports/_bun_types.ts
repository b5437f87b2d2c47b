/**
 * The few Bun socket types the Bun adapter uses, declared structurally so
 * the repo type-checks and publishes without Bun's type package (hono's way).
 * Their behaviour on Bun 1.4.5 is pinned by tests/transports/bun_test.ts.
 *
 * @module
 */

import type { SocketBridge } from "../src/transport.ts";

/** A bound `Bun.udpSocket`. */
export interface UdpSocket {
  /** The bound port. */
  readonly port: number;
  /** Send one datagram; false when the send buffer is full (not sent, `drain` follows). Throws on a bad address or size. */
  send(data: Uint8Array, port: number, address: string): boolean;
  /** Close the socket. */
  close(): void;
}

/** A `Bun.listen`/`Bun.connect` socket. */
export interface TcpSocket {
  /** Per-socket state: the adapter keeps the socket's bridge here. */
  data: { bridge?: SocketBridge; release?: () => void };
  /** The peer's IP. */
  readonly remoteAddress: string;
  /** The peer's port. */
  readonly remotePort: number;
  /** Write what the kernel takes now; returns that many bytes (maybe fewer, then `drain`). */
  write(data: Uint8Array): number;
  /** Half-close: FIN; reads go on (with `allowHalfOpen`). */
  shutdown(): void;
  /** Close gracefully (FIN, release). `terminate()` would reset instead. */
  end(): void;
  /** Stop reading. */
  pause(): void;
  /** Read again. */
  resume(): void;
  /** Disable Nagle's algorithm. */
  setNoDelay(on: boolean): boolean;
}

/** Bun's per-listener (not per-socket) TCP callbacks. */
export interface TcpHandlers {
  /** Connected. */
  open(s: TcpSocket): void;
  /** Bytes arrived (a Buffer on client sockets, whatever `binaryType` says). */
  data(s: TcpSocket, d: Uint8Array): void;
  /** The socket takes writes again. */
  drain(s: TcpSocket): void;
  /** The peer half-closed. */
  end(s: TcpSocket): void;
  /** The socket closed; `err` if it failed. */
  close(s: TcpSocket, err?: Error): void;
  /** The socket failed. */
  error(s: TcpSocket, err: Error): void;
}

/** Options of `Bun.listen` and `Bun.connect` that the adapter passes. */
export interface TcpOptions {
  /** IP literal. */
  hostname: string;
  /** Port. */
  port: number;
  /** Keep writing after the peer's FIN (half-close). */
  allowHalfOpen: true;
  /** The callbacks. */
  socket: TcpHandlers;
}

/** The part of the `Bun` global the adapter uses. */
export interface BunNet {
  /** Bind a UDP socket. */
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
  /** Listen on TCP; throws (EADDRINUSE) synchronously. */
  listen(o: TcpOptions): { stop(closeActive: boolean): void };
  /** Connect over TCP; cannot be cancelled. */
  connect(o: TcpOptions): Promise<TcpSocket>;
}
