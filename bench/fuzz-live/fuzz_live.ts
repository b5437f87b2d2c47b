/**
 * `deno task fuzz-live`: fuzz and abuse a live member (issue #7).
 *
 * ```sh
 * deno run -A bench/fuzz-live/fuzz_live.ts [--packets 10000000] [--streams 100000]
 *   [--target deno|bun] [--seed S] [--profile lan|local] [--check-every K]
 *   [--rss-limit-mib 512] [--flood 5000] [--slow 4] [--blasts 8] [--slot 0..9]
 * ```
 *
 * A target `cli.ts agent` runs in a child process on Deno or Bun beside a
 * healthy peer agent (Deno). Mutated captures (tests/codec/fuzz.ts) go to it
 * as UDP packets and TCP streams; every K packets it must answer a real ping,
 * its RSS must stay under the bound, and at the end its member table must be
 * sane and equal to the peer's. Then stream floods, slow streams and
 * oversized push-pulls, then an encrypted pair attacked with plaintext,
 * wrong-key and tampered traffic. Prints a summary table; exits 1 on any
 * failure. Addresses: targets in 127.0.140.0/24, attackers and peers in
 * 127.0.141.0/24.
 *
 * @module
 */

import net from "node:net";
import process from "node:process";
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import type { RpcMember } from "../../src/codec/rpc.ts";
import { encodePushPull } from "../../src/codec/messages.ts";
import { MsgpackReader } from "../../src/codec/msgpack.ts";
import { decodePushPull, type PushPull } from "../../src/codec/messages.ts";
import { decompress } from "../../src/memberlist/wire.ts";
import {
  encodeKey,
  Keyring,
  openStream as openSealedStream,
  sealPacket,
  sealStream,
} from "../../src/seal.ts";
import { mutate } from "../../tests/codec/fuzz.ts";
import { seeded } from "../../tests/helpers/prng.ts";
import {
  AgentChild,
  delay,
  type HostPort,
  inBlock,
  liveCorpus,
  type Metrics,
  packetVerdict,
  streamVerdict,
  UdpProber,
} from "./harness.ts";

/** Options of {@linkcode runFuzzLive}. */
export interface FuzzLiveOptions {
  /** Mutated UDP packets to send (default 10,000,000). */
  packets: number;
  /** Mutated TCP streams to open (default 100,000). */
  streams: number;
  /** Runtime of the target agent. */
  target: "deno" | "bun";
  /** PRNG seed of the mutations. */
  seed: number;
  /** Address slot 0..9: separate runs in one process use separate hosts. */
  slot: number;
  /** Agents' timing profile (local: 1 s stream timeout, for CI). */
  profile: "lan" | "local";
  /** Health check (ping, RSS, alive) every this many packets. */
  checkEvery: number;
  /** Bound on the target's RSS, MiB. */
  rssLimitMiB: number;
  /** Stream connections opened and held at once in the flood. */
  flood: number;
  /** Slow streams (1 byte/s) that must be cut at the stream timeout. */
  slow: number;
  /** Push-pulls of 19.9 MB of nil node states poured in at once. */
  blasts: number;
  /** Packets (and a tenth as many streams) of the encrypted phase. */
  encryptedPackets: number;
  /** Progress lines. */
  log: (line: string) => void;
  /** Checkout whose `cli.ts` the target runs (default this one). */
  root?: string;
  /** How long the member tables may take to settle (default 60 s LAN, 20 s local). */
  settleMs?: number;
}

/** What a run measured. */
export interface FuzzLiveResult {
  /** Failed checks (empty: passed). */
  failures: string[];
  /** Summary rows, label → value. */
  rows: Array<[string, string]>;
}

/** The defaults of the full run. */
export const FULL_RUN: FuzzLiveOptions = {
  packets: 10_000_000,
  streams: 100_000,
  target: "deno",
  seed: 1,
  slot: 0,
  profile: "lan",
  checkEvery: 100_000,
  rssLimitMiB: 512,
  flood: 5000,
  slow: 4,
  blasts: 8,
  encryptedPackets: 100_000,
  log: (l) => console.log(l),
};

const TIMEOUT_MS = { lan: 10_000, local: 1_000 } as const;
// In flight at most PACING_WINDOW chunks of up to PACING_MAX packets: the
// target's default 208 KiB receive buffer holds ~150 small datagrams
// (loopback skb overhead), so more in flight is lost in the kernel.
const PACING_MAX = 64;
const PACING_WINDOW = 2;
const PACING_TIMEOUT_MS = 250;

interface Ctx {
  o: FuzzLiveOptions;
  rand: () => number;
  pool: Uint8Array[];
  streamSeeds: Uint8Array[];
  failures: string[];
  rows: Array<[string, string]>;
  announced: Set<string>;
  rss: { startKiB: number; peakKiB: number };
  probes: { ok: number; failed: number };
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const mib = (kib: number): string => `${(kib / 1024).toFixed(0)} MiB`;

function fail(c: Ctx, what: string): void {
  c.failures.push(what);
  c.o.log(`FAIL: ${what}`);
}

// Ping (3 tries, memberlist tolerates loss too), RSS, process alive.
async function healthCheck(
  c: Ctx,
  t: AgentChild,
  prober: UdpProber,
  where: string,
  seal: ((b: Uint8Array) => Uint8Array) | null = null,
): Promise<boolean> {
  if (!t.alive) {
    fail(c, `target exited ${where}\n${t.log}`);
    return false;
  }
  let ok = false;
  for (let i = 0; i < 3 && !ok; i++) {
    ok = await prober.ping(t.addr, t.opts.name, 1000, seal);
  }
  if (ok) c.probes.ok++;
  else {
    c.probes.failed++;
    fail(c, `no ack to 3 pings ${where}`);
  }
  const rss = t.rssKiB();
  c.rss.peakKiB = Math.max(c.rss.peakKiB, rss);
  if (rss > c.o.rssLimitMiB * 1024) {
    fail(c, `RSS ${mib(rss)} over ${c.o.rssLimitMiB} MiB ${where}`);
    return false;
  }
  return ok;
}

// ---------------------------------------------------------------------------
// UDP: mutated captures, paced by pings behind each chunk (AIMD on the chunk
// size: a lost pacing ping means the target's socket buffer overflowed).

class Pacer {
  chunk = 16;
  pending: Array<Promise<boolean>> = [];
  sinceAck = 0;
  timeouts = 0;
  pings = 0;
  readonly prober: UdpProber;
  readonly target: AgentChild;
  readonly seal: ((b: Uint8Array) => Uint8Array) | null;
  constructor(
    prober: UdpProber,
    target: AgentChild,
    seal: ((b: Uint8Array) => Uint8Array) | null,
  ) {
    this.prober = prober;
    this.target = target;
    this.seal = seal;
  }

