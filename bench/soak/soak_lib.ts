/**
 * The soak of issue #7: a mixed cluster of real `serf agent`s (Serf 0.9.4 on
 * memberlist 0.2.2) and our agents (half on Deno, half on Bun), one LAN
 * cluster, under seeded churn; at the end every live agent must agree on
 * membership and tags, and no agent may have logged or counted a decode
 * error. {@linkcode runSoak} is the whole run; `soak.ts` is its command line
 * and `tests/interop/soak_test.ts` its short CI version.
 *
 * Churn, drawn from a {@linkcode Prng} (the schedule is seeded; what the
 * processes do in between is real time, so two runs with one seed differ in
 * detail):
 *
 * - `kill9`: SIGKILL, down 1–15 s, restart with the same name and address,
 *   joining up to three live members;
 * - `leave`: the `leave` RPC (graceful; the agent exits), down 1–10 s, restart;
 * - `pause`: SIGSTOP for 2–8 s, then SIGCONT;
 * - `tags`: the `tags` RPC sets or deletes the tag `soak`;
 * - `event`: a user event (not coalescable) from a serf or one of ours;
 *   every member live from the send until {@linkcode EVENT_WINDOW_MS} later
 *   must have it on its RPC event stream;
 * - `query`: the query `soakq` from a serf or one of ours; every agent
 *   answers from a `query:soakq` handler script;
 * - `force-leave` (once, mid-run): SIGKILL, wait until a live agent sees the
 *   member failed, `force-leave` it there, see it left, then restart it.
 *
 * At most {@linkcode SoakOptions.maxDown} members are down, paused, leaving
 * or restarting at once, and never half of the cluster, so a majority stays
 * up. Every action ends with its member running again.
 *
 * Decode errors: every serf log line is matched against
 * {@linkcode SERF_DECODE_PATTERNS} as it arrives (stream errors that are
 * plain I/O, {@linkcode NETWORK_ERROR}, are counted apart: a `kill -9` or a
 * SIGSTOP mid-stream causes them); our agents' logs get the same patterns,
 * and their counters come from `soak_agent.ts` (`decodeErrors` of Serf and
 * memberlist, the driver's stream decode drops). A self-check at start sends
 * one malformed ping (a ping type byte, then the never-used msgpack byte
 * 0xc1) to one serf and one of ours, requires both to count it, and then
 * excludes exactly that one.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import {
  chmodSync,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
  type WriteStream,
} from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { RpcClient, type RpcStream } from "../../src/agent/client.ts";
import type { EventRecord, RpcMember } from "../../src/codec/rpc.ts";
import { Prng } from "../../src/testing/prng.ts";
import { runtimeBin } from "../../tests/helpers/cli_member.ts";
import { delay, SERF_BIN } from "../../tests/interop/serf_harness.ts";
import type { SoakStatsLine } from "./soak_agent.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const GOSSIP_PORT = 7946;
const RPC_PORT = 7373;
/**
 * How long after a send an event must have reached every member live
 * throughout. Gossip reaches nearly everyone in a second; a member it missed
 * (UDP on a loaded machine, a member just back) gets it at its next
 * push-pull, which serf's state carries events in: memberlist push-pulls
 * every 30 s (LAN profile, ≤ 32 members), after a random first stagger of
 * up to 30 s. Seen: 35 s after the send, for a member restarted 4 s before.
 */
export const EVENT_WINDOW_MS = 60_000;
/** How long an event's sender is kept from churn after the send. */
const SENDER_HOLD_MS = 3_000;
/** Query timeout of the churn queries. */
const QUERY_TIMEOUT_MS = 5_000;
/** Deadline of one RPC call; a paused or dying agent must not stall the run. */
const RPC_CALL_MS = 8_000;
/** Deadline of one agent start: RPC up and (with seeds) joined. */
const START_MS = 30_000;
/** Log lines kept per process for failure messages (matches are kept apart). */
const TAIL_LINES = 200;
/** Decode-error lines kept per process, to print. */
const MAX_MATCHES = 50;

/**
 * Log lines that mean malformed or unknown input, as serf 0.9.4 words them
 * (from the strings of `/usr/bin/serf`: memberlist `net.go`, serf
 * `delegate.go`, `serf.go`, `query.go`); our agent logs the same messages.
 */
export const SERF_DECODE_PATTERNS: readonly RegExp[] = [
  /Failed to decode/i, // memberlist: ping/ack/nack/alive/suspect/dead/compound …; serf: tags, remote state, key request, coordinate …
  /Error decoding/i, // serf: join/leave/user event/query/query response/relay header
  /(msg|Message) type \(\d+\) not supported/i, // memberlist: unknown packet or compound part type
  /Received invalid msgType/i, // memberlist: unknown stream type
  /UDP packet too short/i,
  /invalid checksum/i, // memberlist: CRC mismatch
  /Received message of unknown type/i, // serf: unknown Serf message type
  /bad type prefix/i, // serf: remote state
  /Invalid conflict query response type/i,
  /unrecognized filter type|failed to decode filter/i, // serf: query filters
  /Failed to read remote state/i, // memberlist: push/pull decode (unless plain I/O)
  /failed to receive/i, // memberlist: stream read/decode, user message (unless plain I/O)
  /malformed/i,
];

/**
 * A matched line that is plain I/O, not malformed input: the peer was
 * killed, paused past a deadline, or refused the connection.
 */
export const NETWORK_ERROR: RegExp =
  /connection reset by peer|broken pipe|i\/o timeout|use of closed network connection|connection refused|: EOF\b|unexpected EOF|deadline exceeded/i;

/** Churn action kinds, in summary order. */
export const ACTION_KINDS = [
  "kill9",
  "leave",
  "pause",
  "tags",
  "event",
  "query",
  "force-leave",
] as const;

/** One churn action kind. */
export type ActionKind = typeof ACTION_KINDS[number];

/** What to run. */
export interface SoakOptions {
  /** Churn duration in minutes. */
  minutes: number;
  /** Number of serf agents. */
  serf: number;
  /** Number of our agents (alternately Deno and Bun, Deno first). */
  ours: number;
  /** Seed of the churn schedule. */
  seed: number;
  /** First host number: serf i on 127.0.130.(hostBase + i − 1), ours on 127.0.131.(…). */
  hostBase: number;
  /** Most members disrupted at once (capped below half the cluster). */
  maxDown: number;
  /** Mean time between churn actions. */
  actionIntervalMs: number;
  /** Most time the settle may take after churn stops. */
  settleTimeoutMs: number;
  /** Do the one force-leave. */
  forceLeave: boolean;
  /** Progress lines. */
  log: (line: string) => void;
  /** Agents' log level (`info`; `debug` shows serf's intents and messages). */
  logLevel: string;
  /** Write every process's output and the action timeline here (null: keep only tails). */
  logDir: string | null;
}

