/**
 * An in-process reference transport: no sockets, no timers. Packets are
 * copied and delivered in a microtask; streams are pairs of the same
 * backpressured web-stream bridge the socket adapters use. It keeps the
 * contract's semantics (port 0, closed ports, half-close, dial abort), so the
 * conformance suite runs against it like any adapter. For latency, loss and
 * partitions use the simulator in `src/testing/` instead.
 *
 * @module
 */

import {
  type Address,
  addressText,
  bridgeSocket,
  DEFAULT_MAX_PACKET_BYTES,
  dialClosedError,
  guardDial,
  newStats,
  type SocketBridge,
  trackConn,
  type Transport,
  type TransportConn,
  type TransportOptions,
  type TransportStats,
} from "../src/transport.ts";

// First port handed out for port 0, like an OS's ephemeral range.
const EPHEMERAL_PORT = 49152;

interface Endpoint {
  readonly conns: Set<TransportConn>;
  readonly max: number;
  readonly stats: TransportStats;
  readonly opts: TransportOptions;
}

/** The wire between memory transports: who is bound where. */
export class MemoryNetwork {
  readonly #bound = new Map<string, Endpoint>();
  readonly #blackholes = new Set<string>();

  /**
   * Bind a transport on this network; same as {@linkcode memoryTransport}.
   * @param opts where to bind and whom to call
   * @returns the bound transport
   */
  bind(opts: TransportOptions): Promise<Transport> {
    try {
      return Promise.resolve(this.#bind(opts));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Make `address` swallow packets and leave dials hanging (a firewall that
   * drops SYNs) until the returned function is called.
   * @param address the address to silence
   * @returns undoes it
   */
  blackhole(address: Address): () => void {
    const key = addressText(address);
    this.#blackholes.add(key);
    return () => void this.#blackholes.delete(key);
  }

  /** Addresses currently bound, for tests. */
  get addresses(): Address[] {
    return [...this.#bound.values()].map((e) => e.opts.bind);
  }

  #bind(opts: TransportOptions): Transport {
    let port = opts.bind.port;
    const keyOf = (p: number): string =>
      addressText({ host: opts.bind.host, port: p });
    if (port === 0) {
      for (port = EPHEMERAL_PORT; this.#bound.has(keyOf(port)); port++);
    } else if (this.#bound.has(keyOf(port))) {
      throw new Error(`Cannot bind ${keyOf(port)}: address in use`);
    }
    const localAddr = { host: opts.bind.host, port };
    const key = keyOf(port);
    const conns = new Set<TransportConn>();
    const me: Endpoint = {
      conns,
      max: opts.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES,
      stats: newStats(),
      opts: { ...opts, bind: localAddr },
    };
    this.#bound.set(key, me);
    const hole = (to: Address): boolean =>
      this.#blackholes.has(addressText(to));
    const lookup = (to: Address): Endpoint | undefined =>
      hole(to) ? undefined : this.#bound.get(addressText(to));
    let closed = false;
    return {
      name: "memory",
      localAddr,
      stats: me.stats,
      sendPacket(to: Address, bytes: Uint8Array): void {
        if (closed) return;
        me.stats.packetsSent++;
        const copy = bytes.slice(); // what the wire would do
        queueMicrotask(() => {
          const peer = lookup(to);
          if (peer === undefined) return;
          if (copy.length > peer.max) return void peer.stats.packetsDropped++;
          peer.stats.packetsReceived++;
          peer.opts.handlers.packet(copy, localAddr);
        });
      },
      dial(to, dialOpts): Promise<TransportConn> {
        if (closed) return Promise.reject(dialClosedError(to));
        return guardDial(to, dialOpts, () => {
          if (hole(to)) return new Promise<never>(() => {}); // SYN dropped
          const peer = lookup(to);
          if (peer === undefined) {
            return Promise.reject(new Error("connection refused"));
          }
          const [mine, theirs] = pipePair(localAddr, peer.opts.bind);
          mine.release = trackConn(conns, mine, dialOpts?.signal);
          theirs.release = trackConn(peer.conns, theirs);
          me.stats.streamsDialed++;
          peer.stats.streamsAccepted++;
          queueMicrotask(() => peer.opts.handlers.stream(theirs));
          return Promise.resolve(mine);
        }, (c) => c.close());
      },
      close: (): Promise<void> => {
        if (!closed) {
          closed = true;
          this.#bound.delete(key);
          for (const c of [...conns]) c.close();
        }
        return Promise.resolve();
      },
    };
  }
}

/**
 * Bind a transport on a {@linkcode MemoryNetwork}.
 * @param network the shared in-process network
 * @param opts where to bind and whom to call
 * @returns the bound transport
 * @example
 * ```ts
 * import { MemoryNetwork, memoryTransport } from "./memory.ts";
 * const net = new MemoryNetwork();
 * const a = await memoryTransport(net, {
 *   bind: { host: "10.0.0.1", port: 7946 },
 *   handlers: { packet: (b, from) => console.log(b, from), stream: (c) => c.close() },
 * });
 * await a.close();
 * ```
 */
export function memoryTransport(
  network: MemoryNetwork,
  opts: TransportOptions,
): Promise<Transport> {
  return network.bind(opts);
}

type PipeEnd = SocketBridge & { release: () => void };

// Two bridged ends: bytes written on one are pushed (copied) into the other,
// whose slow reader pauses it, which blocks the writer (like a TCP window).
function pipePair(a: Address, b: Address): [PipeEnd, PipeEnd] {
  const ends: PipeEnd[] = [];
  const paused = [false, false];
  const make = (i: number, remote: Address): PipeEnd => {
    const peer = (): PipeEnd => ends[1 - i];
    const end: PipeEnd = Object.assign(
      bridgeSocket(
        {
          write(chunk): number {
            peer().push(chunk.slice());
            return chunk.length;
          },
          blocked: () => paused[1 - i],
          end: () => queueMicrotask(() => peer().pushEnd()),
          destroy: () => queueMicrotask(() => peer().closed()),
          pause: () => void (paused[i] = true),
          resume(): void {
            paused[i] = false;
            peer().drained();
          },
        },
        remote,
        () => end.release(),
      ),
      { release: () => {} },
    );
    return end;
  };
  ends.push(make(0, b), make(1, a));
  return [ends[0], ends[1]];
}
