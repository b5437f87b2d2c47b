/**
 * Agent processes of one implementation and the bench's RPC connection to
 * each: every agent writes its stdout/stderr to its own log file, and the
 * bench subscribes to its event stream over Serf's agent RPC (our
 * {@linkcode RpcClient}), timestamping every record on receipt.
 *
 * Every child ever spawned is kept in one registry so that
 * {@linkcode killAllAgents} can end them on exit, SIGINT or an error.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync,
  openSync,
  readFileSync,
  realpathSync,
  statSync,
} from "node:fs";
import net from "node:net";
import process from "node:process";
import { RpcClient, type RpcStream } from "../../src/agent/client.ts";
import type { EventRecord, RpcMember } from "../../src/codec/rpc.ts";
import {
  agentCommand,
  type AgentSpec,
  GOSSIP_PORT,
  type Impl,
  ROOT,
  RPC_PORT,
} from "./launch.ts";
import { exePath } from "./proc.ts";

/** The stream filter: what the measurements need, nothing more. */
export const STREAM_FILTER = "user,member-join,member-leave,member-failed";

/** Every agent process the bench spawned and has not seen exit. */
const LIVE = new Set<ChildProcess>();

/** SIGCONT and SIGKILL every agent still running (synchronous: safe in an exit handler). */
export function killAllAgents(): void {
  for (const c of LIVE) {
    if (c.pid === undefined) continue;
    try {
      process.kill(c.pid, "SIGCONT");
      process.kill(c.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** How many agents are still running. */
export function liveAgentCount(): number {
  return LIVE.size;
}

/**
 * Resolve after `ms` milliseconds.
 *
 * @param ms the delay
 * @returns a promise
 */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/**
 * Poll `check` until it returns a value, or fail at the deadline.
 *
 * @param what what we wait for (for the error)
 * @param check returns undefined to keep waiting
 * @param options deadline and poll interval
 * @returns the value
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (performance.now() >= deadline) {
      throw new Error(
        `Timed out after ${options.timeoutMs} ms waiting for ${what}`,
      );
    }
    await delay(options.intervalMs ?? 50);
  }
}

/**
 * Whether something accepts TCP connections at host:port.
 *
 * @param host IPv4
 * @param port port
 * @returns true when a connection opened
 */
export function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => done(false), 1000);
    function done(ok: boolean): void {
      clearTimeout(timer);
      s.removeAllListeners();
      s.on("error", () => {});
      s.destroy();
      resolve(ok);
    }
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

/**
 * The addresses among `hosts` where something already listens on the gossip
 * or RPC port (a leftover agent).
 *
 * @param hosts IPv4 addresses
 * @returns "host:port" of each listener found
 */
export async function busyAddresses(hosts: string[]): Promise<string[]> {
  const busy: string[] = [];
  const BATCH = 32;
  for (let i = 0; i < hosts.length; i += BATCH) {
    const part = hosts.slice(i, i + BATCH);
    const found = await Promise.all(
      part.flatMap((h) =>
        [GOSSIP_PORT, RPC_PORT].map(async (p) =>
          (await tcpOpen(h, p)) ? `${h}:${p}` : ""
        )
      ),
    );
    busy.push(...found.filter((s) => s !== ""));
  }
  return busy;
}

/** Called with every record any agent's stream delivers, stamped on receipt. */
export type RecordListener = (
  agent: AgentProc,
  rec: EventRecord,
  atMs: number,
) => void;

/** One agent process, its log file and the bench's RPC connection to it. */
export class AgentProc {
  /** Which implementation. */
  readonly impl: Impl;
  /** Name, address, seed. */
  readonly spec: AgentSpec;
  /** The RPC client (after {@linkcode AgentProc.connect}). */
  client: RpcClient | null = null;
  /** Log file of the current run of the process. */
  logPath = "";
  /** Wall ms from spawn to RPC accepting connections. */
  startMs = NaN;
  /** The executable the process runs (`/proc/<pid>/exe`). */
  exe = "";
  readonly #logDir: string;
  readonly #lean: boolean;
  readonly #onRecord: RecordListener;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #done = true;
  #stream: RpcStream<EventRecord> | null = null;
  #runs = 0;

  /**
   * Describe an agent (nothing starts yet).
   *
   * @param impl serf, deno or bun
   * @param spec name, address, seed
   * @param options log directory, lean launch, the record listener
   */
  constructor(
    impl: Impl,
    spec: AgentSpec,
    options: { logDir: string; lean: boolean; onRecord: RecordListener },
  ) {
    this.impl = impl;
    this.spec = spec;
    this.#logDir = options.logDir;
    this.#lean = options.lean;
    this.#onRecord = options.onRecord;
  }

  /** Node name. */
  get name(): string {
    return this.spec.name;
  }

  /** The process id (-1 before start). */
  get pid(): number {
    return this.#child?.pid ?? -1;
  }

  /** Whether the process has exited (or never started). */
  get exited(): boolean {
    return this.#done;
  }

  /** The RPC address. */
  get rpcAddr(): string {
    return `${this.spec.host}:${RPC_PORT}`;
  }

  /** The gossip address. */
  get gossipAddr(): string {
    return `${this.spec.host}:${GOSSIP_PORT}`;
  }

  /**
   * Spawn the agent, wait until its RPC answers, check the binary, connect
   * and subscribe to its event stream.
   *
   * @param timeoutMs deadline for the RPC to come up
   */
  async start(timeoutMs: number): Promise<void> {
    const cmd = agentCommand(this.impl, this.spec, { lean: this.#lean });
    this.logPath = `${this.#logDir}/${this.spec.name}.${++this.#runs}.log`;
    const fd = openSync(this.logPath, "a");
    const t0 = performance.now();
    let child: ChildProcess;
    try {
      child = spawn(cmd.command, cmd.args, {
        cwd: ROOT,
        stdio: ["ignore", fd, fd],
        env: { ...process.env, ...cmd.env },
      });
    } finally {
      closeSync(fd);
    }
    this.#child = child;
    this.#done = false;
    LIVE.add(child);
    this.#exited = new Promise<void>((resolve) => {
      const end = (): void => {
        this.#done = true;
        LIVE.delete(child);
        resolve();
      };
      child.once("exit", end);
      child.once("error", end);
    });
    await this.#connect(timeoutMs);
    this.startMs = performance.now() - t0;
    this.exe = exePath(this.pid);
    const want = realpathSync(cmd.command);
    if (this.exe !== want) {
      throw new Error(
        `${this.name}: pid ${this.pid} runs ${this.exe}, not ${want}: a wrapper? CPU figures would be wrong`,
      );
    }
  }

  async #connect(timeoutMs: number): Promise<void> {
    const client = await waitFor(
      `${this.name} RPC at ${this.rpcAddr}`,
      async () => {
        if (this.#done) {
          throw new Error(
            `${this.name} exited during start:\n${this.logTail()}`,
          );
        }
        try {
          return await RpcClient.connect(this.rpcAddr, { timeoutMs: 2000 });
        } catch {
          return undefined;
        }
      },
      { timeoutMs, intervalMs: 50 },
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${this.logTail()}`);
    });
    this.client = client;
    let stream: RpcStream<EventRecord>;
    try {
      stream = await withTimeout(client.stream(STREAM_FILTER), 10_000);
    } catch (e) {
      client.close();
      throw new Error(`${this.name}: stream: ${(e as Error).message}`);
    }
    this.#stream = stream;
    void (async () => {
      for await (const rec of stream.records) {
        this.#onRecord(this, rec, performance.now());
      }
    })();
  }

  /**
   * Send a signal to the process.
   *
   * @param sig the signal
   */
  signal(sig: "SIGKILL" | "SIGSTOP" | "SIGCONT" | "SIGINT"): void {
    if (this.#done || this.pid < 0) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      // Already gone.
    }
  }

  /**
   * Wait for the process to exit.
   *
   * @param timeoutMs deadline
   * @returns whether it exited in time
   */
  async waitExit(timeoutMs: number): Promise<boolean> {
    await Promise.race([this.#exited, delay(timeoutMs)]);
    return this.#done;
  }

  /** Close the RPC connection (the stream ends with it). */
  disconnect(): void {
    this.#stream = null;
    this.client?.close();
    this.client = null;
  }

  /** Kill the process (SIGCONT first, in case it is stopped) and close the connection. */
  async stop(): Promise<void> {
    this.disconnect();
    this.signal("SIGCONT");
    this.signal("SIGKILL");
    await this.waitExit(5000);
  }

  /** Size of the current log file, in bytes. */
  logSize(): number {
    try {
      return statSync(this.logPath).size;
    } catch {
      return 0;
    }
  }

  /**
   * The current log from a byte offset.
   *
   * @param fromByte where to start
   * @returns the text
   */
  logFrom(fromByte = 0): string {
    try {
      return readFileSync(this.logPath).subarray(fromByte).toString();
    } catch {
      return "";
    }
  }

  /**
   * The last lines of the log, for error messages.
   *
   * @param lines how many
   * @returns the text
   */
  logTail(lines = 20): string {
    const all = this.logFrom().trimEnd().split("\n");
    return `--- ${this.name} (${this.impl}) ${this.logPath} ---\n${
      all.slice(-lines).join("\n")
    }`;
  }

  /**
   * The agent's member list over RPC.
   *
   * @returns the members, or null when the call failed
   */
  async members(): Promise<RpcMember[] | null> {
    const c = this.client;
    if (c === null) return null;
    try {
      return await withTimeout(c.members(), 5000);
    } catch {
      return null;
    }
  }
}

/**
 * Race a promise against a deadline.
 *
 * @param p the promise
 * @param ms deadline
 * @returns its value
 */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Timed out after ${ms} ms`)),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The agents of one implementation, grown in steps. */
export class Cluster {
  /** Which implementation. */
  readonly impl: Impl;
  /** The members, in start order (member 0 is everyone's seed). */
  readonly members: AgentProc[] = [];
  /** Extra agents (joiners, restarted victims are members). */
  readonly extras: AgentProc[] = [];
  readonly #listeners = new Set<RecordListener>();
  readonly #logDir: string;
  readonly #lean: boolean;
  readonly #hostOf: (index: number) => string;

  /**
   * An empty cluster.
   *
   * @param impl serf, deno or bun
   * @param options log directory, lean launch, address of member i (1-based)
   */
  constructor(
    impl: Impl,
    options: { logDir: string; lean: boolean; hostOf: (i: number) => string },
  ) {
    this.impl = impl;
    this.#logDir = options.logDir;
    this.#lean = options.lean;
    this.#hostOf = options.hostOf;
  }

  /**
   * Listen to every agent's records until the returned function is called.
   *
   * @param l the listener
   * @returns unsubscribe
   */
  listen(l: RecordListener): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  /**
   * A new agent of this cluster's implementation (not started).
   *
   * @param spec name, address, seed
   * @returns the agent
   */
  agent(spec: AgentSpec): AgentProc {
    return new AgentProc(this.impl, spec, {
      logDir: this.#logDir,
      lean: this.#lean,
      onRecord: (a, rec, t) => {
        for (const l of this.#listeners) l(a, rec, t);
      },
    });
  }

  /**
   * Start members until there are `n`, each joining member 0 at start
   * (`-join`), `parallel` at a time.
   *
   * @param n the target size
   * @param parallel concurrent starts
   */
  async grow(n: number, parallel: number): Promise<void> {
    const pad = (i: number): string => String(i).padStart(2, "0");
    const fresh: AgentProc[] = [];
    for (let i = this.members.length; i < n; i++) {
      const a = this.agent({
        name: `${this.impl}-${pad(i + 1)}`,
        host: this.#hostOf(i + 1),
        join: i === 0 ? undefined : this.#hostOf(1),
      });
      this.members.push(a);
      fresh.push(a);
    }
    if (fresh[0]?.spec.join === undefined && fresh.length > 0) {
      await fresh.shift()!.start(30_000);
    }
    for (let i = 0; i < fresh.length; i += parallel) {
      await Promise.all(
        fresh.slice(i, i + parallel).map((a) => a.start(60_000)),
      );
    }
  }

  /**
   * Wait until every member's agent lists exactly the expected members alive.
   *
   * @param timeoutMs deadline
   * @returns wall ms it took
   */
  async converge(timeoutMs: number): Promise<number> {
    const t0 = performance.now();
    const want = new Set(this.members.map((m) => m.name));
    let lastBad = "";
    await waitFor(
      `${this.members.length} ${this.impl} members to converge`,
      async () => {
        const lists = await Promise.all(this.members.map((m) => m.members()));
        for (let i = 0; i < lists.length; i++) {
          const alive = (lists[i] ?? []).filter((m) => m.status === "alive");
          const ok = lists[i] !== null && alive.length === want.size &&
            alive.every((m) => want.has(m.name));
          if (!ok) {
            lastBad = `${
              this.members[i].name
            } sees ${alive.length}/${want.size} alive`;
            return undefined;
          }
        }
        return true;
      },
      { timeoutMs, intervalMs: 500 },
    ).catch((e) => {
      throw new Error(`${(e as Error).message} (${lastBad})`);
    });
    return performance.now() - t0;
  }

  /** Kill every agent of this cluster. */
  async stop(): Promise<void> {
    await Promise.all([...this.members, ...this.extras].map((a) => a.stop()));
  }
}
