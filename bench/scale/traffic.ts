/**
 * Byte accounting by kind of traffic, shared by the scale benches: the
 * simulator's machines (their `pollTransmit` is wrapped) and real sockets
 * (a {@linkcode TransportFactory} wrapper) classify the same plaintext bytes
 * the same way, so their figures compare directly.
 *
 * Kinds (memberlist's message types, SPEC §2.1):
 * - `probe`: ping, indirect ping, ack, nack (SWIM §3.1 failure detection;
 *   Serf's Vivaldi coordinates ride in ping/ack payloads).
 * - `gossip`: alive, suspect, dead, and user messages (Serf's intents,
 *   events and queries piggyback as memberlist user messages).
 * - `pushPull`: TCP streams whose message is a push-pull (type 6), the
 *   request and the reply (SWIM has none; memberlist's anti-entropy).
 * - `streamOther`: any other stream (TCP ping fallback, stream user
 *   messages).
 *
 * A packet's bytes are the bytes handed to the socket: CRC, compound and
 * compression overhead included, split over its messages in proportion to
 * their sizes (a ping with piggybacked alives counts partly as probe, partly
 * as gossip). UDP/IP and TCP/IP headers are not counted (the simulator has
 * none); add 28 bytes per packet for IPv4 UDP on the wire.
 *
 * @module
 */

import { unwrapPacket } from "../../src/codec/packet.ts";
import { decodeCompress, MessageType } from "../../src/codec/messages.ts";
import { MsgpackReader } from "../../src/codec/msgpack.ts";
import type { Machine, Transmit } from "../../src/machine.ts";
import type {
  Transport,
  TransportConn,
  TransportFactory,
  TransportOptions,
} from "../../src/transport.ts";

/** Kinds of traffic, see the module doc. */
export type TrafficKind = "probe" | "gossip" | "pushPull" | "streamOther";

/** All kinds, in report order. */
export const TRAFFIC_KINDS: readonly TrafficKind[] = [
  "probe",
  "gossip",
  "pushPull",
  "streamOther",
];

/** Counters of one {@linkcode Traffic}. */
export interface TrafficCounts {
  /** Bytes sent, by kind. */
  bytes: Record<TrafficKind, number>;
  /** UDP packets sent. */
  packets: number;
  /** Push-pull exchanges started (dials carrying a push-pull). */
  pushPulls: number;
  /** Streams of other kinds started. */
  otherStreams: number;
}

/** Zeroed counters. */
export function emptyCounts(): TrafficCounts {
  return {
    bytes: { probe: 0, gossip: 0, pushPull: 0, streamOther: 0 },
    packets: 0,
    pushPulls: 0,
    otherStreams: 0,
  };
}

/**
 * The difference of two snapshots, `after − before`.
 *
 * @param after later snapshot
 * @param before earlier snapshot
 * @returns the counts in between
 */
export function diffCounts(
  after: TrafficCounts,
  before: TrafficCounts,
): TrafficCounts {
  const out = emptyCounts();
  for (const k of TRAFFIC_KINDS) {
    out.bytes[k] = after.bytes[k] - before.bytes[k];
  }
  out.packets = after.packets - before.packets;
  out.pushPulls = after.pushPulls - before.pushPulls;
  out.otherStreams = after.otherStreams - before.otherStreams;
  return out;
}

function probeType(t: number): boolean {
  return t === MessageType.ping || t === MessageType.indirectPing ||
    t === MessageType.ack || t === MessageType.nack;
}

/**
 * The memberlist message type of a stream message, looking inside LZW
 * compression without decompressing: Go's `compress/lzw` writer (LSB order,
 * 8-bit literals) emits a 9-bit clear code first, then the first byte as a
 * 9-bit literal, so that byte is bits 9–16 of the stream.
 *
 * @param bytes the stream message (or its first chunk)
 * @returns the type byte, or -1 when it cannot be told
 */
export function streamType(bytes: Uint8Array): number {
  if (bytes.length === 0) return -1;
  if (bytes[0] !== MessageType.compress) return bytes[0];
  try {
    const buf = decodeCompress(new MsgpackReader(bytes, 1)).buf;
    if (buf.length < 3) return -1;
    return ((buf[1] >> 1) | ((buf[2] & 1) << 7)) & 0xff;
  } catch {
    return -1;
  }
}

/** Counts bytes by kind; one per cluster or per process. */
export class Traffic {
  readonly #c: TrafficCounts = emptyCounts();