/** Defaults of {@linkcode SoakOptions} (issue #7's run). */
export const DEFAULT_SOAK_OPTIONS: SoakOptions = {
  minutes: 10,
  serf: 8,
  ours: 8,
  seed: 1,
  hostBase: 1,
  maxDown: 3,
  actionIntervalMs: 2_000,
  settleTimeoutMs: 60_000,
  forceLeave: true,
  log: (line) => console.error(line),
  logLevel: "info",
  logDir: null,
};

/** The outcome of a soak. */
export interface SoakResult {
  /** True when every check passed. */
  ok: boolean;
  /** What failed, one line each. */
  failures: string[];
  /** Churn actions completed, by kind. */
  actions: Record<ActionKind, number>;
  /** Churn events: sent, and (member, event) deliveries expected and seen. */
  events: {
    sent: number;
    fromSerf: number;
    fromOurs: number;
    expected: number;
    delivered: number;
    /** (event, member life) pairs not expected: the life joined ignoring events older than its join clock. */
    ignoredOld: number;
  };
  /** Churn queries: sent, responders expected (live at send) and answers received. */
  queries: {
    sent: number;
    expected: number;
    answered: number;
    complete: number;
  };
  /** Restarts, and incarnation checks through our agents' tables. */
  restarts: {
    total: number;
    checked: number;
    bumpRequired: number;
    bumped: number;
    lower: number;
  };
  /** Whether every agent reported the same alive members and tags at the end. */
  agreement: boolean;
  /** Time from the churn's end until the actions in flight had finished (every member back), ms. */
  drainMs: number;
  /** Time from the drain to agreement, ms (NaN when never). */
  settleMs: number;
  /** The final event and query from each kind reached every member. */
  finalChecks: string[];
  /** Decode errors: serf log lines, our counters + log lines (self-check excluded). */
  decodeErrors: {
    serf: number;
    ours: number;
    serfLines: string[];
    oursDetail: string[];
  };
  /** Stream I/O errors in serf logs (kills and pauses cause them; not decode errors). */
  serfIoErrors: number;
  /** Streams our agents saw closed mid-message or before one (`stream-truncated`: I/O). */
  oursTruncated: number;
  /** The most frequent other [ERR]/[WARN] serf log messages, normalised, with counts. */
  serfOtherErrors: Array<[string, number]>;
  /** On failure: the timeline's end and the agents' last log lines. */
  diagnostics: string[];
  /** Unexpected process exits. */
  crashes: string[];
  /** Views "A sees B leaving" left at the settle deadline while B runs (serf 0.9.4's race, not failed). */
  stuckLeaving: string[];
  /** Wall time of the whole run, ms. */
  wallMs: number;
  /** Churn time, ms. */
  churnMs: number;
}

// --------------------------------------------------------------- processes

const live = new Set<Child>();

/** SIGCONT + SIGKILL every child this module started and has not reaped (for exit paths). */
export function killAllChildren(): void {
  for (const c of live) c.killNow();
}

interface Matches {
  decode: string[];
  decodeCount: number;
  io: number;
  other: Map<string, number>;
}

/** One process: output lines scanned as they arrive, a bounded tail kept. */
class Child {
  readonly tail: string[] = [];
  readonly matches: Matches = {
    decode: [],
    decodeCount: 0,
    io: 0,
    other: new Map(),
  };
  stats: SoakStatsLine | null = null;
  readonly #proc: ChildProcess;
  readonly exited: Promise<number | null>;
  code: number | null | undefined = undefined;
  /** Set before we stop it on purpose. */
  expectExit = false;

  readonly #file: WriteStream | null;

  constructor(cmd: string, args: string[], logFile: string | null) {
    this.#file = logFile === null ? null : createWriteStream(logFile);
    this.#proc = spawn(cmd, args, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    });
    live.add(this);
    let partial = "";
    const dec = new TextDecoder();
    const onData = (c: Uint8Array): void => {
      const parts = (partial + dec.decode(c)).split("\n");
      partial = parts.pop() ?? "";
      for (const l of parts) this.#line(l.trimEnd());
    };
    this.#proc.stdout?.on("data", onData);
    this.#proc.stderr?.on("data", onData);
    this.exited = new Promise((resolve) => {
      this.#proc.once("close", (code) => {
        this.#file?.end();
        this.code = code;
        live.delete(this);
        resolve(code);
      });
      this.#proc.once("error", (e) => {
        this.#line(`spawn error: ${e.message}`);
        this.code = null;
        live.delete(this);
        resolve(null);
      });
    });
  }

  get pid(): number {
    return this.#proc.pid ?? -1;
  }

  get done(): boolean {
    return this.code !== undefined;
  }

  #line(l: string): void {
    this.#file?.write(`${new Date().toISOString()} ${l}\n`);
    if (l.startsWith("soak-stats ")) {
      try {
        this.stats = JSON.parse(l.slice(11)) as SoakStatsLine;
      } catch {
        // A torn line at a kill: the previous one stands.
      }
      return;
    }
    this.tail.push(l);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    if (SERF_DECODE_PATTERNS.some((p) => p.test(l))) {
      if (NETWORK_ERROR.test(l)) this.matches.io++;
      else {
        this.matches.decodeCount++;
        if (this.matches.decode.length < MAX_MATCHES) {
          this.matches.decode.push(l);
        }
      }
    } else if (/\[(ERR|WARN)\]/.test(l)) {
      const key = normalise(l);
      if (this.matches.other.has(key) || this.matches.other.size < 200) {
        this.matches.other.set(key, (this.matches.other.get(key) ?? 0) + 1);
      }
    }
  }

  signal(sig: "SIGSTOP" | "SIGCONT" | "SIGKILL"): void {
    if (this.done || this.pid < 0) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      // Already gone.
    }
  }

  killNow(): void {
    this.expectExit = true;
    this.signal("SIGCONT");
    this.signal("SIGKILL");
  }

  async kill(): Promise<void> {
    this.killNow();
    await Promise.race([this.exited, delay(5_000)]);
    this.#proc.stdout?.destroy();
    this.#proc.stderr?.destroy();
  }
}

/** A log line without its time stamp, names, addresses and numbers. */
function normalise(line: string): string {
  return line
    .trim()
    .replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, "")
    .replace(/\d+\.\d+\.\d+\.\d+(:\d+)?/g, "ADDR")
    .replace(/\b[so]\d+\b/g, "NODE")
    .replace(/\d+/g, "N")
    .slice(0, 140);
}

// ------------------------------------------------------------------ members

type NodeState = "down" | "starting" | "up" | "paused" | "leaving";

