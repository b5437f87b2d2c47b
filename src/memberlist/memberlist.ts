/**
 * The memberlist core: SWIM + Lifeguard as a pure synchronous state machine
 * (ARCHITECTURE principles 1, 2). Skeleton — being filled in.
 *
 * @module
 */

import type { Address, Machine, Transmit } from "../machine.ts";
import type { MemberlistConfig } from "../config.ts";
import type { Member, MemberlistEvent } from "../types.ts";
import type { MemberlistDelegate } from "./delegate.ts";

/** Options of a {@linkcode Memberlist} beyond its config. */
export interface MemberlistOptions {
  /** Uniform random numbers in [0, 1); the only source of randomness. */
  prng: () => number;
  /** Current time (ms, monotonic) at construction. */
  now: number;
  /** Hooks of the layer above (Serf). */
  delegate?: MemberlistDelegate;
  /** Bytes the host's seal stage adds to each packet (encryption + label). */
  sealOverheadBytes?: number;
  /** Address others should use; defaults to the config's advertise/bind. */
  advertise?: Address;
}

/** Counters of a {@linkcode Memberlist}, for `stats()`. */
export interface MemberlistStats {
  /** Packets handed to handlePacket. */
  packetsIn: number;
  /** Packet bytes handed to handlePacket. */
  bytesIn: number;
  /** Packets queued for sending. */
  packetsOut: number;
  /** Packet bytes queued for sending. */
  bytesOut: number;
  /** Streams handed to handleStream. */
  streamsIn: number;
  /** Dials queued. */
  streamsOut: number;
  /** Malformed input dropped, by reason. */
  decodeErrors: Map<string, number>;
  /** Well-formed input dropped, by reason (stale, unknown type, caps …). */
  dropped: Map<string, number>;
}

/** memberlist 0.2.2 as a pure state machine. */
export class Memberlist implements Machine<MemberlistEvent> {
  /**
   * @param config memberlist tunables (see `lanConfig`)
   * @param options randomness, start time, delegate, seal overhead
   */
  constructor(config: MemberlistConfig, options: MemberlistOptions) {
    void config;
    void options;
  }
  /** @inheritdoc */
  handlePacket(_bytes: Uint8Array, _from: Address, _now: number): void {}
  /** @inheritdoc */
  handleStream(
    _inboundId: number,
    _bytes: Uint8Array,
    _from: Address,
    _now: number,
  ): void {}
  /** @inheritdoc */
  handleStreamReply(
    _streamId: number,
    _result: Uint8Array | Error,
    _now: number,
  ): void {}
  /** @inheritdoc */
  handleTimeout(_now: number): void {}
  /** @inheritdoc */
  nextDeadline(): number | null {
    return null;
  }
  /** @inheritdoc */
  pollTransmit(): Transmit | undefined {
    return undefined;
  }
  /** @inheritdoc */
  pollEvent(): MemberlistEvent | undefined {
    return undefined;
  }
  /** Join through `seeds`; returns an op id completed by a `joinDone` event. */
  join(_seeds: Address[], _now: number): number {
    return 0;
  }
  /** Leave gracefully; returns an op id completed by a `leaveDone` event. */
  leave(_timeoutMs: number, _now: number): number {
    return 0;
  }
  /** Stop: no more transmits, deadlines or events. */
  shutdown(_now: number): void {}
  /** Every known member, any state, self included. */
  members(): Member[] {
    return [];
  }
  /** Members in state alive (self included). */
  aliveMembers(): Member[] {
    return [];
  }
  /** Ourselves. */
  localMember(): Member {
    throw new Error("Not implemented");
  }
  /** Alive members, self included. */
  numMembers(): number {
    return 0;
  }
  /** Lifeguard local health score (0 = healthy). */
  healthScore(): number {
    return 0;
  }
  /** Re-read delegate meta, bump incarnation and broadcast alive. */
  updateMeta(_now: number): void {}
  /** Queue a user broadcast (sent as a type-8 message). */
  queueBroadcast(_bytes: Uint8Array, _now: number): void {}
  /** Send `0x08 || payload` to `addr` as one packet, without piggyback. */
  sendTo(_addr: Address, _payload: Uint8Array, _now: number): void {}
  /** A snapshot of counters. */
  stats(): MemberlistStats {
    return {
      packetsIn: 0,
      bytesIn: 0,
      packetsOut: 0,
      bytesOut: 0,
      streamsIn: 0,
      streamsOut: 0,
      decodeErrors: new Map(),
      dropped: new Map(),
    };
  }
}
