/**
 * The one thin driver (ARCHITECTURE §Principles 4): the only code that owns a
 * clock, a timer, a transport and the seal stage. After every call into the
 * machine it drains transmits (seal, then send) and events (dispatch), then
 * re-arms its single timer to the machine's next deadline.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type {
  Address,
  DialTransmit,
  Machine,
  ReplyTransmit,
} from "./machine.ts";
import type {
  Transport,
  TransportConn,
  TransportFactory,
} from "./transport.ts";
import {
  type Keyring,
  openPacket,
  openStream,
  sealPacket,
  sealStream,
} from "./seal.ts";
import { addLabel, stripLabel } from "./codec/label.ts";
import { newMeasureProgress, streamMessageLength } from "./codec/stream.ts";
import { encodeErr } from "./codec/messages.ts";
import { ipFromString } from "./codec/messages.ts";
import { DecodeError } from "./codec/errors.ts";
import { MAX_PUSH_PULL_REQUESTS, MAX_PUSH_STATE_BYTES } from "./config.ts";

const logger = getLogger(["grapevine", "driver"]);
const ENCRYPT_MSG = 10;

/** The seal stage's settings: label and keyring (SPEC §2.6, §2.7). */
export interface SealSettings {
  /** Keys for AES-GCM; `null` or empty: no encryption. */
  keyring: Keyring | null;
  /** Cluster label ("" = none; must stay "" to talk to memberlist 0.2.2). */
  label: string;
  /** Drop unencrypted input when a keyring is set (memberlist default true). */
  verifyIncoming: boolean;
  /** Encrypt output when a keyring is set (memberlist default true). */
  verifyOutgoing: boolean;
  /** Accept unlabeled input as if it carried our label. */
  skipInboundLabelCheck: boolean;
  /** Encryption version: 1 for memberlist protocol ≥ 2 (every Serf). */
  encryptionVersion: 0 | 1;
}

/** What a {@linkcode Driver} needs to run a machine. */
export interface DriverOptions<E, M extends Machine<E> = Machine<E>> {
  /** Binds the sockets; called once with the driver's handlers. */
  transport: TransportFactory;
  /** Where to bind (port 0 = any). */
  bind: Address;
  /** Builds the machine once the real bound address is known. */
  createMachine: (bound: Address, now: number) => M;
  /** Label and encryption. */
  seal: SealSettings;
  /** Receives every event the machine emits, in order. */
  onEvent: (event: E) => void;
  /** Deadline of an inbound stream exchange (memberlist's TCPTimeout). */
  streamTimeoutMs: number;
  /** Most inbound streams served at once; more are closed at once. */
  maxInboundStreams?: number;
  /** Largest stream message read (memberlist: 20 MiB). */
  maxStreamBytes?: number;
  /** Monotonic clock in ms; default `performance.now()`. */
  clock?: () => number;
}

/** Counters of the shell: what the seal stage and the streams dropped. */
export interface DriverStats {
  /** Packets and streams dropped, by reason. */
  dropped: Map<string, number>;
  /** Inbound streams currently open. */
  inboundStreams: number;
  /** Dials currently open. */
  outboundStreams: number;
}

/**
 * Runs one machine on one transport. Create with {@linkcode Driver.start};
 * call into the machine only through {@linkcode Driver.run}.
 */