  async sent(): Promise<void> {
    if (++this.sinceAck < this.chunk) return;
    this.sinceAck = 0;
    this.pings++;
    this.pending.push(
      this.prober.ping(
        this.target.addr,
        this.target.opts.name,
        PACING_TIMEOUT_MS,
        this.seal,
      ),
    );
    if (this.pending.length >= PACING_WINDOW) {
      await this.#settle(this.pending.shift()!);
    }
  }

  async #settle(p: Promise<boolean>): Promise<void> {
    if (await p) this.chunk = Math.min(PACING_MAX, this.chunk + 1);
    else {
      this.timeouts++;
      this.chunk = Math.max(8, this.chunk >> 1);
    }
  }

  async drain(): Promise<void> {
    while (this.pending.length > 0) await this.#settle(this.pending.shift()!);
  }
}

async function packetPhase(
  c: Ctx,
  t: AgentChild,
  prober: UdpProber,
): Promise<void> {
  const o = c.o;
  const m0 = await t.metrics();
  const pacer = new Pacer(prober, t, null);
  let sent = 0, filtered = 0, bytes = 0;
  const start = performance.now();
  while (sent < o.packets) {
    const seed = c.pool[Math.floor(c.rand() * c.pool.length)];
    const pkt = mutate(seed, c.rand, c.pool);
    const v = packetVerdict(pkt);
    if (!v.safe) {
      filtered++;
      continue;
    }
    for (const n of v.names) c.announced.add(n);
    prober.send(pkt, t.addr);
    sent++;
    bytes += pkt.length;
    await pacer.sent();
    if (sent % o.checkEvery === 0 || sent === o.packets) {
      await pacer.drain();
      if (!await healthCheck(c, t, prober, `after ${fmt(sent)} packets`)) {
        break;
      }
      const s = (performance.now() - start) / 1000;
      o.log(
        `  packets ${fmt(sent)}  ${fmt(sent / s)}/s  chunk ${pacer.chunk}  ` +
          `RSS ${mib(t.rssKiB())}  members announced ${c.announced.size}`,
      );
    }
  }
  await pacer.drain();
  const secs = (performance.now() - start) / 1000;
  const m1 = await t.metrics();
  const inDelta = m1.sum("grapevine_messages_total", { direction: "in" }) -
    m0.sum("grapevine_messages_total", { direction: "in" });
  c.rows.push(
    ["packets sent", fmt(sent)],
    ["packets filtered (address outside the block)", fmt(filtered)],
    ["packet bytes sent", fmt(bytes)],
    ["packet rate", `${fmt(sent / secs)}/s over ${secs.toFixed(1)} s`],
    ["packets the member took in (messages_in delta)", fmt(inDelta)],
    [
      "pacing pings lost / sent",
      `${fmt(pacer.timeouts)} / ${fmt(pacer.pings)}`,
    ],
  );
  // Plaintext cluster: every datagram reaches the protocol and is counted,
  // minus what the kernel dropped when the socket buffer was full.
  if (inDelta < 0.5 * sent) {
    fail(c, `member took in only ${fmt(inDelta)} of ${fmt(sent)} packets`);
  }
  decodeCounters(c, m0, m1, "packets");
}

function decodeCounters(c: Ctx, m0: Metrics, m1: Metrics, what: string): void {
  if (!m1.has("grapevine_decode_errors_total")) {
    fail(c, "the agent's /metrics lacks grapevine_decode_errors_total");
    return;
  }
  const d = m1.sum("grapevine_decode_errors_total") -
    m0.sum("grapevine_decode_errors_total");
  const dropped = m1.sum("grapevine_dropped_total") -
    m0.sum("grapevine_dropped_total");
  c.rows.push(
    [`decode errors counted (${what})`, fmt(d)],
    [`inputs dropped (${what})`, fmt(dropped)],
  );
  if (d <= 0 && dropped <= 0) {
    fail(c, `neither decode errors nor drops were counted (${what})`);
  }
}

// ---------------------------------------------------------------------------
// TCP streams.

type StreamOutcome = "replied" | "closed" | "error" | "timeout";

interface ExchangeOptions {
  localAddress: string;
  waitMs: number;
  // Close our side after writing (the target then sees EOF).
  end: boolean;
}

function exchange(
  to: HostPort,
  bytes: Uint8Array,
  opts: ExchangeOptions,
): Promise<{ outcome: StreamOutcome; reply: Uint8Array }> {
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    let done = false;
    const sock = net.connect({
      host: to.host,
      port: to.port,
      localAddress: opts.localAddress,
    });
    const finish = (outcome: StreamOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const n = chunks.reduce((a, b) => a + b.length, 0);
      const reply = new Uint8Array(n);
      let at = 0;
      for (const ch of chunks) {
        reply.set(ch, at);
        at += ch.length;
      }
      resolve({ outcome: n > 0 ? "replied" : outcome, reply });
    };
    const timer = setTimeout(() => finish("timeout"), opts.waitMs);
    sock.on("connect", () => {
      sock.write(bytes);
      if (opts.end) sock.end();
    });
    sock.on("data", (d: Uint8Array) => chunks.push(d));
    sock.on("error", () => finish("error"));
    sock.on("close", () => finish("closed"));
  });
}

