/**
 * A seeded lossy wrapper around any {@linkcode TransportFactory}, for real
 * socket clusters where netem/iptables are not available: each datagram,
 * inbound and outbound, is dropped with probability `lossRate` (drawn from
 * a seeded PRNG, so the sequence of drop decisions is reproducible even if
 * the socket timing is not), optionally delayed, and the whole member can
 * be "paused" — its sockets stop delivering and sending, as for a process
 * stopped by SIGSTOP or a long GC — and resumed.
 *
 * Streams (TCP) are never dropped: TCP retransmits under loss, so loss
 * shows up as latency there, not as missing bytes. While paused, dials
 * fail and inbound connections are closed (a stopped process neither
 * connects nor answers).
 *
 * @example
 * ```ts ignore
 * const lossy = lossyTransport(defaultTransport, { lossRate: 0.2, seed: 7 });
 * const node = await startMemberlist({ name: "a", bind: "127.0.0.1:0", transport: lossy });
 * lossy.pause(2_000); // deaf and mute for 2 s
 * ```
 *
 * @module
 */

import type {
  DialOptions,
  Transport,
  TransportConn,
  TransportFactory,
  TransportOptions,
  TransportStats,
} from "../transport.ts";
import type { Address } from "../machine.ts";
import { derivePrng } from "./prng.ts";

/** Options of {@linkcode lossyTransport}. */
export interface LossyTransportOptions {
  /** Probability in [0, 1) of dropping each datagram, each direction. */
  lossRate: number;
  /** Seed of the drop decisions. */
  seed: number;
  /** Added one-way delay of every datagram, in ms (default 0). */
  delayMs?: number;
  /** Uniform extra delay in [0, jitterMs) ms (default 0). */
  jitterMs?: number;
}

/** Counters of a {@linkcode lossyTransport}; they only grow. */
export interface LossyStats {
  /** Outbound datagrams that passed the loss draw. */
  passedOut: number;
  /** Inbound datagrams that passed the loss draw. */
  passedIn: number;
  /** Outbound datagrams dropped by the loss draw. */
  droppedOut: number;
  /** Inbound datagrams dropped by the loss draw. */
  droppedIn: number;
  /** Outbound datagrams dropped because the member was paused. */
  pausedOut: number;
  /** Inbound datagrams held while paused (delivered at resume). */
  heldIn: number;
  /** Inbound datagrams dropped because the held queue was full. */
  overflowIn: number;
  /** Dials refused and inbound connections closed while paused. */
  pausedStreams: number;
}

/** A transport factory with loss, pause and resume controls. */
export interface LossyTransportFactory extends TransportFactory {
  /**
   * Stop delivering and sending (every transport made by this factory).
   * Inbound datagrams wait in a bounded queue, as in a stopped process's
   * socket buffer, and are delivered at resume.
   *
   * @param ms resume by itself after this long (omit to stay paused)
   */
  pause(ms?: number): void;
  /** Resume: deliver the held datagrams, then carry traffic again. */
  resume(): void;
  /** Whether paused now. */
  readonly paused: boolean;
  /** Counters, live. */
  readonly lossStats: LossyStats;
}

/**
 * Datagrams held while paused, at most (a socket receive buffer of ~200 KB
 * holds a few hundred gossip packets; beyond that the kernel drops).
 */
export const MAX_HELD_PACKETS = 256;

/**
 * Wrap `inner` so that datagrams are lost with probability `lossRate`.
 *
 * @param inner the real transport factory (e.g. `defaultTransport`)
 * @param options loss rate, seed, optional delay
 * @returns a factory with `pause`/`resume` controls
 */
export function lossyTransport(
  inner: TransportFactory,
  options: LossyTransportOptions,
): LossyTransportFactory {
  if (!(options.lossRate >= 0 && options.lossRate < 1)) {
    throw new RangeError(
      `Invalid lossRate: ${options.lossRate} must be in [0, 1)`,
    );
  }
  const rng = derivePrng(options.seed, "lossy-transport");
  const delayMs = options.delayMs ?? 0;
  const jitterMs = options.jitterMs ?? 0;
  const stats: LossyStats = {
    passedOut: 0,
    passedIn: 0,
    droppedOut: 0,
    droppedIn: 0,
    pausedOut: 0,
    heldIn: 0,
    overflowIn: 0,
    pausedStreams: 0,
  };
  let paused = false;
  let resumeTimer: ReturnType<typeof setTimeout> | undefined;
  const held: { bytes: Uint8Array; from: Address; deliver: Deliver }[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();

  type Deliver = (bytes: Uint8Array, from: Address) => void;
  const later = (fn: () => void): void => {
    if (delayMs <= 0 && jitterMs <= 0) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, delayMs + rng.next() * jitterMs);
    timers.add(t);
  };

  const resume = (): void => {
    if (resumeTimer !== undefined) clearTimeout(resumeTimer);
    resumeTimer = undefined;
    if (!paused) return;
    paused = false;
    for (const h of held.splice(0)) h.deliver(h.bytes, h.from);
  };

  const factory = async (opts: TransportOptions): Promise<Transport> => {
    let closed = false;
    const deliver: Deliver = (bytes, from) => {
      if (!closed) opts.handlers.packet(bytes, from);
    };
    const t = await inner({
      ...opts,
      handlers: {
        packet(bytes: Uint8Array, from: Address): void {
          if (rng.next() < options.lossRate) {
            stats.droppedIn++;
            return;
          }
          stats.passedIn++;
          later(() => {
            if (!paused) return deliver(bytes, from);
            if (held.length >= MAX_HELD_PACKETS) {
              stats.overflowIn++;
              return;
            }
            stats.heldIn++;
            held.push({ bytes, from, deliver });
          });
        },
        stream(conn: TransportConn): void {
          if (paused) {
            stats.pausedStreams++;
            conn.close();
            return;
          }
          opts.handlers.stream(conn);
        },
      },
    });
    return {
      name: t.name,
      localAddr: t.localAddr,
      get stats(): TransportStats {
        return t.stats;
      },
      sendPacket(to: Address, bytes: Uint8Array): void {
        if (paused) {
          stats.pausedOut++;
          return;
        }
        if (rng.next() < options.lossRate) {
          stats.droppedOut++;
          return;
        }
        stats.passedOut++;
        later(() => {
          if (!closed) t.sendPacket(to, bytes);
        });
      },
      dial(to: Address, dialOpts?: DialOptions): Promise<TransportConn> {
        if (paused) {
          stats.pausedStreams++;
          return Promise.reject(
            new Error(`Cannot dial ${to.host}:${to.port}: paused`),
          );
        }
        return t.dial(to, dialOpts);
      },
      close(): Promise<void> {
        closed = true;
        for (const x of timers) clearTimeout(x);
        timers.clear();
        if (resumeTimer !== undefined) clearTimeout(resumeTimer);
        resumeTimer = undefined;
        held.length = 0;
        return t.close();
      },
    };
  };

  return Object.assign(factory, {
    pause(ms?: number): void {
      paused = true;
      if (resumeTimer !== undefined) clearTimeout(resumeTimer);
      resumeTimer = ms === undefined ? undefined : setTimeout(resume, ms);
    },
    resume,
    get paused(): boolean {
      return paused;
    },
    lossStats: stats,
  });
}