  /** A copy of the counters. */
  snapshot(): TrafficCounts {
    return {
      bytes: { ...this.#c.bytes },
      packets: this.#c.packets,
      pushPulls: this.#c.pushPulls,
      otherStreams: this.#c.otherStreams,
    };
  }

  /**
   * Count one packet handed to the socket.
   *
   * @param bytes the plaintext packet
   */
  packet(bytes: Uint8Array): void {
    this.#c.packets++;
    let probe = 0;
    let other = 0;
    try {
      const { messages } = unwrapPacket(bytes);
      for (const m of messages) {
        if (probeType(m[0])) probe += m.length;
        else other += m.length;
      }
    } catch {
      other = 1;
    }
    const total = probe + other;
    const p = total === 0 ? 0 : (bytes.length * probe) / total;
    this.#c.bytes.probe += p;
    this.#c.bytes.gossip += bytes.length - p;
  }

  /**
   * Count one stream message (a dial's request or an inbound stream's
   * reply).
   *
   * @param bytes the message (or its first chunk, then `more` for the rest)
   * @param dial whether this opens an exchange (counted once per exchange)
   * @returns the kind it was counted as
   */
  stream(bytes: Uint8Array, dial: boolean): TrafficKind {
    const kind: TrafficKind = streamType(bytes) === MessageType.pushPull
      ? "pushPull"
      : "streamOther";
    this.#c.bytes[kind] += bytes.length;
    if (dial && kind === "pushPull") this.#c.pushPulls++;
    else if (dial) this.#c.otherStreams++;
    return kind;
  }

  /**
   * Count more bytes of a stream already classified.
   *
   * @param kind its kind
   * @param length bytes
   */
  more(kind: TrafficKind, length: number): void {
    this.#c.bytes[kind] += length;
  }

  /**
   * Count a transmit a machine queued (the simulator's view).
   *
   * @param t the transmit
   */
  transmit(t: Transmit): void {
    if (t.kind === "packet") this.packet(t.bytes);
    else if (t.kind === "dial") this.stream(t.bytes, true);
    else if (t.bytes !== null) this.stream(t.bytes, false);
  }
}

/**
 * Wrap a machine's `pollTransmit` so every transmit it queues is counted
 * (the simulator drains it after every call, so nothing is missed).
 *
 * @param machine a machine (Memberlist or Serf)
 * @param traffic where to count
 */
export function countTransmits<E>(
  machine: Machine<E>,
  traffic: Traffic,
): void {
  const poll = machine.pollTransmit.bind(machine);
  machine.pollTransmit = (): Transmit | undefined => {
    const t = poll();
    if (t !== undefined) traffic.transmit(t);
    return t;
  };
}

// A writable that counts what goes through it: the first chunk decides the
// stream's kind, later chunks add to it.
function countingWritable(
  inner: WritableStream<Uint8Array>,
  traffic: Traffic,
  dial: boolean,
): WritableStream<Uint8Array> {
  let writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  let kind: TrafficKind | null = null;
  const w = (): WritableStreamDefaultWriter<Uint8Array> =>
    writer ??= inner.getWriter();
  return new WritableStream<Uint8Array>({
    write(chunk): Promise<void> {
      if (kind === null) kind = traffic.stream(chunk, dial);
      else traffic.more(kind, chunk.length);
      return w().write(chunk);
    },
    close(): Promise<void> {
      return w().close();
    },
    abort(reason): Promise<void> {
      return w().abort(reason);
    },
  });
}

function countingConn(
  conn: TransportConn,
  traffic: Traffic,
  dial: boolean,
): TransportConn {
  return {
    readable: conn.readable,
    writable: countingWritable(conn.writable, traffic, dial),
    remote: conn.remote,
    close: () => conn.close(),
  };
}

/**
 * A transport factory that counts every byte its transports send: packets
 * as they are handed to the socket, streams as they are written (dialed
 * ones open an exchange, accepted ones carry replies).
 *
 * @param inner the real factory
 * @param traffic where to count
 * @returns the counting factory
 */
export function countingTransport(
  inner: TransportFactory,
  traffic: Traffic,
): TransportFactory {
  return async (opts: TransportOptions): Promise<Transport> => {
    const t = await inner({
      ...opts,
      handlers: {
        packet: opts.handlers.packet,
        stream: (conn) =>
          opts.handlers.stream(countingConn(conn, traffic, false)),
      },
    });
    return {
      name: t.name,
      localAddr: t.localAddr,
      stats: t.stats,
      sendPacket(to, bytes): void {
        traffic.packet(bytes);
        t.sendPacket(to, bytes);
      },
      async dial(to, o): Promise<TransportConn> {
        return countingConn(await t.dial(to, o), traffic, true);
      },
      close: () => t.close(),
    };
  };
}