interface Life {
  n: number;
  child: Child;
  /** When its event stream was subscribed (ms), NaN before. */
  subscribedAt: number;
  /**
   * The event clock right after its join. It joined ignoring old events (no
   * `-replay`): serf then drops every event whose Lamport time is below the
   * event clock it learned at the join (serf `MergeRemoteState` sets
   * `eventMinTime`), even one sent after the join by a member whose clock was
   * behind. Such events are not expected at this life.
   */
  eventMinTime: number;
  /** When it ended (killed, left), null while running. */
  endedAt: number | null;
}

class SoakNode {
  readonly name: string;
  readonly kind: "serf" | "ours";
  readonly runtime: "go" | "deno" | "bun";
  readonly host: string;
  readonly baseTags: Map<string, string>;
  tags: Map<string, string>;
  state: NodeState = "down";
  busy = false;
  readonly lives: Life[] = [];
  rpc: RpcClient | null = null;
  stream: RpcStream<EventRecord> | null = null;
  restarts = 0;

  constructor(
    name: string,
    kind: "serf" | "ours",
    runtime: "go" | "deno" | "bun",
    host: string,
  ) {
    this.name = name;
    this.kind = kind;
    this.runtime = runtime;
    this.host = host;
    this.baseTags = new Map([["kind", kind], ["rt", runtime]]);
    this.tags = new Map(this.baseTags);
  }

  get life(): Life | undefined {
    return this.lives[this.lives.length - 1];
  }

  get rpcAddr(): string {
    return `${this.host}:${RPC_PORT}`;
  }

  get gossipAddr(): string {
    return `${this.host}:${GOSSIP_PORT}`;
  }
}

interface SentEvent {
  name: string;
  at: number;
  from: string;
}

