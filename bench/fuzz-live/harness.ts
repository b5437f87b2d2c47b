/**
 * The pieces of the live fuzzer (`fuzz_live.ts`): a `cli.ts agent` child on
 * Deno or Bun with its RSS, OpenMetrics counters and RPC; a UDP socket that
 * probes with real memberlist pings; the corpus of real captures moved into
 * this bench's address block; and the address filter that keeps every packet
 * the target might answer or probe inside that block (only loopback, only
 * 127.0.140.0/24 and 127.0.141.0/24).
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { RpcClient } from "../../src/agent/client.ts";
import type { RpcMember } from "../../src/codec/rpc.ts";
import { addCrc } from "../../src/codec/crc32.ts";
import { encodePing, MessageType } from "../../src/codec/messages.ts";
import { decodePushPull } from "../../src/codec/messages.ts";
import { MsgpackReader } from "../../src/codec/msgpack.ts";
import { decodeSerfMessage } from "../../src/codec/serf_messages.ts";
import { streamMessageLength } from "../../src/codec/stream.ts";
import {
  compress,
  decodeStreamUser,
  decompress,
  openPacket,
  openStream,
} from "../../src/memberlist/wire.ts";
import { type Keyring, openPacket as openSealed } from "../../src/seal.ts";
import { corpus } from "../../tests/codec/fuzz.ts";

/** The repository root (where `cli.ts` lives). */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** memberlist's largest push-pull message (`maxPushStateBytes`, 20 MiB). */
export const MAX_STREAM_BYTES = 20 * 1024 * 1024;

/** A host and port. */
export interface HostPort {
  /** IPv4 literal. */
  host: string;
  /** Port. */
  port: number;
}

/** Resolve after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The runtime binaries from `npm ci` (PATH as a fallback). */
export function runtimeBin(runtime: "deno" | "bun"): string {
  const local = `${ROOT}node_modules/.bin/${runtime}`;
  return existsSync(local) ? local : runtime;
}

// ---------------------------------------------------------------------------
// Address safety: the target answers pings at SourceAddr, relays indirect
// pings to Target, probes every alive's Addr, and Serf answers queries at
// Addr and forwards relays to DestAddr (memberlist state.go/net.go, serf
// query.go). A mutated packet may put any bytes there; we send only packets
// whose every such address is an IPv4 literal inside our two /24 blocks.

/**
 * Whether `ip` is 4 bytes inside 127.0.140.0/24 or 127.0.141.0/24.
 *
 * @param ip raw address bytes
 * @returns true when in the bench's block
 */
export function inBlock(ip: Uint8Array | null): boolean {
  return ip !== null && ip.length === 4 && ip[0] === 127 && ip[1] === 0 &&
    (ip[2] === 140 || ip[2] === 141);
}

/** What the address filter found in one input. */
export interface SafetyVerdict {
  /** False when some address points outside the block: do not send. */
  safe: boolean;
  /** Node names the input announces (alive messages and push-pull states). */
  names: string[];
}

function serfSafe(payload: Uint8Array, depth: number): boolean {
  let m;
  try {
    m = decodeSerfMessage(payload);
  } catch {
    return true; // The target's decoder (the same code) drops it too.
  }
  if (m.type === "query") return inBlock(m.body.addr);
  if (m.type === "relay") {
    return depth < 4 && inBlock(m.body.destAddr.ip) &&
      serfSafe(m.body.message, depth + 1);
  }
  return true;
}

/**
 * Decode a plaintext packet as the target will and check its addresses.
 *
 * @param pkt the datagram
 * @returns the verdict and the announced names
 */
export function packetVerdict(pkt: Uint8Array): SafetyVerdict {
  const names: string[] = [];
  for (const m of openPacket(pkt, () => {})) {
    switch (m.type) {
      case "ping":
        if (m.msg.sourceAddr !== null && m.msg.sourceAddr.length > 0) {
          if (!inBlock(m.msg.sourceAddr)) return { safe: false, names };
        }
        break;
      case "indirectPing":
        if (!inBlock(m.msg.target)) return { safe: false, names };
        if (
          m.msg.sourceAddr !== null && m.msg.sourceAddr.length > 0 &&
          !inBlock(m.msg.sourceAddr)
        ) return { safe: false, names };
        break;
      case "alive":
        if (!inBlock(m.msg.addr)) return { safe: false, names };
        names.push(m.msg.node);
        break;
      case "user":
        if (!serfSafe(m.payload, 0)) return { safe: false, names };
        break;
    }
  }
  return { safe: true, names };
}

