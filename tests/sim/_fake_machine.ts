/**
 * A tiny scriptable Machine for testing the simulator itself: it records
 * every input, sends what the test queues, keeps test-set deadlines, and
 * answers streams as configured.
 */
import type { Address, Machine, Transmit } from "../../src/machine.ts";
import type { ViewEntry } from "../../src/testing/sim_cluster.ts";

/** One input the fake machine saw. */
export interface FakeInput {
  kind: "packet" | "stream" | "reply" | "timer";
  atMs: number;
  bytes: Uint8Array | null;
  error: string | null;
  from: string | null;
  id: number;
}

/** Events the fake emits on request. */
export type FakeEvent =
  | { type: "note"; text: string }
  | { type: "member"; entry: ViewEntry }
  | { type: "leaveDone" };

/** How the fake answers an inbound stream. */
export type StreamAnswer = "echo" | "null" | "none";

export class FakeMachine implements Machine<FakeEvent> {
  readonly name: string;
  readonly inputs: FakeInput[] = [];
  readonly #out: Transmit[] = [];
  readonly #events: FakeEvent[] = [];
  #deadlines: number[] = [];
  answer: StreamAnswer = "echo";
  /** What the fake claims to see (for the cluster's view hooks). */
  view: ViewEntry[] = [];
  /** Queue sizes it reports. */
  queueSize = 0;
  /** Decode errors it reports. */
  decodeErrors = 0;

  constructor(name: string) {
    this.name = name;
  }

  handlePacket(bytes: Uint8Array, from: Address, now: number): void {
    this.inputs.push({
      kind: "packet",
      atMs: now,
      bytes,
      error: null,
      from: from.host,
      id: -1,
    });
  }

  handleStream(
    inboundId: number,
    bytes: Uint8Array,
    from: Address,
    now: number,
  ): void {
    this.inputs.push({
      kind: "stream",
      atMs: now,
      bytes,
      error: null,
      from: from.host,
      id: inboundId,
    });
    if (this.answer === "echo") {
      this.#out.push({ kind: "reply", inboundId, bytes });
    }
    if (this.answer === "null") {
      this.#out.push({ kind: "reply", inboundId, bytes: null });
    }
  }

  handleStreamReply(
    streamId: number,
    result: Uint8Array | Error,
    now: number,
  ): void {
    this.inputs.push({
      kind: "reply",
      atMs: now,
      bytes: result instanceof Error ? null : result,
      error: result instanceof Error ? result.message : null,
      from: null,
      id: streamId,
    });
  }

  handleTimeout(now: number): void {
    const due = this.#deadlines.filter((d) => d <= now);
    this.#deadlines = this.#deadlines.filter((d) => d > now);
    for (const d of due) {
      this.inputs.push({
        kind: "timer",
        atMs: now,
        bytes: null,
        error: null,
        from: null,
        id: d,
      });
    }
  }

  nextDeadline(): number | null {
    return this.#deadlines.length === 0 ? null : Math.min(...this.#deadlines);
  }

  pollTransmit(): Transmit | undefined {
    return this.#out.shift();
  }

  pollEvent(): FakeEvent | undefined {
    return this.#events.shift();
  }

  /** Queue a packet (drained at the next call through the network). */
  send(to: Address, bytes: Uint8Array): void {
    this.#out.push({ kind: "packet", to, bytes });
  }

  /** Queue a dial. */
  dial(
    streamId: number,
    to: Address,
    bytes: Uint8Array,
    deadline: number,
    expectReply = true,
  ): void {
    this.#out.push({
      kind: "dial",
      streamId,
      to,
      bytes,
      expectReply,
      deadline,
    });
  }

  /** Add a deadline. */
  at(ms: number): void {
    this.#deadlines.push(ms);
  }

  /** Emit an event. */
  emit(text: string): void {
    this.#events.push({ type: "note", text });
  }

  /** Change (or add) an entry of the view and emit a member event. */
  see(entry: ViewEntry): void {
    this.view = [...this.view.filter((e) => e.name !== entry.name), entry];
    this.#events.push({ type: "member", entry });
  }

  /** Emit a leaveDone event. */
  leaveDone(): void {
    this.#events.push({ type: "leaveDone" });
  }

  of(kind: FakeInput["kind"]): FakeInput[] {
    return this.inputs.filter((i) => i.kind === kind);
  }
}

/** The i-th fake address. */
export function addr(i: number): Address {
  return { host: `10.0.0.${i + 1}`, port: 7946 };
}

/** Bytes carrying a counter, to identify packets. */
export function tag(n: number): Uint8Array {
  return new Uint8Array([n & 255, (n >> 8) & 255, (n >> 16) & 255]);
}

/** The counter back out of {@linkcode tag}. */
export function untag(b: Uint8Array): number {
  return b[0] | (b[1] << 8) | (b[2] << 16);
}