interface RestartRecord {
  preInc: number | null;
  requireBump: boolean;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what} timed out after ${ms} ms`)),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

function tagsEqual(
  a: ReadonlyMap<string, string>,
  b: ReadonlyMap<string, string>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

function tagsText(t: ReadonlyMap<string, string>): string {
  return [...t].sort().map(([k, v]) => `${k}=${v}`).join(",");
}

/**
 * Refuse to run over leftovers: every gossip (UDP and TCP) and RPC port of
 * the run must be free.
 *
 * @param hosts the addresses the run will bind
 * @throws {Error} naming the first busy address
 */
export async function assertAddressesFree(
  hosts: readonly string[],
): Promise<void> {
  for (const host of hosts) {
    for (const port of [GOSSIP_PORT, RPC_PORT]) {
      await new Promise<void>((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", (e: Error & { code?: string }) =>
          reject(
            new Error(
              `Refusing to start: ${host}:${port} (TCP) is in use (${
                e.code ?? e.message
              }); ` +
                "leftover agents? see `pgrep -af 'serf agent|soak_agent'`",
            ),
          ));
        srv.listen(port, host, () => srv.close(() => resolve()));
      });
    }
    await new Promise<void>((resolve, reject) => {
      const s = dgram.createSocket("udp4");
      s.once("error", (e: Error & { code?: string }) => {
        s.close();
        reject(
          new Error(
            `Refusing to start: ${host}:${GOSSIP_PORT} (UDP) is in use (${
              e.code ?? e.message
            })`,
          ),
        );
      });
      s.bind(GOSSIP_PORT, host, () => s.close(() => resolve()));
    });
  }
}

/**
 * Run the soak.
 *
 * @param partial options over {@linkcode DEFAULT_SOAK_OPTIONS}
 * @returns the outcome; every process it started has exited
 */
export async function runSoak(
  partial: Partial<SoakOptions> = {},
): Promise<SoakResult> {
  const o: SoakOptions = { ...DEFAULT_SOAK_OPTIONS, ...partial };
  const t0 = Date.now();
  const prng = new Prng(o.seed);
  const nodes: SoakNode[] = [];
  for (let i = 0; i < o.serf; i++) {
    nodes.push(
      new SoakNode(`s${i + 1}`, "serf", "go", `127.0.130.${o.hostBase + i}`),
    );
  }
  for (let i = 0; i < o.ours; i++) {
    const rt = i % 2 === 0 ? "deno" : "bun";
    nodes.push(
      new SoakNode(`o${i + 1}`, "ours", rt, `127.0.131.${o.hostBase + i}`),
    );
  }
  const total = nodes.length;
  const maxDown = Math.max(1, Math.min(o.maxDown, Math.floor((total - 1) / 2)));
  const failures: string[] = [];
  const crashes: string[] = [];
  const actions = Object.fromEntries(ACTION_KINDS.map((k) => [k, 0])) as Record<
    ActionKind,
    number
  >;
  const receipts = new Map<string, Set<string>>();
  /** Lamport time of each event, from the first stream record of it. */
  const eventLtimes = new Map<string, number>();
  /** Whether life `l` must deliver event `name` (see {@linkcode Life.eventMinTime}). */
  const notIgnored = (name: string, l: Life): boolean =>
    (eventLtimes.get(name) ?? Infinity) >= l.eventMinTime;
  const sent: SentEvent[] = [];
  const queries = { sent: 0, expected: 0, answered: 0, complete: 0 };
  const restartRecords = new Map<string, RestartRecord>();
  const dir = mkdtempSync(join(tmpdir(), "grapevine-soak-"));
  const handler = join(dir, "soakq.sh");
  writeFileSync(
    handler,
    '#!/bin/sh\ncat >/dev/null\nprintf "%s" "$SERF_SELF_NAME"\n',
  );
  chmodSync(handler, 0o755);
  let seq = 0;
  let forceLeavePending = o.forceLeave;

  const upNodes = (): SoakNode[] => nodes.filter((n) => n.state === "up");
  const disrupted = (): number => nodes.filter((n) => n.state !== "up").length;

  // ----------------------------------------------------------- start/stop

  const spawnAgent = (n: SoakNode, seeds: string[]): Child => {
    const common = [
      "agent",
      `-node=${n.name}`,
      `-bind=${n.gossipAddr}`,
      `-rpc-addr=${n.rpcAddr}`,
      "-profile=lan",
      `-log-level=${o.logLevel}`,
      `-event-handler=query:soakq=${handler}`,
      ...[...n.baseTags].flatMap(([k, v]) => ["-tag", `${k}=${v}`]),
      ...seeds.map((s) => `-join=${s}`),
    ];
    const file = o.logDir === null
      ? null
      : join(o.logDir, `${n.name}.${n.lives.length + 1}.log`);
    if (n.kind === "serf") return new Child(SERF_BIN, common, file);
    const script = "bench/soak/soak_agent.ts";
    return n.runtime === "deno"
      ? new Child(runtimeBin("deno"), [
        "run",
        "-A",
        "--quiet",
        script,
        ...common,
      ], file)
      : new Child(runtimeBin("bun"), [script, ...common], file);
  };

  const watchExit = (n: SoakNode, life: Life): void => {
    life.child.exited.then((code) => {
      // An agent whose `-join` found no seed exits during start: start() retries it.
      const starting = n.life === life && n.state === "starting";
      if (!life.child.expectExit && !starting) {
        crashes.push(
          `${n.name} (${n.runtime}) life ${life.n} exited unexpectedly (code ${code}):\n  ` +
            life.child.tail.slice(-15).join("\n  "),
        );
      }
      if (life.endedAt === null) life.endedAt = Date.now();
      if (n.life === life && n.state !== "down") n.state = "down";
    });
  };

  const subscribe = async (n: SoakNode, life: Life): Promise<void> => {
    const rpc = await RpcClient.connect(n.rpcAddr, { timeoutMs: RPC_CALL_MS });
    n.rpc = rpc;
    const stream = await withTimeout(
      rpc.stream("user"),
      RPC_CALL_MS,
      `${n.name} stream`,
    );
    n.stream = stream;
    life.subscribedAt = Date.now();
    (async () => {
      for await (const rec of stream.records) {
        if (rec.event !== "user" || !rec.name.startsWith("soak-")) continue;
        let s = receipts.get(rec.name);
        if (s === undefined) receipts.set(rec.name, s = new Set());
        s.add(`${n.name}#${life.n}`);
        eventLtimes.set(rec.name, rec.ltime);
      }
    })().catch(() => {});
  };

  /** Start (or restart) `n`; true once its RPC is up, it joined and its stream runs. */
  const start = async (n: SoakNode, seeds: string[]): Promise<boolean> => {
    n.state = "starting";
    const child = spawnAgent(n, seeds);
    const life: Life = {
      n: n.lives.length + 1,
      child,
      subscribedAt: NaN,
      eventMinTime: 0,
      endedAt: null,
    };
    n.lives.push(life);
    n.tags = new Map(n.baseTags);
    watchExit(n, life);
    const deadline = Date.now() + START_MS;
    for (;;) {
      if (child.done) {
        n.state = "down";
        return false;
      }
      try {
        await subscribe(n, life);
        break;
      } catch {
        n.rpc?.close();
        n.rpc = null;
        if (Date.now() > deadline) {
          await stopLife(n);
          return false;
        }
        await delay(200);
      }
    }
    if (seeds.length > 0) {
      // `-join` fails the agent when no seed answers; it may still be joining.
      while (Date.now() < deadline && !child.done) {
        const ms = await call(n, (c) => c.members()).catch(() =>
          [] as RpcMember[]
        );
        if (ms.filter((m) => m.status === "alive").length >= 2) break;
        await delay(200);
      }
      if (child.done || Date.now() >= deadline) {
        await stopLife(n);
        return false;
      }
    }
    const stats = await call(n, (c) => c.stats()).catch(() => null);
    life.eventMinTime = Number(stats?.get("serf")?.get("event_time") ?? 0);
    n.state = "up";
    return true;
  };

  /** Kill the current life (SIGKILL) and mark the member down. */
  const stopLife = async (n: SoakNode): Promise<void> => {
    const life = n.life;
    n.state = "down";
    n.rpc?.close();
    n.rpc = null;
    n.stream = null;
    if (life === undefined) return;
    life.child.expectExit = true;
    await life.child.kill();
    if (life.endedAt === null) life.endedAt = Date.now();
  };

  const call = <T>(
    n: SoakNode,
    f: (c: RpcClient) => Promise<T>,
  ): Promise<T> => {
    const c = n.rpc;
    if (c === null) return Promise.reject(new Error(`${n.name}: no RPC`));
    return withTimeout(f(c), RPC_CALL_MS, `${n.name} RPC`);
  };

  const seedsFor = (n: SoakNode): string[] =>
    prng.shuffle(upNodes().filter((m) => m !== n)).slice(0, 3).map((m) =>
      m.gossipAddr
    );

  /** Restart `n`, retrying with fresh seeds; a member that cannot come back is a failure. */
  const restart = async (n: SoakNode): Promise<void> => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      if (await start(n, seedsFor(n))) {
        n.restarts++;
        return;
      }
      o.log(`  ${n.name}: restart attempt ${attempt} failed`);
      await delay(2_000);
    }
    failures.push(`${n.name} could not be restarted`);
  };

  /** Highest incarnation of `name` in our live agents' tables, or null. */
  const oursIncarnation = (
    name: string,
    pick: "max" | "min",
  ): number | null => {
    const vals = upNodes().filter((m) => m.kind === "ours")
      .map((m) => m.life?.child.stats?.incarnations[name])
      .filter((v): v is number => typeof v === "number");
    if (vals.length === 0) return null;
    return pick === "max" ? Math.max(...vals) : Math.min(...vals);
  };

  /** Status of `name` as a live agent other than it sees it. */
  const statusSeen = async (name: string): Promise<string | null> => {
    const obs = upNodes().find((m) => m.name !== name);
    if (obs === undefined) return null;
    const ms = await call(obs, (c) => c.members()).catch(() => null);
    return ms?.find((m) => m.name === name)?.status ?? null;
  };

  const recordDown = (n: SoakNode): RestartRecord => {
    const rec: RestartRecord = {
      preInc: oursIncarnation(n.name, "max"),
      requireBump: false,
    };
    restartRecords.set(n.name, rec);
    return rec;
  };

  /** Before a restart: a member others saw failed or left must come back with a higher incarnation. */
  const noteStatus = async (n: SoakNode, rec: RestartRecord): Promise<void> => {
    const s = await statusSeen(n.name);
    if (s !== null && s !== "alive") rec.requireBump = true;
  };

  // -------------------------------------------------------------- actions

  const actKill9 = async (n: SoakNode): Promise<void> => {
    const rec = recordDown(n);
    await stopLife(n);
    await delay(prng.range(1_000, 15_000));
    await noteStatus(n, rec);
    await restart(n);
  };

  const actLeave = async (n: SoakNode): Promise<void> => {
    const rec = recordDown(n);
    const life = n.life!;
    life.child.expectExit = true;
    n.state = "leaving";
    await call(n, (c) => c.leave()).catch(() => {});
    const code = await Promise.race([
      life.child.exited,
      delay(15_000).then(() => "timeout"),
    ]);
    if (code === "timeout") {
      o.log(`  ${n.name}: leave did not exit in 15 s; killed`);
    }
    await stopLife(n);
    rec.requireBump = true; // a left member always comes back refuting its leave
    await delay(prng.range(1_000, 10_000));
    await restart(n);
  };

  const actPause = async (n: SoakNode): Promise<void> => {
    const child = n.life!.child;
    n.state = "paused";
    child.signal("SIGSTOP");
    await delay(prng.range(2_000, 8_000));
    child.signal("SIGCONT");
    if (!child.done) n.state = "up";
  };

  const actTags = async (n: SoakNode): Promise<void> => {
    if (n.tags.has("soak") && prng.chance(0.3)) {
      await call(n, (c) => c.updateTags(new Map(), ["soak"]));
      n.tags.delete("soak");
    } else {
      const v = `v${++seq}`;
      await call(n, (c) => c.updateTags(new Map([["soak", v]]), null));
      n.tags.set("soak", v);
    }
  };

  const sendEvent = async (n: SoakNode): Promise<string> => {
    const name = `soak-ev-${++seq}`;
    const at = Date.now();
    await call(
      n,
      (c) => c.userEvent(name, new TextEncoder().encode(n.name), false),
    );
    sent.push({ name, at, from: n.kind });
    return name;
  };

  /** Run one query from `n`; returns who answered. */
  const runQuery = async (n: SoakNode): Promise<Set<string>> => {
    const from = new Set<string>();
    const stream = await call(n, (c) =>
      c.query({
        name: "soakq",
        payload: new TextEncoder().encode(`q${++seq}`),
        timeoutNs: QUERY_TIMEOUT_MS * 1e6,
      }));
    await withTimeout(
      (async () => {
        for await (const rec of stream.records) {
          if (rec.type === "response") from.add(rec.from);
        }
      })(),
      QUERY_TIMEOUT_MS + RPC_CALL_MS,
      `${n.name} query`,
    ).catch(() => {});
    return from;
  };

  const actQuery = async (n: SoakNode): Promise<void> => {
    const expected = upNodes().length;
    const from = await runQuery(n);
    queries.sent++;
    queries.expected += expected;
    queries.answered += Math.min(from.size, expected);
    if (from.size >= expected) queries.complete++;
  };

  const actForceLeave = async (n: SoakNode): Promise<void> => {
    const rec = recordDown(n);
    await stopLife(n);
    rec.requireBump = true;
    const deadline = Date.now() + 60_000;
    let obs: SoakNode | undefined;
    while (Date.now() < deadline) {
      obs = upNodes().find((m) => m !== n);
      const ms = obs
        ? await call(obs, (c) => c.members()).catch(() => null)
        : null;
      if (ms?.find((m) => m.name === n.name)?.status === "failed") break;
      obs = undefined;
      await delay(500);
    }
    if (obs === undefined) {
      failures.push(
        `force-leave: no live agent saw ${n.name} failed within 60 s`,
      );
    } else {
      await call(obs, (c) => c.forceLeave(n.name)).catch((e) =>
        failures.push(
          `force-leave ${n.name} via ${obs!.name}: ${(e as Error).message}`,
        )
      );
      const left = await (async () => {
        for (let i = 0; i < 30; i++) {
          if ((await statusSeen(n.name)) === "left") return true;
          await delay(500);
        }
        return false;
      })();
      if (!left) failures.push(`force-leave: ${n.name} never seen left`);
      o.log(
        `  force-leave ${n.name} via ${obs.name}: ${
          left ? "left" : "NOT left"
        }`,
      );
    }
    await delay(prng.range(1_000, 5_000));
    await restart(n);
  };

  const timeline: string[] = [];
  const note = (line: string): void => {
    const t = ((Date.now() - t0) / 1000).toFixed(1);
    if (timeline.length < 10_000) timeline.push(`${t} ${line}`);
  };
  const run = async (kind: ActionKind, n: SoakNode): Promise<void> => {
    n.busy = true;
    note(`${kind} ${n.name} start`);
    try {
      switch (kind) {
        case "kill9":
          await actKill9(n);
          break;
        case "leave":
          await actLeave(n);
          break;
        case "pause":
          await actPause(n);
          break;
        case "tags":
          await actTags(n);
          break;
        case "event":
          await sendEvent(n);
          // Hold the sender a little: killed before its next gossip round, it
          // would take the event with it, which no protocol can repair.
          await delay(SENDER_HOLD_MS);
          break;
        case "query":
          await actQuery(n);
          break;
        case "force-leave":
          await actForceLeave(n);
          break;
      }
      actions[kind]++;
      note(`${kind} ${n.name} done`);
    } catch (e) {
      o.log(`  ${kind} on ${n.name} failed: ${(e as Error).message}`);
    } finally {
      n.busy = false;
    }
  };

  // ------------------------------------------------------------------ run

  const result = (): SoakResult => ({
    ok: false,
    failures,
    actions,
    events: {
      sent: 0,
      fromSerf: 0,
      fromOurs: 0,
      expected: 0,
      delivered: 0,
      ignoredOld: 0,
    },
    queries,
    restarts: { total: 0, checked: 0, bumpRequired: 0, bumped: 0, lower: 0 },
    agreement: false,
    drainMs: 0,
    settleMs: Number.NaN,
    finalChecks: [],
    decodeErrors: { serf: 0, ours: 0, serfLines: [], oursDetail: [] },
    serfIoErrors: 0,
    oursTruncated: 0,
    serfOtherErrors: [],
    crashes,
    diagnostics: [],
    stuckLeaving: [],
    wallMs: 0,
    churnMs: 0,
  });
  const out = result();
  if (o.logDir !== null) mkdirSync(o.logDir, { recursive: true });
  try {
    await assertAddressesFree(nodes.map((n) => n.host));
    o.log(
      `soak: ${o.serf} serf + ${o.ours} grapevine, seed ${o.seed}, ${o.minutes} min churn, ` +
        `at most ${maxDown} disrupted`,
    );
    // Bootstrap: the first serf, then everyone joining it (and the first of ours).
    if (!(await start(nodes[0], []))) {
      throw new Error(`${nodes[0].name} did not start`);
    }
    const rest = nodes.slice(1);
    for (let i = 0; i < rest.length; i += 4) {
      const batch = rest.slice(i, i + 4);
      const oks = await Promise.all(
        batch.map((n) => start(n, [nodes[0].gossipAddr])),
      );
      oks.forEach((ok, j) => {
        if (!ok) {
          throw new Error(
            `${batch[j].name} did not start:\n${
              batch[j].life?.child.tail.join("\n")
            }`,
          );
        }
      });
    }
    const formed = await agreement(nodes, 60_000);
    out.stuckLeaving = [];
    if (formed !== null) {
      throw new Error(`cluster did not form in 60 s: ${formed}`);
    }
    o.log(`  cluster formed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const baseline = await selfCheck(nodes, o.log);

    // Churn.
    const churnStart = Date.now();
    const churnEnd = churnStart + o.minutes * 60_000;
    const forceLeaveAt = o.forceLeave
      ? churnStart + (churnEnd - churnStart) * prng.range(20, 45) / 100
      : Infinity;
    const running = new Set<Promise<void>>();
    const weights: Array<[ActionKind, number]> = [
      ["kill9", 2],
      ["leave", 1.5],
      ["pause", 2],
      ["tags", 2],
      ["event", 3],
      ["query", 2],
    ];
    const wsum = weights.reduce((s, [, w]) => s + w, 0);
    // First every kind once on each side, so that a short run covers them all.
    const mustDo: Array<[ActionKind, "serf" | "ours"]> = prng.shuffle(
      weights.flatMap(([k]) => [[k, "serf"], [k, "ours"]] as const).map((
        [k, s],
      ) => [k, s] as [ActionKind, "serf" | "ours"]),
    );
    let lastReport = churnStart;
    while (Date.now() < churnEnd) {
      await delay(
        prng.range(o.actionIntervalMs / 2, (o.actionIntervalMs * 3) / 2),
      );
      if (Date.now() >= churnEnd) break;
      let kind: ActionKind;
      let side: "serf" | "ours" | null = null;
      if (forceLeavePending && Date.now() >= forceLeaveAt) {
        kind = "force-leave";
      } else if (mustDo.length > 0) {
        [kind, side] = mustDo[0];
      } else {
        let r = prng.next() * wsum;
        kind = weights.find(([, w]) => (r -= w) < 0)?.[0] ?? "event";
      }
      const disruptive = kind === "kill9" || kind === "leave" ||
        kind === "pause" ||
        kind === "force-leave";
      if (disruptive && disrupted() + 1 > maxDown) continue;
      const eligible = upNodes().filter((n) =>
        !n.busy && (side === null || n.kind === side)
      );
      if (eligible.length === 0) continue;
      if (kind === "force-leave") forceLeavePending = false; // once
      else if (side !== null) mustDo.shift();
      const n = prng.pick(eligible);
      const p = run(kind, n);
      running.add(p);
      p.finally(() => running.delete(p));
      if (Date.now() - lastReport >= 30_000) {
        lastReport = Date.now();
        o.log(
          `  ${((Date.now() - churnStart) / 1000).toFixed(0)} s: ` +
            ACTION_KINDS.map((k) => `${k} ${actions[k]}`).join(", ") +
            `; disrupted now ${disrupted()}`,
        );
      }
    }
    o.log("  churn stopped; waiting for in-flight actions");
    await Promise.all([...running]);
    const churnStop = Date.now();
    out.churnMs = churnEnd - churnStart;
    out.drainMs = churnStop - churnEnd;

    // Settle: every live agent agrees on alive members and tags.
    const settled = await agreement(nodes, o.settleTimeoutMs);
    out.agreement = settled === null;
    if (settled !== null) {
      for (const name of new Set(settled.match(/\b[so]\d+\b/g) ?? [])) {
        const n = nodes.find((x) => x.name === name);
        if (n === undefined) continue;
        out.diagnostics.push(
          `--- ${name} (${n.runtime}), life ${n.life?.n}, last lines:`,
          ...(n.life?.child.tail.slice(-25) ?? []),
        );
      }
      out.diagnostics.push(
        "--- timeline (s since start):",
        ...timeline.slice(-80),
      );

      failures.push(
        `no agreement within ${o.settleTimeoutMs / 1000} s: ${settled}`,
      );
    } else out.settleMs = Date.now() - churnStop;
    o.log(
      `  agreement: ${
        out.agreement ? `yes after ${(out.settleMs / 1000).toFixed(1)} s` : "NO"
      }`,
    );

    // Final event and query from each kind, in a quiet cluster.
    const finalEvents: Array<[SoakNode, string]> = [];
    for (const kind of ["serf", "ours"] as const) {
      const from = prng.pick(
        nodes.filter((n) => n.kind === kind && n.state === "up"),
      );
      finalEvents.push([from, await sendEvent(from)]);
    }
    const lacking = (ev: string): string[] =>
      nodes.filter((n) =>
        !receipts.get(ev)?.has(`${n.name}#${n.life?.n}`) &&
        (n.life === undefined || notIgnored(ev, n.life))
      ).map((n) => n.name);
    const sentAt = Date.now();
    await pollCount(
      () => finalEvents.every(([, ev]) => lacking(ev).length === 0) ? 1 : 0,
      1,
      EVENT_WINDOW_MS,
    );
    const tookS = ((Date.now() - sentAt) / 1000).toFixed(1);
    for (const [from, ev] of finalEvents) {
      const miss = lacking(ev);
      const excused = nodes.filter((n) =>
        n.life !== undefined && !notIgnored(ev, n.life)
      ).length;
      out.finalChecks.push(
        `event from ${from.name}: ${
          total - miss.length - excused
        }/${total} in ${tookS} s` +
          (excused > 0 ? ` (+${excused} older than their join clock)` : ""),
      );
      if (miss.length > 0) {
        failures.push(
          `final event from ${from.name} not at ${miss.join(", ")} after ${
            EVENT_WINDOW_MS / 1000
          } s`,
        );
      }
    }
    for (const [from] of finalEvents) {
      let best = 0;
      for (let attempt = 1; attempt <= 3 && best < total; attempt++) {
        best = Math.max(
          best,
          (await runQuery(from).catch(() => new Set<string>())).size,
        );
      }
      out.finalChecks.push(`query from ${from.name}: ${best}/${total}`);
      if (best < total) {
        failures.push(
          `final query from ${from.name} answered by ${best}/${total} (3 tries)`,
        );
      }
    }

    // Churn events: every member live from the send until the window's end has it.
    const evalDeadline = Math.max(
      ...sent.map((e) => e.at + EVENT_WINDOW_MS),
      Date.now(),
    );
    const churnEvents = sent.filter((e) => e.at < churnStop);
    const expectedOf = (e: SentEvent): string[] =>
      nodes.flatMap((n) =>
        n.lives.filter((l) =>
          l.subscribedAt <= e.at &&
          (l.endedAt === null || l.endedAt >= e.at + EVENT_WINDOW_MS) &&
          notIgnored(e.name, l)
        ).map((l) => `${n.name}#${l.n}`)
      );
    const missing = (): string[] =>
      churnEvents.flatMap((e) =>
        expectedOf(e).filter((k) => !receipts.get(e.name)?.has(k)).map((k) =>
          `${e.name}→${k}`
        )
      );
    while (missing().length > 0 && Date.now() < evalDeadline) {
      await delay(1_000);
    }
    const miss = missing();
    out.events = {
      sent: churnEvents.length,
      fromSerf: churnEvents.filter((e) => e.from === "serf").length,
      fromOurs: churnEvents.filter((e) => e.from === "ours").length,
      expected: churnEvents.reduce((s, e) => s + expectedOf(e).length, 0),
      delivered: 0,
      ignoredOld: 0,
    };
    for (const e of churnEvents) {
      for (const n of nodes) {
        for (const l of n.lives) {
          if (
            l.subscribedAt <= e.at &&
            (l.endedAt === null || l.endedAt >= e.at + EVENT_WINDOW_MS) &&
            !notIgnored(e.name, l)
          ) out.events.ignoredOld++;
        }
      }
    }
    out.events.delivered = out.events.expected - miss.length;
    if (miss.length > 0) {
      failures.push(
        `churn events not delivered (${miss.length}): ${
          miss.slice(0, 10).join(", ")
        }`,
      );
    }

    // Incarnations, through our agents' tables (serf's RPC does not show them).
    await delay(1_500); // one more soak-stats line from every agent
    for (const n of nodes) {
      const rec = restartRecords.get(n.name);
      out.restarts.total += n.restarts;
      if (rec === undefined || rec.preInc === null) continue;
      const now = oursIncarnation(n.name, "min");
      if (now === null) continue;
      out.restarts.checked++;
      if (now < rec.preInc) {
        out.restarts.lower++;
        failures.push(
          `${n.name}: incarnation ${now} after restart < ${rec.preInc} before`,
        );
      }
      if (rec.requireBump) {
        out.restarts.bumpRequired++;
        if (now > rec.preInc) out.restarts.bumped++;
        else {failures.push(
            `${n.name}: seen failed/left, back with incarnation ${now} ≤ ${rec.preInc}`,
          );}
      }
    }

    // Decode errors.
    const serfLives = nodes.filter((n) => n.kind === "serf").flatMap((n) =>
      n.lives
    );
    for (const l of serfLives) {
      for (const line of l.child.matches.decode) {
        if (line === baseline.serfLine) continue;
        out.decodeErrors.serfLines.push(line);
      }
      out.decodeErrors.serf += l.child.matches.decodeCount;
      out.serfIoErrors += l.child.matches.io;
    }
    out.decodeErrors.serf -= 1; // the self-check's packet
    const other = new Map<string, number>();
    for (const l of serfLives) {
      for (const [k, v] of l.child.matches.other) {
        other.set(k, (other.get(k) ?? 0) + v);
      }
    }
    out.serfOtherErrors = [...other].sort((a, b) => b[1] - a[1]).slice(0, 8);
    for (const n of nodes.filter((n) => n.kind === "ours")) {
      for (const l of n.lives) {
        const s = l.child.stats;
        out.oursTruncated += s?.driverDropped["stream-truncated"] ?? 0;
        const counts: Array<[string, number]> = [
          ...Object.entries(s?.serfDecode ?? {}).map(([k, v]) =>
            [`serf:${k}`, v] as [string, number]
          ),
          ...Object.entries(s?.memberlistDecode ?? {}).map(([k, v]) =>
            [`memberlist:${k}`, v] as [string, number]
          ),
          ...Object.entries(s?.driverDropped ?? {}).filter(([k]) =>
            isStreamDecode(k)
          )
            .map(([k, v]) => [`driver:${k}`, v] as [string, number]),
        ];
        let sum = counts.reduce((a, [, v]) => a + v, 0) +
          l.child.matches.decodeCount;
        if (n.name === baseline.oursName && l.n === 1) {
          sum -= baseline.oursCount;
        }
        if (sum > 0) {
          out.decodeErrors.oursDetail.push(
            `${n.name}#${l.n}: ${
              counts.map(([k, v]) => `${k}=${v}`).join(" ")
            } ` +
              l.child.matches.decode.join(" | "),
          );
        }
        out.decodeErrors.ours += sum;
      }
    }
    if (out.decodeErrors.serf !== 0) {
      failures.push(
        `serf decode errors: ${out.decodeErrors.serf}: ${
          out.decodeErrors.serfLines.slice(0, 5).join(" | ")
        }`,
      );
    }
    if (out.decodeErrors.ours !== 0) {
      failures.push(
        `our decode errors: ${out.decodeErrors.ours}: ${
          out.decodeErrors.oursDetail.slice(0, 5).join(" | ")
        }`,
      );
    }
    if (crashes.length > 0) failures.push(...crashes);
  } catch (e) {
    failures.push(`aborted: ${(e as Error).message}`);
  } finally {
    for (const n of nodes) {
      n.rpc?.close();
      n.rpc = null;
    }
    await Promise.all(nodes.map((n) => n.life?.child.kill()));
    rmSync(dir, { recursive: true, force: true });
    if (o.logDir !== null) {
      writeFileSync(join(o.logDir, "timeline.log"), timeline.join("\n") + "\n");
    }
  }
  out.wallMs = Date.now() - t0;
  out.ok = failures.length === 0;
  return out;

  /** Poll until every member reports every member alive with its expected tags; null or why not. */
  async function agreement(
    all: SoakNode[],
    timeoutMs: number,
  ): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const problems = await disagreement(all);
      if (problems.length === 0) return null;
      if (Date.now() >= deadline) {
        // Serf 0.9.4's stuck "leaving" (see STUCK_LEAVING) is reported, not failed;
        // anything else is a disagreement.
        const real = problems.filter((p) => !STUCK_LEAVING.test(p));
        out.stuckLeaving = problems.filter((p) => STUCK_LEAVING.test(p));
        return real.length === 0 ? null : real.slice(0, 12).join("; ");
      }
      await delay(1_000);
    }
  }

  async function disagreement(all: SoakNode[]): Promise<string[]> {
    const problems: string[] = [];
    for (const n of all) {
      if (n.state !== "up") {
        problems.push(`${n.name} is ${n.state}`);
        continue;
      }
      const ms = await call(n, (c) => c.members()).catch((e) => (e as Error));
      if (ms instanceof Error) {
        problems.push(`${n.name}: ${ms.message}`);
        continue;
      }
      const seen = new Map(ms.map((m) => [m.name, m]));
      for (const want of all) {
        const m = seen.get(want.name);
        if (m === undefined) problems.push(`${n.name} lacks ${want.name}`);
        else if (m.status !== "alive") {
          problems.push(
            `${n.name} sees ${want.name} ${m.status}` +
              (m.status === "leaving" && want.state === "up"
                ? " (it is running)"
                : ""),
          );
        } else if (!tagsEqual(m.tags, want.tags)) {
          problems.push(
            `${n.name} sees ${want.name} tags ${tagsText(m.tags)} ≠ ${
              tagsText(want.tags)
            }`,
          );
        }
      }
      for (const m of ms) {
        if (!all.some((x) => x.name === m.name)) {
          problems.push(`${n.name} sees stranger ${m.name}`);
        }
      }
    }
    return problems;
  }
}