/**
 * Decode the first message of a plaintext stream as the target will and check
 * its addresses (push-pull node states, Serf messages sent over a stream).
 *
 * @param bytes what the stream carries
 * @returns the verdict and the announced names
 */
export function streamVerdict(bytes: Uint8Array): SafetyVerdict {
  const names: string[] = [];
  let n: number;
  try {
    n = streamMessageLength(bytes, MAX_STREAM_BYTES);
  } catch {
    return { safe: true, names };
  }
  if (n < 0) return { safe: true, names };
  let msg: Uint8Array;
  try {
    msg = openStream(bytes.subarray(0, n), MAX_STREAM_BYTES);
  } catch {
    return { safe: true, names };
  }
  if (msg[0] === MessageType.pushPull) {
    let pp;
    try {
      pp = decodePushPull(new MsgpackReader(msg, 1));
    } catch {
      return { safe: true, names };
    }
    for (const s of pp.nodes) {
      if (!inBlock(s.addr)) return { safe: false, names };
      names.push(s.name);
    }
  } else if (msg[0] === MessageType.user) {
    try {
      if (!serfSafe(decodeStreamUser(msg), 0)) return { safe: false, names };
    } catch {
      return { safe: true, names };
    }
  }
  return { safe: true, names };
}

// ---------------------------------------------------------------------------
// The corpus: the real captures, with their 127.0.0.X addresses moved to
// 127.0.141.(200+X) so that valid-looking members stay in our block. The
// address is a 4-byte string (`a4 7f 00 00 X`, go-codec's legacy []byte) or
// bin8 (`c4 04 …`, RPC); same length, so framing stays valid; CRCs and LZW
// bodies are rebuilt around the rewrite.

function replaceAddrs(b: Uint8Array): Uint8Array {
  const out = b.slice();
  for (let i = 0; i + 4 < out.length; i++) {
    const str = out[i] === 0xa4 && out[i + 1] === 127 && out[i + 2] === 0 &&
      out[i + 3] === 0;
    if (str && out[i + 4] >= 1 && out[i + 4] <= 9) {
      out[i + 3] = 141;
      out[i + 4] += 200;
    }
    const bin = out[i] === 0xc4 && out[i + 1] === 4 && i + 5 < out.length &&
      out[i + 2] === 127 && out[i + 3] === 0 && out[i + 4] === 0;
    if (bin && out[i + 5] >= 1 && out[i + 5] <= 9) {
      out[i + 4] = 141;
      out[i + 5] += 200;
    }
  }
  return out;
}

function rewrite(b: Uint8Array): Uint8Array {
  if (b[0] === MessageType.hasCrc && b.length > 5) {
    return addCrc(rewrite(b.subarray(5)));
  }
  if (b[0] === MessageType.compress) {
    try {
      return compress(rewrite(decompress(b, 1 << 22)));
    } catch {
      return b;
    }
  }
  return replaceAddrs(b);
}

/** The captures (tests/codec/fuzz.ts `corpus()`), moved into our block. */
export function liveCorpus(): Uint8Array[] {
  return corpus().map(rewrite);
}

// ---------------------------------------------------------------------------
// The agent child.

/** Options of an {@linkcode AgentChild}. */
export interface AgentChildOptions {
  /** Which runtime runs `cli.ts agent`. */
  runtime: "deno" | "bun";
  /** Node name. */
  name: string;
  /** Bind host: gossip on :7946, RPC on :7373, metrics on :9100. */
  host: string;
  /** Base64 key (`-encrypt`). */
  encrypt?: string;
  /** Agents to join at start. */
  join?: string[];
  /** Timing profile (default lan). */
  profile?: "lan" | "local";
  /** Checkout whose `cli.ts` runs (default this one). */
  root?: string;
}

/** A `cli.ts agent` child process with RPC, metrics and /proc readings. */
export class AgentChild {
  /** The options it was started with. */
  readonly opts: AgentChildOptions;
  /** The last output lines (bounded). */
  readonly lines: string[] = [];
  readonly #child: ChildProcess;
  #exited = false;
  #rpc: RpcClient | null = null;