// A length or count field far past the limits, in the shapes memberlist reads.
function hugeStream(rand: () => number): Uint8Array {
  const str = (
    s: string,
  ): number[] => [0xa0 | s.length, ...new TextEncoder().encode(s)];
  const u32 = (
    n: number,
  ): number[] => [0xce, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  switch (Math.floor(rand() * 4)) {
    case 0: // push-pull claiming 2^32-1 node states
      return Uint8Array.from([
        6,
        0x83,
        ...str("Join"),
        0xc2,
        ...str("Nodes"),
        ...u32(0xffffffff),
        ...str("UserStateLen"),
        0,
      ]);
    case 1: // push-pull claiming 2 GiB of user state
      return Uint8Array.from([
        6,
        0x83,
        ...str("Join"),
        0xc2,
        ...str("Nodes"),
        0,
        ...str("UserStateLen"),
        ...u32(0x7fffffff),
      ]);
    case 2: // a user message claiming 4 GiB
      return Uint8Array.from([
        8,
        0x81,
        ...str("UserMsgLen"),
        ...u32(0xffffffff),
        1,
        2,
        3,
      ]);
    default: // an encrypted frame claiming 4 GiB
      return Uint8Array.from([10, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
  }
}

function makeStream(c: Ctx): Uint8Array {
  const r = c.rand();
  const seed = c.streamSeeds[Math.floor(c.rand() * c.streamSeeds.length)];
  if (r < 0.6) return mutate(seed, c.rand, c.pool);
  if (r < 0.75) {
    // A valid prefix, then garbage.
    const cut = Math.floor(c.rand() * seed.length);
    const junk = randomBytes(1 + Math.floor(c.rand() * 64));
    const out = new Uint8Array(cut + junk.length);
    out.set(seed.subarray(0, cut));
    out.set(junk, cut);
    return out;
  }
  if (r < 0.85) return seed.subarray(0, Math.floor(c.rand() * seed.length));
  return hugeStream(c.rand);
}

async function streamPhase(
  c: Ctx,
  t: AgentChild,
  prober: UdpProber,
  attackers: string[],
): Promise<void> {
  const o = c.o;
  const m0 = await t.metrics();
  const outcomes = new Map<StreamOutcome, number>();
  let next = 0, filtered = 0, finished = 0;
  const start = performance.now();
  const every = Math.max(1, Math.floor(o.streams / 10));
  // Below the 128-stream cap, so each stream is served, not refused.
  const worker = async (w: number): Promise<void> => {
    while (next < o.streams) {
      const bytes = makeStream(c);
      const v = streamVerdict(bytes);
      if (!v.safe) {
        filtered++;
        continue;
      }
      for (const n of v.names) c.announced.add(n);
      next++;
      const r = await exchange(t.addr, bytes, {
        localAddress: attackers[w % attackers.length],
        waitMs: TIMEOUT_MS[o.profile] + 3000,
        end: true,
      });
      outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
      if (++finished % every === 0) {
        await healthCheck(c, t, prober, `after ${fmt(finished)} streams`);
        o.log(
          `  streams ${fmt(finished)}  ${
            fmt(finished / ((performance.now() - start) / 1000))
          }/s  RSS ${mib(t.rssKiB())}`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, i) => worker(i)));
  const secs = (performance.now() - start) / 1000;
  const m1 = await t.metrics();
  const inDelta =
    m1.sum("grapevine_push_pull_streams_total", { direction: "in" }) -
    m0.sum("grapevine_push_pull_streams_total", { direction: "in" });
  c.rows.push(
    ["streams opened", fmt(finished)],
    ["streams filtered (address outside the block)", fmt(filtered)],
    ["stream rate", `${fmt(finished / secs)}/s over ${secs.toFixed(1)} s`],
    [
      "stream outcomes",
      [...outcomes].map(([k, v]) => `${k} ${fmt(v)}`).join(", "),
    ],
    ["streams handed to the protocol (well-formed)", fmt(inDelta)],
  );
  if ((outcomes.get("timeout") ?? 0) > 0) {
    fail(c, `${outcomes.get("timeout")} streams outlived the stream timeout`);
  }
  decodeCounters(c, m0, m1, "streams");
}

// ---------------------------------------------------------------------------
// Abuse: slow streams, a flood held open, oversized push-pulls.

interface Held {
  openedAt: number;
  closedAt: number | null;
  connected: boolean;
}

function hold(
  to: HostPort,
  localAddress: string,
  trickle: Uint8Array | null,
): Held {
  const h: Held = {
    openedAt: performance.now(),
    closedAt: null,
    connected: false,
  };
  const sock = net.connect({ host: to.host, port: to.port, localAddress });
  let timer: ReturnType<typeof setInterval> | undefined;
  sock.on("connect", () => {
    h.connected = true;
    h.openedAt = performance.now();
    if (trickle !== null) {
      let i = 0;
      // 1 byte per second (the Slowloris shape): never completes in time.
      const tick = (): void => {
        if (i < trickle.length) sock.write(trickle.subarray(i, ++i));
      };
      tick();
      timer = setInterval(tick, 1000);
    }
  });
  sock.on("error", () => {});
  sock.on("close", () => {
    clearInterval(timer);
    h.closedAt = performance.now();
  });
  heldSockets.add(sock);
  return h;
}
const heldSockets = new Set<net.Socket>();

// Write `total` bytes as fast as the target reads them; how far it got
// before the target closed.
function blast(
  to: HostPort,
  localAddress: string,
  head: Uint8Array,
  total: number,
  waitMs: number,
): Promise<{ written: number; closedMs: number | null }> {
  return new Promise((resolve) => {
    const start = performance.now();
    let written = 0, done = false;
    const sock = net.connect({ host: to.host, port: to.port, localAddress });
    const fin = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ written, closedMs: closed ? performance.now() - start : null });
    };
    const timer = setTimeout(() => fin(false), waitMs);
    const filler = new Uint8Array(64 * 1024).fill(0xc0);
    const pump = (): void => {
      while (!done && written < total) {
        const b = written === 0 ? head : filler;
        written += b.length;
        if (!sock.write(b)) {
          sock.once("drain", pump);
          return;
        }
      }
    };
    sock.on("connect", pump);
    sock.on("error", () => fin(true));
    sock.on("close", () => fin(true));
  });
}

async function abusePhase(
  c: Ctx,
  t: AgentChild,
  peer: AgentChild,
  prober: UdpProber,
  attackers: string[],
): Promise<void> {
  const o = c.o;
  const timeoutMs = TIMEOUT_MS[o.profile];
  const m0 = await t.metrics();
  // Slow streams first (so they hold served slots), then the flood.
  const slowBody = encodePushPull({
    join: false,
    nodes: [],
    userState: new Uint8Array(0),
  });
  const slow = Array.from(
    { length: o.slow },
    (_, i) => hold(t.addr, attackers[i % attackers.length], slowBody),
  );
  await delay(300);
  const flood: Held[] = [];
  for (let i = 0; i < o.flood; i++) {
    flood.push(hold(t.addr, attackers[i % attackers.length], null));
    if (i % 500 === 499) await delay(10);
  }
  await delay(Math.min(1000, timeoutMs / 2));
  // While flooded: UDP probes still answered.
  await healthCheck(c, t, prober, "during the stream flood");
  const deadline = performance.now() + timeoutMs + 5000;
  while (performance.now() < deadline) {
    if ([...slow, ...flood].every((h) => h.closedAt !== null || !h.connected)) {
      break;
    }
    await delay(100);
  }
  const lifetimes = flood.filter((h) => h.connected && h.closedAt !== null).map(
    (h) => h.closedAt! - h.openedAt,
  );
  const quick = lifetimes.filter((ms) => ms < timeoutMs / 2).length;
  const stillOpen =
    flood.filter((h) => h.connected && h.closedAt === null).length +
    slow.filter((h) => h.connected && h.closedAt === null).length;
  const neverConnected = flood.filter((h) => !h.connected).length;
  const slowLives = slow.filter((h) => h.closedAt !== null).map((h) =>
    h.closedAt! - h.openedAt
  );
  for (const s of heldSockets) s.destroy();
  heldSockets.clear();
  c.rows.push(
    [
      "flood: held / closed at once (cap) / cut at timeout / never connected",
      `${fmt(o.flood)} / ${fmt(quick)} / ${fmt(lifetimes.length - quick)} / ${
        fmt(neverConnected)
      }`,
    ],
    [
      "slow streams (1 byte/s) cut after",
      slowLives.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(", ") || "-",
    ],
  );
  if (stillOpen > 0) {
    fail(
      c,
      `${stillOpen} streams still open past the ${timeoutMs} ms stream timeout`,
    );
  }
  if (lifetimes.length - quick > 128 + o.slow) {
    fail(
      c,
      `${lifetimes.length - quick} streams were served at once (cap 128)`,
    );
  }
  for (const ms of slowLives) {
    if (ms > timeoutMs + 2000) {
      fail(c, `slow stream lived ${ms.toFixed(0)} ms (timeout ${timeoutMs})`);
    }
  }
  // Oversized: each header must be refused at once, the blast of nil node
  // states and a >20 MiB user state must be cut within the stream timeout.
  const huge: string[] = [];
  for (let k = 0; k < 4; k++) {
    const r = await exchange(t.addr, hugeStream(() => k / 4 + 0.01), {
      localAddress: attackers[0],
      waitMs: timeoutMs + 3000,
      end: false,
    });
    huge.push(r.outcome);
    if (r.outcome === "timeout") {
      fail(c, `oversized header #${k} not refused within the stream timeout`);
    }
  }
  // 20,000,000 node states fit the 20 MiB limit; we send 19.9 MB of nils and
  // stop, so the message never completes and must be cut at the timeout.
  const bigHead = Uint8Array.from([
    6,
    0x83,
    0xa4,
    ...new TextEncoder().encode("Join"),
    0xc2,
    0xa5,
    ...new TextEncoder().encode("Nodes"),
    0xce,
    0x01,
    0x31,
    0x2d,
    0x00,
    0xac,
    ...new TextEncoder().encode("UserStateLen"),
    0,
  ]);
  // While the nil node states pour in, the member must keep answering pings
  // promptly (parsing a growing buffer from the start on every read would
  // cost O(n²) and starve the event loop).
  let blasting = true;
  const rtts: number[] = [];
  const pinger = (async () => {
    while (blasting) {
      const t0 = performance.now();
      const ok = await prober.ping(t.addr, t.opts.name, 2000);
      rtts.push(ok ? performance.now() - t0 : Infinity);
      await delay(100);
    }
  })();
  // Several at once, each on its own slot.
  const nodesBlasts = await Promise.all(
    Array.from({ length: o.blasts }, (_, i) =>
      blast(
        t.addr,
        attackers[i % attackers.length],
        bigHead,
        19_900_000,
        timeoutMs + 5000,
      )),
  );
  const nodesBlast = nodesBlasts.reduce((a, b) =>
    a.closedMs === null || (b.closedMs !== null && b.closedMs > a.closedMs)
      ? a
      : b
  );
  blasting = false;
  await pinger;
  const worstRttMs = Math.max(0, ...rtts);
  c.rows.push([
    "ping RTT while blasted: median / worst",
    `${(rtts.sort((a, b) => a - b)[rtts.length >> 1] ?? 0).toFixed(1)} ms / ${
      worstRttMs === Infinity ? "lost" : `${worstRttMs.toFixed(1)} ms`
    } (${rtts.length} pings)`,
  ]);
  // Two pings in a row unanswered (the member silent for 4 s, four LAN probe
  // intervals) fail; the RTTs are reported and include this process's own
  // event loop, busy writing the blasts.
  if (rtts.some((ms, i) => ms === Infinity && rtts[i + 1] === Infinity)) {
    fail(c, "two pings in a row went unanswered while push-pulls were blasted");
  }
  const stateBlast = await blast(
    t.addr,
    attackers[2],
    Uint8Array.from([
      6,
      0x83,
      0xa4,
      74,
      111,
      105,
      110,
      0xc2,
      0xa5,
      78,
      111,
      100,
      101,
      115,
      0,
      0xac,
      ...new TextEncoder().encode("UserStateLen"),
      0xce,
      0x01,
      0x50,
      0x00,
      0x00,
    ]), // 21 MiB
    32 << 20,
    timeoutMs + 5000,
  );
  c.rows.push(
    ["oversized headers (nodes, user state, user msg, frame)", huge.join(", ")],
    [
      `${o.blasts} push-pulls of 20,000,000 nil node states (19.9 MB sent each): last cut after`,
      nodesBlast.closedMs === null
        ? "NOT CUT"
        : `${mib(nodesBlast.written / 1024)}, ${
          (nodesBlast.closedMs / 1000).toFixed(1)
        } s`,
    ],
    [
      "21 MiB user state blasted: cut after",
      stateBlast.closedMs === null
        ? "NOT CUT"
        : `${mib(stateBlast.written / 1024)}, ${
          (stateBlast.closedMs / 1000).toFixed(1)
        } s`,
    ],
  );
  if (nodesBlast.closedMs === null) {
    fail(c, "an incomplete 20,000,000-node push-pull was not cut");
  }
  if (stateBlast.closedMs === null) {
    fail(c, "a 21 MiB push-pull user state was not cut");
  }
  await healthCheck(c, t, prober, "after the abuse");
  // Still serves push-pull: a valid exchange returns the target's state
  // with both real members alive.
  try {
    const pp = await pushPullState(t, null, attackers[4]);
    const alive = [t.opts.name, peer.opts.name].every((n) =>
      pp.nodes.some((x) => x.name === n && x.state === 0)
    );
    c.rows.push([
      "valid push-pull after the abuse",
      `${alive ? "ok" : "FAILED"} (${pp.nodes.length} node states)`,
    ]);
    if (!alive) fail(c, "push-pull reply after the abuse lacks a real member");
  } catch (e) {
    fail(c, `push-pull after the abuse failed: ${(e as Error).message}`);
  }
  // The peer's own join (push-pull both ways) is reported, not asserted: a
  // captured alive may carry a delegate version of 0, which memberlist's
  // verifyProtocol on the joiner refuses for the whole exchange (state.go
  // mergeRemoteState), exactly as Go memberlist would.
  let joinResult = "ok";
  try {
    await peer.rpc.join([`${t.addr.host}:${t.addr.port}`], false);
  } catch (e) {
    joinResult = `refused: ${(e as Error).message.slice(0, 120)}`;
  }
  c.rows.push(["peer's join to the target after the abuse", joinResult]);
  const m1 = await t.metrics();
  if (m1.has("grapevine_dropped_total")) {
    c.rows.push([
      "streams refused by the cap / cut at the timeout",
      `${
        fmt(
          m1.sum("grapevine_dropped_total", { reason: "stream-cap" }) -
            m0.sum("grapevine_dropped_total", { reason: "stream-cap" }),
        )
      } / ${
        fmt(
          m1.sum("grapevine_dropped_total", { reason: "stream-timeout" }) -
            m0.sum("grapevine_dropped_total", { reason: "stream-timeout" }),
        )
      }`,
    ]);
  }
}

// ---------------------------------------------------------------------------
// Member table invariants.

interface View {
  name: string;
  addr: string;
  port: number;
  status: string;
  tags: string;
}

function view(ms: RpcMember[]): View[] {
  return ms.map((m) => ({
    name: m.name,
    addr: Array.from(m.addr).join("."),
    port: m.port,
    status: m.status,
    tags: JSON.stringify([...m.tags].sort()),
  })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// After settle the two views agree: the same members alive, and every member
// both know has the same address and status. A member one side lists as
// failed or left may be missing from the other: memberlist ignores suspect
// and dead gossip about a name it never saw alive (state.go suspectNode,
// deadNode), and push-pull merges them the same way.
function viewsAgree(tv: View[], pv: View[]): string[] {
  const diffs: string[] = [];
  const pm = new Map(pv.map((m) => [m.name, m]));
  const tm = new Map(tv.map((m) => [m.name, m]));
  for (const m of tv) {
    const p = pm.get(m.name);
    if (p === undefined) {
      if (m.status === "alive") {
        diffs.push(`alive at target only: ${JSON.stringify(m)}`);
      }
    } else if (JSON.stringify(p) !== JSON.stringify(m)) {
      diffs.push(
        `${m.name}: target ${JSON.stringify(m)} peer ${JSON.stringify(p)}`,
      );
    }
  }
  for (const p of pv) {
    if (!tm.has(p.name) && p.status === "alive") {
      diffs.push(`${p.name} alive at peer only`);
    }
  }
  return diffs;
}

async function checkTables(
  c: Ctx,
  t: AgentChild,
  peer: AgentChild,
  settleMs: number,
): Promise<void> {
  const known = new Set([...c.announced, t.opts.name, peer.opts.name]);
  const deadline = Date.now() + settleMs;
  const started = Date.now();
  let tv: View[] = [], pv: View[] = [], diffs: string[] = [];
  for (;;) {
    tv = view(await t.members());
    pv = view(await peer.members());
    diffs = viewsAgree(tv, pv);
    // Settled: nobody but the two real agents is still alive (the captured
    // names point at addresses where nothing listens).
    const settled = tv.every((m) =>
      m.status !== "alive" || m.name === t.opts.name ||
      m.name === peer.opts.name
    );
    if ((diffs.length === 0 && settled) || Date.now() > deadline) break;
    await delay(500);
  }
  const settleSecs = (Date.now() - started) / 1000;
  const raw = await t.members();
  for (const m of raw) {
    if (!known.has(m.name)) {
      fail(
        c,
        `member ${
          JSON.stringify(m.name)
        } was never announced by a well-formed alive`,
      );
    }
    if (!inBlock(m.addr)) {
      fail(
        c,
        `member ${m.name} has address ${
          Array.from(m.addr).join(".")
        } outside the block`,
      );
    }
    if (!Number.isInteger(m.port) || m.port < 0 || m.port > 65535) {
      fail(c, `member ${m.name} has port ${m.port}`);
    }
  }
  if (raw.length > known.size) {
    fail(c, `${raw.length} members but only ${known.size} names announced`);
  }
  for (const who of [t.opts.name, peer.opts.name]) {
    for (const [side, v] of [["target", tv], ["peer", pv]] as const) {
      if (v.find((m) => m.name === who)?.status !== "alive") {
        fail(c, `${who} is not alive in the ${side}'s view`);
      }
    }
  }
  // The real members' records must agree. The captured names converge only
  // as fast as SWIM lets them: alives and push-pulls reach the peer through
  // random fan-out, and the peer's own join can be refused as a whole for one
  // garbage member's version (see abusePhase); their diffs are reported.
  const real = new Set([t.opts.name, peer.opts.name]);
  const realOf = (v: View[]): string =>
    JSON.stringify(v.filter((m) => real.has(m.name)));
  if (realOf(tv) !== realOf(pv)) {
    fail(
      c,
      `target and peer disagree about themselves: ${realOf(tv)} vs ${
        realOf(pv)
      }`,
    );
  }
  const counts = (v: View[]): string => {
    const n = new Map<string, number>();
    for (const m of v) n.set(m.status, (n.get(m.status) ?? 0) + 1);
    return `${v.length} (${[...n].map(([k, x]) => `${k} ${x}`).join(", ")})`;
  };
  c.rows.push(
    ["names announced by well-formed alives", fmt(c.announced.size)],
    [
      "target's / peer's members after settle",
      `${counts(tv)} / ${counts(pv)}; ${
        diffs.length === 0
          ? `views agree after ${settleSecs.toFixed(1)} s`
          : `${diffs.length} records of captured names differ after ${
            settleSecs.toFixed(1)
          } s: ${diffs.slice(0, 3).join("; ")}`
      }`,
    ],
  );
}

// Tags set on the peer reach the target: the member still gossips.
async function checkSync(
  c: Ctx,
  t: AgentChild,
  peer: AgentChild,
): Promise<void> {
  const value = `v${Date.now()}`;
  await peer.rpc.updateTags(new Map([["fuzz", value]]), null);
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const p = (await t.members()).find((m) => m.name === peer.opts.name);
    if (p?.tags.get("fuzz") === value) {
      c.rows.push(["peer's tag change seen by the target", "ok"]);
      return;
    }
    await delay(200);
  }
  const seen = (await peer.members()).find((m) => m.name === t.opts.name);
  fail(
    c,
    `the target never saw the peer's tag change (the peer sees the target ${seen?.status})`,
  );
}

// ---------------------------------------------------------------------------
// Encrypted cluster: nothing without the key changes state.

// One valid push-pull exchange (no node states of ours, so nothing merges):
// the target's whole state, with incarnations.
async function pushPullState(
  t: AgentChild,
  ring: Keyring | null,
  from: string,
): Promise<PushPull> {
  const body = encodePushPull({
    join: false,
    nodes: [],
    userState: new Uint8Array(0),
  });
  const req = ring === null ? body : sealStream(ring, body);
  const r = await exchange(t.addr, req, {
    localAddress: from,
    waitMs: 5000,
    end: false,
  });
  let msg = ring === null ? r.reply : openSealedStream(ring, r.reply);
  if (msg[0] === 9) msg = decompress(msg, 1 << 24);
  return decodePushPull(new MsgpackReader(msg, 1));
}

async function snapshot(
  t: AgentChild,
  ring: Keyring,
  from: string,
): Promise<string> {
  const pp = await pushPullState(t, ring, from);
  const nodes = pp.nodes.map((n) =>
    `${n.name}@${
      Array.from(n.addr).join(".")
    }:${n.port}#${n.incarnation}/${n.state}`
  ).sort();
  const members = view(await t.members());
  return JSON.stringify({ nodes, members });
}

async function encryptedPhase(c: Ctx, attackers: string[]): Promise<void> {
  const o = c.o;
  const key = randomBytes(32);
  const ring = new Keyring([new Uint8Array(key)]);
  const wrong = new Keyring([new Uint8Array(randomBytes(32))]);
  const b64 = encodeKey(new Uint8Array(key));
  const seal = (b: Uint8Array): Uint8Array => sealPacket(ring, b);
  const peer = await AgentChild.start({
    runtime: "deno",
    name: "fuzz-epeer",
    host: `127.0.141.${10 * o.slot + 11}`,
    encrypt: b64,
    profile: o.profile,
  });
  let t: AgentChild | null = null;
  const prober = await UdpProber.bind(attackers[3], ring);
  try {
    t = await AgentChild.start({
      runtime: o.target,
      name: "fuzz-etarget",
      root: o.root,
      host: `127.0.140.${10 * o.slot + 2}`,
      encrypt: b64,
      join: [`${peer.addr.host}:7946`],
      profile: o.profile,
    });
    await waitAlive(t, peer);
    await delay(1500);
    const before = await snapshot(t, ring, attackers[4]);
    const m0 = await t.metrics();
    const pacer = new Pacer(prober, t, seal);
    const kinds = { plaintext: 0, wrongKey: 0, tampered: 0 };
    for (let i = 0; i < o.encryptedPackets; i++) {
      const seed = c.pool[Math.floor(c.rand() * c.pool.length)];
      const plain = mutate(seed, c.rand, c.pool);
      if (!packetVerdict(plain).safe) continue; // never a hazard, even if a bug let it in
      let pkt: Uint8Array;
      const k = i % 3;
      if (k === 0) {
        pkt = plain;
        kinds.plaintext++;
      } else if (k === 1) {
        pkt = sealPacket(wrong, plain);
        kinds.wrongKey++;
      } else {
        // A valid sealed packet (a real ping) replayed with a mutation.
        const valid = seal(seed);
        pkt = mutate(valid, c.rand, c.pool);
        if (
          pkt.length === valid.length && pkt.every((b, j) => b === valid[j])
        ) pkt[pkt.length - 1] ^= 1;
        kinds.tampered++;
      }
      prober.send(pkt, t.addr);
      await pacer.sent();
    }
    await pacer.drain();
    const streams = Math.max(30, Math.floor(o.encryptedPackets / 10));
    const outcomes = new Map<string, number>();
    for (let i = 0; i < streams; i++) {
      const seed = c.streamSeeds[Math.floor(c.rand() * c.streamSeeds.length)];
      let bytes: Uint8Array;
      if (i % 3 === 0) bytes = seed; // plaintext
      else if (i % 3 === 1) bytes = sealStream(wrong, seed);
      else {
        const valid = sealStream(ring, seed);
        bytes = valid.slice();
        // Tamper past the 5-byte frame header: the frame stays readable but
        // no longer authenticates.
        const at = 5 + Math.floor(c.rand() * (valid.length - 5));
        bytes[at] ^= 1 << Math.floor(c.rand() * 8);
      }
      const r = await exchange(t.addr, bytes, {
        localAddress: attackers[i % 3],
        waitMs: TIMEOUT_MS[o.profile] + 3000,
        end: true,
      });
      outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
    }
    await healthCheck(c, t, prober, "after the encrypted attack", seal);
    const after = await snapshot(t, ring, attackers[4]);
    const m1 = await t.metrics();
    const inDelta = m1.sum("grapevine_messages_total", { direction: "in" }) -
      m0.sum("grapevine_messages_total", { direction: "in" });
    const sent = kinds.plaintext + kinds.wrongKey + kinds.tampered;
    c.rows.push(
      [
        "encrypted: plaintext / wrong-key / tampered packets",
        `${fmt(kinds.plaintext)} / ${fmt(kinds.wrongKey)} / ${
          fmt(kinds.tampered)
        }`,
      ],
      [
        "encrypted: streams (plaintext, wrong key, tampered)",
        `${fmt(streams)}: ${
          [...outcomes].map(([k, v]) => `${k} ${v}`).join(", ")
        }`,
      ],
      [
        "encrypted: packets that reached the protocol",
        `${fmt(inDelta)} (${fmt(pacer.pings + 3)} of them our sealed pings)`,
      ],
      [
        "encrypted: state (members, incarnations) unchanged",
        String(before === after),
      ],
    );
    if (before !== after) {
      fail(c, `encrypted target's state changed:\n${before}\n${after}`);
    }
    // Only our sealed pings and the peer's gossip may reach the protocol.
    if (inDelta > pacer.pings + 3 + sent / 20) {
      fail(
        c,
        `${fmt(inDelta)} packets reached the protocol of the encrypted target`,
      );
    }
    if (m1.has("grapevine_dropped_total")) {
      const d = (r: string): number =>
        m1.sum("grapevine_dropped_total", { reason: r }) -
        m0.sum("grapevine_dropped_total", { reason: r });
      // Packets: undecryptable, or (a mutation made byte 0 a label header)
      // carrying a label we do not have.
      const counted = d("decrypt") + d("label");
      // Every refused stream, whatever the reason (the cap and the timeout
      // aside: none of these streams met them).
      const reasons = driverReasons(m0, m1).filter(([r]) =>
        r.startsWith("stream-") && r !== "stream-cap"
      );
      const streamDrops = reasons.reduce((a, [, n]) => a + n, 0);
      c.rows.push([
        "encrypted: driver drops by reason",
        driverReasons(m0, m1).map(([r, n]) => `${r} ${fmt(n)}`).join(", "),
      ]);
      c.rows.push([
        "encrypted: packets / streams counted as dropped",
        `${fmt(counted)} / ${fmt(streamDrops)}`,
      ]);
      if (counted < 0.5 * sent) {
        fail(
          c,
          `only ${fmt(counted)} of ${fmt(sent)} undecryptable packets counted`,
        );
      }
      // memberlist's version byte is not authenticated (security.go: the
      // GCM additional data is the label, or the stream's 5-byte header): a
      // tampered frame whose version flips 1→0 still opens when its last
      // plaintext byte reads as PKCS#7 padding, yielding the key holder's
      // own message cut short. Those reach the protocol as malformed input
      // and are counted there.
      const protocolCounted = m1.sum("grapevine_decode_errors_total") -
        m0.sum("grapevine_decode_errors_total") +
        m1.sum("grapevine_dropped_total", { layer: "memberlist" }) -
        m0.sum("grapevine_dropped_total", { layer: "memberlist" });
      c.rows.push([
        "encrypted: bad streams opened anyway (version byte flipped) / counted by the protocol",
        `${fmt(streams - streamDrops)} / ${fmt(protocolCounted)}`,
      ]);
      if (streamDrops + protocolCounted < streams) {
        fail(
          c,
          `only ${fmt(streamDrops)} + ${fmt(protocolCounted)} of ${
            fmt(streams)
          } bad streams counted`,
        );
      }
    } else fail(c, "the agent's /metrics lacks grapevine_dropped_total");
  } finally {
    prober.close();
    await t?.stop();
    await peer.stop();
  }
}

// Deltas of the driver's drop counters, by reason.
function driverReasons(m0: Metrics, m1: Metrics): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [k, v] of m1.samples) {
    if (!k.startsWith("grapevine_dropped_total{")) continue;
    if (!k.includes('layer="driver"')) continue;
    const reason = /reason="([^"]*)"/.exec(k)?.[1] ?? "";
    const n = v - (m0.samples.get(k) ?? 0);
    if (n > 0) out.push([reason, n]);
  }
  return out;
}