/**
 * A member seen `leaving` by some agent while it runs and is alive to
 * memberlist: Serf 0.9.4 can leave it so for good. Its `MergeRemoteState`
 * turns a push-pull peer's "left" entry into a leave intent one past the
 * peer's status time; a peer that has not yet seen the member come back
 * after a leave and rejoin can so hand over a leave newer than the
 * member's join, and only a left member is listed in push-pull state, so
 * the member never sees a leave about itself to refute. Seen in this soak
 * on serf agents and on ours (ours merges remote state as serf does); cf.
 * hashicorp/consul#13379. Reported in the summary, not failed.
 */
const STUCK_LEAVING = /^\S+ sees \S+ leaving \(it is running\)$/;

/** Driver drops that are malformed stream input, not I/O or caps. */
function isStreamDecode(reason: string): boolean {
  return reason.startsWith("stream-") &&
    ![
      "stream-read",
      "stream-timeout",
      "stream-cap",
      "stream-write",
      // The peer closed mid-message or before one: a kill -9, or a peer
      // that timed out on a paused member (memberlist: EOF / unexpected EOF).
      "stream-truncated",
    ].includes(
      reason,
    );
}

async function pollCount(
  f: () => number,
  want: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = f();
    if (got >= want || Date.now() >= deadline) return got;
    await delay(250);
  }
}