  private constructor(opts: AgentChildOptions) {
    this.opts = opts;
    const h = opts.host;
    const agentArgs = [
      "agent",
      `-node=${opts.name}`,
      `-bind=${h}:7946`,
      `-rpc-addr=${h}:7373`,
      `-metrics-addr=${h}:9100`,
      `-profile=${opts.profile ?? "lan"}`,
      "-log-level=warn",
      ...(opts.encrypt !== undefined ? [`-encrypt=${opts.encrypt}`] : []),
      ...(opts.join ?? []).map((j) => `-join=${j}`),
    ];
    const args = opts.runtime === "deno"
      ? ["run", "-A", "--quiet", "cli.ts", ...agentArgs]
      : ["cli.ts", ...agentArgs];
    this.#child = spawn(runtimeBin(opts.runtime), args, {
      cwd: opts.root ?? ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    });
    const dec = new TextDecoder();
    const onData = (c: Uint8Array): void => {
      for (const l of dec.decode(c).split("\n")) {
        if (l === "") continue;
        this.lines.push(l);
        if (this.lines.length > 400) this.lines.shift();
      }
    };
    this.#child.stdout?.on("data", onData);
    this.#child.stderr?.on("data", onData);
    this.#child.once("close", () => (this.#exited = true));
    this.#child.once("error", () => (this.#exited = true));
  }

  /**
   * Spawn the agent and wait until its RPC answers.
   *
   * @param opts runtime, name, host, key, seeds
   * @returns the running child
   */
  static async start(opts: AgentChildOptions): Promise<AgentChild> {
    const a = new AgentChild(opts);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (a.#exited) throw new Error(`${opts.name} exited\n${a.log}`);
      try {
        a.#rpc = await RpcClient.connect(`${opts.host}:7373`, {
          timeoutMs: 2000,
        });
        return a;
      } catch {
        if (Date.now() > deadline) {
          await a.stop();
          throw new Error(`${opts.name}: RPC never answered\n${a.log}`);
        }
        await delay(200);
      }
    }
  }

  /** The child's pid. */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Its gossip address. */
  get addr(): HostPort {
    return { host: this.opts.host, port: 7946 };
  }

  /** The output so far, for failure messages. */
  get log(): string {
    return `--- ${this.opts.name} (${this.opts.runtime}) ---\n${
      this.lines.join("\n")
    }`;
  }

  /** True while the process runs. */
  get alive(): boolean {
    return !this.#exited && existsSync(`/proc/${this.pid}`);
  }

  /** The binary the pid runs (`/proc/PID/exe`): must be the runtime, not a wrapper. */
  exe(): string {
    return readlinkSync(`/proc/${this.pid}/exe`);
  }

  /** Resident set size from `/proc/PID/status` (VmRSS), in KiB. */
  rssKiB(): number {
    const s = readFileSync(`/proc/${this.pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+) kB/m.exec(s);
    if (m === null) throw new Error(`No VmRSS for pid ${this.pid}`);
    return Number(m[1]);
  }

  /** The agent's RPC client. */
  get rpc(): RpcClient {
    if (this.#rpc === null) throw new Error("RPC not connected");
    return this.#rpc;
  }

  /** Members through RPC (reconnects once if the connection dropped). */
  async members(): Promise<RpcMember[]> {
    try {
      return await this.rpc.members();
    } catch {
      this.#rpc?.close();
      this.#rpc = await RpcClient.connect(`${this.opts.host}:7373`, {
        timeoutMs: 5000,
      });
      return await this.#rpc.members();
    }
  }

  /** Scrape `/metrics`: every sample as `name{labels}` → value. */
  async metrics(): Promise<Metrics> {
    const res = await fetch(`http://${this.opts.host}:9100/metrics`, {
      signal: AbortSignal.timeout(10_000),
    });
    return new Metrics(await res.text());
  }

  /** SIGKILL and wait for the exit. Safe to call twice. */
  async stop(): Promise<void> {
    this.#rpc?.close();
    if (!this.#exited) {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
      const until = Date.now() + 5000;
      while (!this.#exited && Date.now() < until) await delay(20);
    }
    this.#child.stdout?.destroy();
    this.#child.stderr?.destroy();
  }
}

/** A parsed OpenMetrics exposition. */
export class Metrics {
  /** Every sample, `name{labels}` → value. */
  readonly samples: Map<string, number> = new Map();