async function waitAlive(t: AgentChild, peer: AgentChild): Promise<void> {
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    const a = await t.members(), b = await peer.members();
    const ok = (ms: RpcMember[]): boolean =>
      [t.opts.name, peer.opts.name].every((n) =>
        ms.find((m) => m.name === n)?.status === "alive"
      );
    if (ok(a) && ok(b)) return;
    await delay(200);
  }
  throw new Error(
    `target and peer never saw each other alive\n${t.log}\n${peer.log}`,
  );
}

// ---------------------------------------------------------------------------

/**
 * Run the whole campaign against one target runtime.
 *
 * @param opts counts, runtime, seed, bounds
 * @returns failures and the summary rows
 */
export async function runFuzzLive(
  opts: Partial<FuzzLiveOptions> = {},
): Promise<FuzzLiveResult> {
  const o: FuzzLiveOptions = { ...FULL_RUN, ...opts };
  const pool = liveCorpus();
  const streamSeeds = pool.filter((b) => [0, 6, 8, 9, 10, 13].includes(b[0]));
  const c: Ctx = {
    o,
    rand: seeded(o.seed),
    pool,
    streamSeeds,
    failures: [],
    rows: [],
    announced: new Set(),
    rss: { startKiB: 0, peakKiB: 0 },
    probes: { ok: 0, failed: 0 },
  };
  const attackers = [1, 2, 3, 4, 5].map((i) => `127.0.141.${10 * o.slot + i}`);
  const started = performance.now();
  c.rows.push(["target", `${o.target} (seed ${o.seed}, profile ${o.profile})`]);
  const peer = await AgentChild.start({
    runtime: "deno",
    name: "fuzz-peer",
    host: `127.0.141.${10 * o.slot + 10}`,
    profile: o.profile,
  });
  let t: AgentChild | null = null;
  const prober = await UdpProber.bind(attackers[0]);
  try {
    t = await AgentChild.start({
      runtime: o.target,
      name: "fuzz-target",
      root: o.root,
      host: `127.0.140.${10 * o.slot + 1}`,
      join: [`${peer.addr.host}:7946`],
      profile: o.profile,
    });
    const exe = t.exe();
    if (!/\/(deno|bun)(\.exe)?$/.test(exe)) {
      fail(c, `target pid runs ${exe}, not the runtime`);
    }
    c.rows.push(["target binary (/proc/PID/exe)", exe]);
    await waitAlive(t, peer);
    c.rss.startKiB = c.rss.peakKiB = t.rssKiB();
    await healthCheck(c, t, prober, "before the fuzz");
    o.log(`target ${o.target} pid ${t.pid} up; RSS ${mib(c.rss.startKiB)}`);
    await packetPhase(c, t, prober);
    o.log("streams");
    await streamPhase(c, t, prober, attackers);
    await checkTables(
      c,
      t,
      peer,
      o.settleMs ?? (o.profile === "lan" ? 60_000 : 20_000),
    );
    o.log("abuse");
    await abusePhase(c, t, peer, prober, attackers);
    await checkSync(c, t, peer);
    await healthCheck(c, t, prober, "at the end");
    const endKiB = t.rssKiB();
    c.rows.push(
      ["probes answered / failed", `${c.probes.ok} / ${c.probes.failed}`],
      [
        "RSS start / peak / end",
        `${mib(c.rss.startKiB)} / ${mib(c.rss.peakKiB)} / ${mib(endKiB)}`,
      ],
    );
  } catch (e) {
    fail(c, `aborted: ${(e as Error).stack ?? e}\n${t?.log ?? ""}`);
  } finally {
    prober.close();
    await t?.stop();
    await peer.stop();
  }
  if (o.encryptedPackets > 0) {
    o.log("encrypted");
    try {
      await encryptedPhase(c, attackers);
    } catch (e) {
      fail(c, `encrypted phase aborted: ${(e as Error).stack ?? e}`);
    }
  }
  c.rows.push([
    "time",
    `${((performance.now() - started) / 1000).toFixed(1)} s`,
  ]);
  c.rows.push([
    "result",
    c.failures.length === 0 ? "PASS" : `FAIL (${c.failures.length})`,
  ]);
  return { failures: c.failures, rows: c.rows };
}

