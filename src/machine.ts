/**
 * The contract every protocol machine (Memberlist, Serf) keeps with its host
 * — the driver on real sockets, or the simulator in virtual time
 * (ARCHITECTURE §Principles 1, 2, 4).
 *
 * A machine is synchronous and pure: it is handed inputs with the current
 * time `now` (integer milliseconds, monotonic), queues its outputs, and says
 * when it next wants {@linkcode Machine.handleTimeout}. The host drains
 * {@linkcode Machine.pollTransmit} and {@linkcode Machine.pollEvent} after
 * every call.
 *
 * Bytes crossing this boundary are *plaintext* memberlist messages (with
 * memberlist's compression and CRC already applied on packets, and
 * compression on streams). The host's seal stage adds the label and
 * encryption on the way out and removes them on the way in.
 *
 * @module
 */

/** A network address: an IP literal (or host name, for join seeds) and a port. */
export interface Address {
  /** IP literal such as "127.0.0.1" or "::1". */
  readonly host: string;
  /** UDP and TCP port (memberlist uses the same for both). */
  readonly port: number;
}

/** Send one best-effort datagram. */
export interface PacketTransmit {
  /** Discriminant. */
  readonly kind: "packet";
  /** Destination. */
  readonly to: Address;
  /** Plaintext packet (the host seals it). */
  readonly bytes: Uint8Array;
}

/**
 * Open a stream to `to`, write `bytes` (one plaintext stream message), and,
 * if `expectReply`, read one message back and hand it to
 * {@linkcode Machine.handleStreamReply} with the same `streamId`. Failure to
 * connect, write or read by `deadline` is reported there as an `Error`.
 */
export interface DialTransmit {
  /** Discriminant. */
  readonly kind: "dial";
  /** Chosen by the machine; unique among its open dials. */
  readonly streamId: number;
  /** Destination. */
  readonly to: Address;
  /** Plaintext stream message. */
  readonly bytes: Uint8Array;
  /** Whether one message is read back before closing. */
  readonly expectReply: boolean;
  /** Absolute time (ms) by which the exchange must be over. */
  readonly deadline: number;
}

/**
 * Answer an inbound stream (identified by the host's `inboundId` from
 * {@linkcode Machine.handleStream}) with `bytes`, then close it; `null`
 * closes it without an answer.
 */
export interface ReplyTransmit {
  /** Discriminant. */
  readonly kind: "reply";
  /** The host's id of the inbound stream. */
  readonly inboundId: number;
  /** Plaintext stream message, or `null` to close silently. */
  readonly bytes: Uint8Array | null;
}

/** Everything a machine asks its host to send. */
export type Transmit = PacketTransmit | DialTransmit | ReplyTransmit;

/** The surface shared by Memberlist and Serf, so hosts treat them alike. */
export interface Machine<E> {
  /** A datagram arrived (already opened by the seal stage). */
  handlePacket(bytes: Uint8Array, from: Address, now: number): void;
  /**
   * An inbound stream delivered its first complete message (already opened
   * by the seal stage). The machine answers with a `reply` transmit carrying
   * the same `inboundId`, possibly with `null`.
   */
  handleStream(
    inboundId: number,
    bytes: Uint8Array,
    from: Address,
    now: number,
  ): void;
  /** A dialed stream answered (bytes) or failed (Error). */
  handleStreamReply(
    streamId: number,
    result: Uint8Array | Error,
    now: number,
  ): void;
  /** Handle every deadline ≤ `now`; late calls are harmless. */
  handleTimeout(now: number): void;
  /** Earliest time the machine wants {@linkcode Machine.handleTimeout}, or null. */
  nextDeadline(): number | null;
  /** Next queued transmit, if any. */
  pollTransmit(): Transmit | undefined;
  /** Next queued event, if any. */
  pollEvent(): E | undefined;
}