interface Baseline {
  serfLine: string;
  oursName: string;
  oursCount: number;
}

/**
 * Show that the detectors see a real decode error: one malformed ping to the
 * first serf and the first of ours must be logged / counted.
 */
async function selfCheck(
  nodes: SoakNode[],
  log: (l: string) => void,
): Promise<Baseline> {
  const serf = nodes.find((n) => n.kind === "serf")!;
  const ours = nodes.find((n) => n.kind === "ours")!;
  // memberlist pingMsg (0), then 0xc1: a byte msgpack never uses.
  const garbage = new Uint8Array([0, 0xc1, 0xc1, 0xc1]);
  const sock = dgram.createSocket("udp4");
  const oursBefore = oursDecodeCount(ours);
  try {
    await new Promise<void>((resolve) =>
      sock.bind(0, "127.0.130.254", () => resolve())
    );
    for (const n of [serf, ours]) {
      await new Promise<void>((resolve, reject) =>
        sock.send(
          garbage,
          GOSSIP_PORT,
          n.host,
          (e) => e ? reject(e) : resolve(),
        )
      );
    }
  } finally {
    sock.close();
  }
  const serfChild = serf.life!.child;
  const line = await pollDefined(() => serfChild.matches.decode[0], 10_000);
  if (line === undefined) {
    throw new Error(
      `self-check: ${serf.name} did not log the malformed ping as a decode error`,
    );
  }
  if (serfChild.matches.decodeCount !== 1) {
    throw new Error(
      `self-check: ${serf.name} had ${serfChild.matches.decodeCount} decode lines, want 1`,
    );
  }
  const oursCount = await pollDefined(() => {
    const c = oursDecodeCount(ours);
    return c > oursBefore ? c : undefined;
  }, 10_000);
  if (oursCount === undefined) {
    throw new Error(
      `self-check: ${ours.name} did not count the malformed ping as a decode error`,
    );
  }
  log(
    `  self-check: ${serf.name} logged "${line.trim()}"; ` +
      `${ours.name} counted ${
        JSON.stringify(ours.life!.child.stats?.memberlistDecode)
      } (both excluded below)`,
  );
  return { serfLine: line, oursName: ours.name, oursCount };
}