  /** Parse the text. */
  constructor(text: string) {
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const sp = line.lastIndexOf(" ");
      this.samples.set(line.slice(0, sp), Number(line.slice(sp + 1)));
    }
  }

  /** Whether any sample of family `name` exists. */
  has(name: string): boolean {
    for (const k of this.samples.keys()) {
      if (k === name || k.startsWith(`${name}{`)) return true;
    }
    return false;
  }

  /**
   * Sum of the samples of `name` whose labels contain every `match` pair.
   *
   * @param name sample name, e.g. `grapevine_messages_total`
   * @param match label pairs, e.g. `{direction: "in"}`
   * @returns the sum (0 when none)
   */
  sum(name: string, match: Record<string, string> = {}): number {
    let total = 0;
    const want = Object.entries(match).map(([k, v]) => `${k}="${v}"`);
    for (const [k, v] of this.samples) {
      if (k !== name && !k.startsWith(`${name}{`)) continue;
      if (want.every((w) => k.includes(w))) total += v;
    }
    return total;
  }
}

// ---------------------------------------------------------------------------
// A UDP socket that sends the fuzz and probes with real pings.

/** Sends datagrams and real memberlist pings; matches the acks. */
export class UdpProber {
  readonly #sock: dgram.Socket;
  readonly #waiters = new Map<number, (ok: boolean) => void>();
  readonly #keyring: Keyring | null;
  #seq = 0x40000000 + Math.floor(Math.random() * 0x10000000);
  /** Datagrams received (acks to our pings and answers to the fuzz). */
  received = 0;

  private constructor(sock: dgram.Socket, keyring: Keyring | null) {
    this.#sock = sock;
    this.#keyring = keyring;
    sock.on("message", (msg: Uint8Array) => this.#onMessage(msg));
    sock.on("error", () => {});
  }

  /**
   * Bind a socket on `host` (any port).
   *
   * @param host IPv4 literal in the bench's block
   * @param keyring opens the target's sealed acks (encrypted cluster)
   * @returns the prober
   */
  static async bind(
    host: string,
    keyring: Keyring | null = null,
  ): Promise<UdpProber> {
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      sock.once("error", reject);
      sock.bind(0, host, () => resolve());
    });
    return new UdpProber(sock, keyring);
  }

  /** The bound address. */
  get address(): HostPort {
    const a = this.#sock.address();
    return { host: a.address, port: a.port };
  }

  #onMessage(raw: Uint8Array): void {
    this.received++;
    let msg = raw;
    if (this.#keyring !== null) {
      try {
        msg = openSealed(this.#keyring, raw);
      } catch {
        return;
      }
    }
    for (const m of openPacket(msg, () => {})) {
      if (m.type === "ack") {
        const w = this.#waiters.get(m.msg.seqNo);
        if (w !== undefined) {
          this.#waiters.delete(m.msg.seqNo);
          w(true);
        }
      }
    }
  }

  /** Send one datagram (fire and forget). */
  send(bytes: Uint8Array, to: HostPort): void {
    this.#sock.send(bytes, to.port, to.host);
  }

  /**
   * Send a valid memberlist ping (Node = `node`) and wait for its ack.
   *
   * @param to the target
   * @param node its name
   * @param timeoutMs how long to wait
   * @param seal seals the ping (encrypted cluster)
   * @returns whether the ack came in time
   */
  ping(
    to: HostPort,
    node: string,
    timeoutMs: number,
    seal: ((b: Uint8Array) => Uint8Array) | null = null,
  ): Promise<boolean> {
    const seqNo = this.#seq = (this.#seq + 1) >>> 0;
    const bytes = encodePing({
      seqNo,
      node,
      sourceAddr: null,
      sourcePort: 0,
      sourceNode: "",
    });
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(seqNo);
        resolve(false);
      }, timeoutMs);
      this.#waiters.set(seqNo, (ok) => {
        clearTimeout(timer);
        resolve(ok);
      });
      this.send(seal === null ? bytes : seal(bytes), to);
    });
  }

  /** Close the socket. */
  close(): void {
    for (const w of this.#waiters.values()) w(false);
    this.#waiters.clear();
    try {
      this.#sock.close();
    } catch {
      // Already closed.
    }
  }
}
