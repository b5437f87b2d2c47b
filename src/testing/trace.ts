/**
 * The simulator's trace: a rolling 64-bit hash over everything that happens
 * (every input handed to a machine with its bytes, every drop, every fault,
 * every event) plus a bounded ring of the last lines for failure reports.
 *
 * Two runs of the same seed must produce the same hash; that is the
 * determinism self-test (FoundationDB's "same seed, same trace"). The ring
 * stores numbers, not strings, and formats only when asked, so tracing costs
 * little on the hot path.
 *
 * @module
 */

/** What a trace line records. */
export type TraceKind =
  | "packet"
  | "stream"
  | "reply"
  | "streamError"
  | "timer"
  | "drop"
  | "event"
  | "fault"
  | "note";

const KIND_CODES: Readonly<Record<TraceKind, number>> = {
  packet: 1,
  stream: 2,
  reply: 3,
  streamError: 4,
  timer: 5,
  drop: 6,
  event: 7,
  fault: 8,
  note: 9,
};
const KIND_NAMES: readonly TraceKind[] = [
  "note",
  "packet",
  "stream",
  "reply",
  "streamError",
  "timer",
  "drop",
  "event",
  "fault",
  "note",
];

/** Default number of trace lines kept for reports. */
export const DEFAULT_TRACE_LINES = 400;

/** Options of a {@linkcode TraceRecorder}. */
export interface TraceOptions {
  /** Lines kept in the ring (0 keeps none; the hash still covers all). */
  keepLines?: number;
}

/**
 * Hash + ring-buffer trace. Node numbers are the network's indices; a name
 * resolver turns them into names when the ring is printed.
 */
export class TraceRecorder {
  #h1 = 0x811c9dc5;
  #h2 = 0x9747b28c;
  #count = 0;
  readonly #cap: number;
  readonly #times: Float64Array;
  readonly #kinds: Uint8Array;
  readonly #nodes: Int32Array;
  readonly #peers: Int32Array;
  readonly #sizes: Int32Array;
  readonly #notes: (string | null)[];

  /**
   * An empty trace.
   *
   * @param options ring size
   */
  constructor(options: TraceOptions = {}) {
    this.#cap = Math.max(0, options.keepLines ?? DEFAULT_TRACE_LINES);
    this.#times = new Float64Array(this.#cap);
    this.#kinds = new Uint8Array(this.#cap);
    this.#nodes = new Int32Array(this.#cap);
    this.#peers = new Int32Array(this.#cap);
    this.#sizes = new Int32Array(this.#cap);
    this.#notes = new Array(this.#cap).fill(null);
  }

  /** Number of records so far. */
  get count(): number {
    return this.#count;
  }

  /**
   * The hash of everything recorded so far, as 16 hex digits.
   *
   * @returns the hash
   */
  hash(): string {
    return (this.#h1 >>> 0).toString(16).padStart(8, "0") +
      (this.#h2 >>> 0).toString(16).padStart(8, "0");
  }

  /**
   * Record one thing that happened.
   *
   * @param timeMs virtual time
   * @param kind what
   * @param node the node it happened at (-1 for none)
   * @param peer the other node (-1 for none)
   * @param bytes payload whose content is hashed (not kept)
   * @param note short text, hashed and kept in the ring
   */
  record(
    timeMs: number,
    kind: TraceKind,
    node: number,
    peer: number,
    bytes: Uint8Array | null = null,
    note: string | null = null,
  ): void {
    const code = KIND_CODES[kind];
    let h1 = this.#h1;
    let h2 = this.#h2;
    // Fold the header words, then the payload bytes, into two independent
    // 32-bit hashes (FNV-1a and a murmur-style multiply) for 64 bits total.
    const words = [
      timeMs >>> 0,
      Math.floor(timeMs / 4294967296),
      code,
      node,
      peer,
    ];
    for (const w of words) {
      h1 = Math.imul(h1 ^ (w & 0xffff), 0x01000193);
      h1 = Math.imul(h1 ^ (w >>> 16), 0x01000193);
      h2 = Math.imul(h2 ^ w, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    if (bytes !== null) {
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i];
        h1 = Math.imul(h1 ^ b, 0x01000193);
        h2 = Math.imul(h2 ^ b, 0x5bd1e995);
      }
      h2 ^= h2 >>> 13;
    }
    if (note !== null) {
      for (let i = 0; i < note.length; i++) {
        const c = note.charCodeAt(i);
        h1 = Math.imul(h1 ^ c, 0x01000193);
        h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      }
    }
    this.#h1 = h1;
    this.#h2 = h2;
    if (this.#cap > 0) {
      const slot = this.#count % this.#cap;
      this.#times[slot] = timeMs;
      this.#kinds[slot] = code;
      this.#nodes[slot] = node;
      this.#peers[slot] = peer;
      this.#sizes[slot] = bytes === null ? -1 : bytes.length;
      this.#notes[slot] = note;
    }
    this.#count++;
  }

  /**
   * The kept lines, oldest first, as text.
   *
   * @param nameOf turns a node index into its name
   * @returns one string per line
   */
  lines(nameOf: (node: number) => string = String): string[] {
    const out: string[] = [];
    const n = Math.min(this.#count, this.#cap);
    for (let i = this.#count - n; i < this.#count; i++) {
      const s = i % this.#cap;
      const kind = KIND_NAMES[this.#kinds[s]];
      const node = this.#nodes[s] < 0 ? "-" : nameOf(this.#nodes[s]);
      const peer = this.#peers[s] < 0 ? "" : ` ${nameOf(this.#peers[s])}`;
      const size = this.#sizes[s] < 0 ? "" : ` ${this.#sizes[s]}B`;
      const note = this.#notes[s] === null ? "" : ` ${this.#notes[s]}`;
      out.push(
        `${formatMs(this.#times[s])} ${kind} ${node}${peer}${size}${note}`,
      );
    }
    return out;
  }
}

/**
 * Virtual time as `123.456s`, for traces and reports.
 *
 * @param ms time in ms
 * @returns the text
 */
export function formatMs(ms: number): string {
  return `${(ms / 1000).toFixed(3)}s`;
}