export class Driver<E, M extends Machine<E> = Machine<E>> {
  #machine!: M;
  #transport!: Transport;
  readonly #opts: DriverOptions<E, M>;
  readonly #clock: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedAt: number | null = null;
  #closed = false;
  #nextInboundId = 1;
  readonly #inbound = new Map<number, TransportConn>();
  // One deadline per inbound stream, cleared when it closes (bounded by the
  // stream cap, as #inbound).
  readonly #inboundTimers = new Map<number, ReturnType<typeof setTimeout>>();
  readonly #dials = new Set<Promise<void>>();
  readonly #stats: DriverStats = {
    dropped: new Map(),
    inboundStreams: 0,
    outboundStreams: 0,
  };

  private constructor(opts: DriverOptions<E, M>) {
    this.#opts = opts;
    const origin = performance.now();
    this.#clock = opts.clock ?? (() => Math.floor(performance.now() - origin));
  }

  /** Bind the transport, build the machine and start its timer. */
  static async start<E, M extends Machine<E>>(
    opts: DriverOptions<E, M>,
  ): Promise<Driver<E, M>> {
    const d = new Driver(opts);
    d.#transport = await opts.transport({
      bind: opts.bind,
      handlers: {
        packet: (bytes, from) => d.#onPacket(bytes, from),
        stream: (conn) => void d.#onStream(conn),
      },
    });
    d.#machine = opts.createMachine(d.#transport.localAddr, d.now());
    d.#drain();
    return d;
  }

  /** The machine, for reads (calls that change it go through `run`). */
  get machine(): M {
    return this.#machine;
  }

  /** The driver's clock, in ms. */
  now(): number {
    return this.#clock();
  }

  /** The bound address (the real port when bound to 0). */
  get localAddr(): Address {
    return this.#transport.localAddr;
  }

  /** The transport's name ("deno", "bun", "node", "memory"). */
  get transportName(): string {
    return this.#transport.name;
  }

  /** Shell counters. */
  get stats(): DriverStats {
    return this.#stats;
  }

  /** True once {@linkcode Driver.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Call into the machine with the current time, then drain and re-arm. */
  run<T>(f: (machine: M, now: number) => T): T {
    const out = f(this.#machine, this.now());
    this.#drain();
    return out;
  }

  /** Stop the timer, close every stream and the sockets. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const conn of this.#inbound.values()) conn.close();
    this.#inbound.clear();
    for (const timer of this.#inboundTimers.values()) clearTimeout(timer);
    this.#inboundTimers.clear();
    await this.#transport.close();
    await Promise.allSettled([...this.#dials]);
  }

  #drop(reason: string): void {
    this.#stats.dropped.set(reason, (this.#stats.dropped.get(reason) ?? 0) + 1);
  }

  #drain(): void {
    if (this.#closed) return;
    const m = this.#machine;
    for (let t = m.pollTransmit(); t !== undefined; t = m.pollTransmit()) {
      if (t.kind === "packet") {
        const sealed = this.#sealPacket(t.bytes);
        if (sealed !== null) this.#transport.sendPacket(t.to, sealed);
      } else if (t.kind === "dial") this.#dial(t);
      else this.#reply(t);
    }
    for (let e = m.pollEvent(); e !== undefined; e = m.pollEvent()) {
      try {
        this.#opts.onEvent(e);
      } catch (err) {
        // A listener's bug must not stop the protocol.
        logger.error("Event listener threw: {error}", { error: err });
      }
    }
    this.#arm();
  }

  #arm(): void {
    const at = this.#machine.nextDeadline();
    if (at === this.#armedAt && this.#timer !== undefined) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = at;
    if (at === null || this.#closed) return;
    const delay = Math.max(0, at - this.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#armedAt = null;
      this.run((m, now) => m.handleTimeout(now));
    }, delay);
  }

  #sealPacket(bytes: Uint8Array): Uint8Array | null {
    const s = this.#opts.seal;
    let out = bytes;
    if (s.keyring !== null && s.keyring.size > 0 && s.verifyOutgoing) {
      out = sealPacket(s.keyring, out, {
        version: s.encryptionVersion,
        label: s.label,
      });
    }
    // The label goes outside the encryption (memberlist's transport wrapper).
    return s.label === "" ? out : addLabel(out, s.label);
  }

  // Strip the label and decrypt; null (counted) when the input must be dropped.
  #openPacket(bytes: Uint8Array): Uint8Array | null {
    const s = this.#opts.seal;
    let body: Uint8Array;
    try {
      const l = stripLabel(bytes);
      if (!this.#labelOk(l.label)) return null;
      body = l.rest;
    } catch {
      this.#drop("label");
      return null;
    }
    if (s.keyring === null || s.keyring.size === 0) return body;
    try {
      return openPacket(s.keyring, body, { label: s.label });
    } catch {
      // memberlist: without GossipVerifyIncoming, undecryptable bytes are
      // taken as plaintext (rolling encryption out across a cluster).
      if (s.verifyIncoming) {
        this.#drop("decrypt");
        return null;
      }
      return body;
    }
  }

  #labelOk(label: string): boolean {
    const want = this.#opts.seal.label;
    if (label === want) return true;
    if (label === "" && this.#opts.seal.skipInboundLabelCheck) return true;
    this.#drop("label");
    return false;
  }

  #onPacket(bytes: Uint8Array, from: Address): void {
    if (this.#closed) return;
    const plain = this.#openPacket(bytes);
    if (plain === null) return;
    this.run((m, now) => m.handlePacket(plain, from, now));
  }

  async #onStream(conn: TransportConn): Promise<void> {
    const max = this.#opts.maxInboundStreams ?? MAX_PUSH_PULL_REQUESTS;
    if (this.#closed || this.#inbound.size >= max) {
      this.#drop("stream-cap");
      conn.close();
      return;
    }
    const id = this.#nextInboundId++;
    this.#inbound.set(id, conn);
    this.#stats.inboundStreams = this.#inbound.size;
    // memberlist sets one deadline (TCPTimeout) on the whole exchange, the
    // reply's write included (net.go handleConn SetDeadline): a peer that
    // never reads our push-pull reply must not hold a slot forever.
    this.#inboundTimers.set(
      id,
      setTimeout(() => {
        this.#drop("stream-timeout");
        this.#closeInbound(id);
      }, this.#opts.streamTimeoutMs),
    );
    try {
      const plain = await this.#readInbound(conn);
      if (plain === null || !this.#inbound.has(id)) {
        this.#closeInbound(id);
        return;
      }
      this.run((m, now) => m.handleStream(id, plain, conn.remote, now));
    } catch (e) {
      this.#drop(
        e instanceof DecodeError ? `stream-${e.reason}` : "stream-read",
      );
      this.#closeInbound(id);
    }
  }

  // Read the first message of an inbound stream: label (dialer side only,
  // SPEC §2.7), then an encrypted frame or a plain message.
  async #readInbound(conn: TransportConn): Promise<Uint8Array | null> {
    const s = this.#opts.seal;
    const reader = new StreamReader(
      conn,
      this.#opts.maxStreamBytes ?? MAX_PUSH_STATE_BYTES,
    );
    let first = await reader.need(1);
    if (first[0] === 244) {
      const hdr = await reader.need(2);
      const whole = await reader.need(2 + hdr[1]);
      const l = stripLabel(whole);
      reader.consume(2 + hdr[1]);
      if (!this.#labelOk(l.label)) return null;
      first = await reader.need(1);
    } else if (!this.#labelOk("")) return null;
    const encrypted = first[0] === ENCRYPT_MSG;
    const keyed = s.keyring !== null && s.keyring.size > 0;
    if (keyed && !encrypted && s.verifyIncoming) {
      this.#drop("stream-unencrypted");
      await this.#writeErr(
        conn,
        "Encryption is configured but remote state is not encrypted",
      );
      return null;
    }
    if (encrypted && !keyed) {
      this.#drop("stream-encrypted");
      await this.#writeErr(
        conn,
        "Remote state is encrypted and encryption is not configured",
      );
      return null;
    }
    const msg = await reader.message();
    return encrypted ? openStream(s.keyring!, msg, { label: s.label }) : msg;
  }

  async #writeErr(conn: TransportConn, text: string): Promise<void> {
    try {
      const w = conn.writable.getWriter();
      await w.write(this.#sealStream(encodeErr(text), false));
      w.releaseLock();
    } catch {
      // The peer is gone; nothing to tell.
    }
  }

  #sealStream(bytes: Uint8Array, dialer: boolean): Uint8Array {
    const s = this.#opts.seal;
    let out = bytes;
    if (s.keyring !== null && s.keyring.size > 0 && s.verifyOutgoing) {
      out = sealStream(s.keyring, out, {
        version: s.encryptionVersion,
        label: s.label,
      });
    }
    // Only the dialing side writes a label header (SPEC §2.7).
    return dialer && s.label !== "" ? addLabel(out, s.label) : out;
  }

  #closeInbound(id: number): void {
    clearTimeout(this.#inboundTimers.get(id));
    this.#inboundTimers.delete(id);
    const conn = this.#inbound.get(id);
    if (conn === undefined) return;
    this.#inbound.delete(id);
    this.#stats.inboundStreams = this.#inbound.size;
    conn.close();
  }

  #reply(t: ReplyTransmit): void {
    const conn = this.#inbound.get(t.inboundId);
    if (conn === undefined) return;
    if (t.bytes === null) {
      this.#closeInbound(t.inboundId);
      return;
    }
    const bytes = this.#sealStream(t.bytes, false);
    void (async () => {
      try {
        const w = conn.writable.getWriter();
        await w.write(bytes);
        await w.close();
      } catch {
        this.#drop("stream-write");
      } finally {
        this.#closeInbound(t.inboundId);
      }
    })();
  }

  #dial(t: DialTransmit): void {
    const p = this.#dialAsync(t).finally(() => {
      this.#dials.delete(p);
      this.#stats.outboundStreams = this.#dials.size;
    });
    this.#dials.add(p);
    this.#stats.outboundStreams = this.#dials.size;
  }

  async #dialAsync(t: DialTransmit): Promise<void> {
    const timeoutMs = Math.max(1, t.deadline - this.now());
    const ac = new AbortController();
    const timer = setTimeout(
      () =>
        ac.abort(
          new Error(
            `Stream to ${t.to.host}:${t.to.port} timed out after ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    let conn: TransportConn | undefined;
    let result: Uint8Array | Error;
    try {
      conn = await this.#transport.dial(t.to, { signal: ac.signal, timeoutMs });
      const w = conn.writable.getWriter();
      await w.write(this.#sealStream(t.bytes, true));
      w.releaseLock();
      if (!t.expectReply) result = new Uint8Array(0);
      else {
        const reader = new StreamReader(
          conn,
          this.#opts.maxStreamBytes ?? MAX_PUSH_STATE_BYTES,
          ac.signal,
        );
        const msg = await reader.message();
        const s = this.#opts.seal;
        const keyed = s.keyring !== null && s.keyring.size > 0;
        if (msg[0] === ENCRYPT_MSG) {
          if (!keyed) {
            throw new Error(
              "Remote state is encrypted and encryption is not configured",
            );
          }
          result = openStream(s.keyring!, msg, { label: s.label });
        } else if (keyed && s.verifyIncoming) {
          throw new Error(
            "Encryption is configured but remote state is not encrypted",
          );
        } else result = msg;
      }
    } catch (e) {
      result = e instanceof Error ? e : new Error(String(e));
    } finally {
      clearTimeout(timer);
      conn?.close();
    }
    if (!this.#closed) {
      this.run((m, now) => m.handleStreamReply(t.streamId, result, now));
    }
  }
}

/** Reads exactly one stream message from a connection, bounded. */
class StreamReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #max: number;
  // Bytes read but not consumed are #store[#start, #end); the store grows by
  // doubling so a large push-pull costs amortized O(n) copying.
  #store = new Uint8Array(4096);
  #start = 0;
  #end = 0;
  readonly #signal?: AbortSignal;

  constructor(conn: TransportConn, maxBytes: number, signal?: AbortSignal) {
    this.#reader = conn.readable.getReader();
    this.#max = maxBytes;
    this.#signal = signal;
  }

  async #more(): Promise<void> {
    if (this.#signal?.aborted) throw this.#signal.reason;
    const { value, done } = await this.#reader.read();
    if (done) {
      throw new DecodeError(
        "truncated",
        "Stream closed before a whole message",
      );
    }
    const used = this.#end - this.#start;
    if (used + value.length > this.#max + 512) {
      throw new DecodeError(
        "too-large",
        `Stream message exceeds ${this.#max} bytes`,
      );
    }
    if (this.#end + value.length > this.#store.length) {
      let size = this.#store.length;
      while (size < used + value.length) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.#store.subarray(this.#start, this.#end));
      this.#store = next;
      this.#start = 0;
      this.#end = used;
    }
    this.#store.set(value, this.#end);
    this.#end += value.length;
  }

  #view(): Uint8Array {
    return this.#store.subarray(this.#start, this.#end);
  }

  async need(n: number): Promise<Uint8Array> {
    while (this.#end - this.#start < n) await this.#more();
    return this.#view();
  }

  consume(n: number): void {
    this.#start += n;
  }

  async message(): Promise<Uint8Array> {
    // Resume where the last read stopped: re-measuring from the start on
    // every chunk is O(n²) for a trickled 20 MiB push-pull.
    const progress = newMeasureProgress();
    for (;;) {
      const n = streamMessageLength(this.#view(), this.#max, progress);
      if (n >= 0) {
        const msg = this.#store.slice(this.#start, this.#start + n);
        this.#start += n;
        return msg;
      }
      await this.#more();
    }
  }
}

/**
 * Resolve a host name to an IP literal (Bun's UDP does no DNS, and the core
 * works on IPs only). IP literals come back unchanged.
 */
export async function resolveAddress(addr: Address): Promise<Address> {
  if (ipFromString(addr.host) !== null) return addr;
  // node:dns is loaded only for host names: IP literals (the usual case)
  // never pay for it (bench/idle/README.md).
  const { lookup } = await import("node:dns/promises");
  const { address } = await lookup(addr.host);
  return { host: address, port: addr.port };
}