/** The summary as a Markdown table. */
export function formatRows(rows: Array<[string, string]>): string {
  return [
    "| what | value |",
    "|---|---|",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      packets: { type: "string" },
      streams: { type: "string" },
      target: { type: "string" },
      seed: { type: "string" },
      profile: { type: "string" },
      "check-every": { type: "string" },
      "rss-limit-mib": { type: "string" },
      flood: { type: "string" },
      slow: { type: "string" },
      blasts: { type: "string" },
      "encrypted-packets": { type: "string" },
      "cli-root": { type: "string" },
      slot: { type: "string" },
    },
  });
  const num = (
    v: string | undefined,
    d: number,
  ): number => (v === undefined ? d : Number(v.replaceAll("_", "")));
  const target = values.target ?? "deno";
  if (target !== "deno" && target !== "bun") {
    throw new RangeError(`Unknown target: ${target}`);
  }
  const packets = num(values.packets, FULL_RUN.packets);
  const r = await runFuzzLive({
    packets,
    streams: num(values.streams, FULL_RUN.streams),
    target,
    seed: num(values.seed, 1),
    profile: values.profile === "local" ? "local" : "lan",
    checkEvery: num(
      values["check-every"],
      Math.max(1000, Math.min(100_000, Math.floor(packets / 20))),
    ),
    rssLimitMiB: num(values["rss-limit-mib"], FULL_RUN.rssLimitMiB),
    flood: num(values.flood, FULL_RUN.flood),
    slow: num(values.slow, FULL_RUN.slow),
    blasts: num(values.blasts, FULL_RUN.blasts),
    root: values["cli-root"],
    slot: num(values.slot, 0),
    encryptedPackets: num(
      values["encrypted-packets"],
      Math.min(100_000, packets),
    ),
  });
  console.log(`\nfuzz-live summary\n${formatRows(r.rows)}`);
  if (r.failures.length > 0) {
    console.log(
      `\n${r.failures.length} failure(s):\n- ${r.failures.join("\n- ")}`,
    );
    process.exit(1);
  }
  process.exit(0);
}