function oursDecodeCount(n: SoakNode): number {
  const s = n.life?.child.stats;
  if (!s) return 0;
  const sum = (r: Record<string, number>): number =>
    Object.values(r).reduce((a, v) => a + v, 0);
  return sum(s.serfDecode) + sum(s.memberlistDecode) +
    sum(
      Object.fromEntries(
        Object.entries(s.driverDropped).filter(([k]) => isStreamDecode(k)),
      ),
    );
}

async function pollDefined<T>(
  f: () => T | undefined,
  timeoutMs: number,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined || Date.now() >= deadline) return v;
    await delay(100);
  }
}

/**
 * The summary block `soak.ts` prints and the README records.
 *
 * @param r the outcome
 * @param o the options it ran with
 * @returns the lines
 */
export function formatSummary(
  r: SoakResult,
  o: Partial<SoakOptions> = {},
): string {
  const opts = { ...DEFAULT_SOAK_OPTIONS, ...o };
  const pct = (a: number, b: number): string =>
    b === 0 ? "–" : `${((100 * a) / b).toFixed(2)} %`;
  const totalActions = ACTION_KINDS.reduce((s, k) => s + r.actions[k], 0);
  const deno = Math.ceil(opts.ours / 2);
  return [
    `soak: ${opts.serf} serf 0.9.4 + ${opts.ours} grapevine (${deno} deno, ${
      opts.ours - deno
    } bun), ` +
    `LAN profile, seed ${opts.seed}, churn ${
      (r.churnMs / 60_000).toFixed(1)
    } min`,
    `churn actions: ${
      ACTION_KINDS.map((k) => `${k} ${r.actions[k]}`).join(", ")
    } (total ${totalActions})`,
    `events: ${r.events.sent} sent (${r.events.fromSerf} from serf, ${r.events.fromOurs} from ours); ` +
    `delivered ${r.events.delivered}/${r.events.expected} member×event (${
      pct(r.events.delivered, r.events.expected)
    }); not expected: ${r.events.ignoredOld} older than the receiver's join clock`,
    `queries: ${r.queries.sent} sent; answered ${r.queries.answered}/${r.queries.expected} live responders ` +
    `(${
      pct(r.queries.answered, r.queries.expected)
    }); ${r.queries.complete}/${r.queries.sent} complete`,
    `restarts: ${r.restarts.total}; last restart per member checked in our agents' tables: ` +
    `${r.restarts.checked}, incarnation lower than before: ${r.restarts.lower}; seen failed/left ` +
    `before coming back ${r.restarts.bumpRequired}, of which came back with a higher incarnation ` +
    `${r.restarts.bumped}`,
    `final agreement: ${
      r.agreement
        ? `yes (${
          (r.drainMs / 1000).toFixed(1)
        } s after churn every member was back; ` +
          `agreement ${(r.settleMs / 1000).toFixed(1)} s later)`
        : "NO"
    }; ` +
    `final checks: ${r.finalChecks.join("; ")}`,
    `decode errors serf/ours = ${r.decodeErrors.serf}/${r.decodeErrors.ours} ` +
    `(self-check packet excluded); stream I/O errors (kills/pauses), not decode: ` +
    `serf ${r.serfIoErrors} log lines, ours ${r.oursTruncated} truncated streams`,
    `serf's other [ERR]/[WARN] lines: ${
      r.serfOtherErrors.length === 0
        ? "none"
        : r.serfOtherErrors.map(([k, v]) => `${v}× "${k}"`).join("; ")
    }`,
    `stuck "leaving" views at the settle deadline (serf 0.9.4 race, reported only): ${
      r.stuckLeaving.length === 0 ? "none" : r.stuckLeaving.join("; ")
    }`,
    `crashes: ${r.crashes.length}`,
    `wall time: ${(r.wallMs / 60_000).toFixed(1)} min`,
    `result: ${r.ok ? "PASS" : `FAIL\n  ${r.failures.join("\n  ")}`}`,
    ...(r.ok || r.diagnostics.length === 0
      ? []
      : ["diagnostics:", ...r.diagnostics]),
  ].join("\n");
}
