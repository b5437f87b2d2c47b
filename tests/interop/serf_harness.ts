/**
 * Test harness for the live interop checks against a real HashiCorp `serf` agent (Debian's serf
 * 0.9.4 on memberlist 0.2.2).
 *
 * - {@linkcode startSerfAgent} spawns `serf agent` on a loopback address, collects its log lines
 *   and waits until its RPC port accepts connections; {@linkcode SerfAgent.stop} kills it by pid.
 * - {@linkcode SerfAgent.cli} runs `serf <command> -rpc-addr=<agent>` and returns its output.
 * - {@linkcode startFakeMember} binds a UDP socket and a TCP server on one loopback address and
 *   port, so a test can play a memberlist node by hand and see every byte serf sends it.
 * - {@linkcode serfSkipReason} decides whether a live test may be skipped: only when `serf` is not
 *   on PATH **and** `CI` is unset. In CI a missing serf fails the test.
 *
 * Only `node:*` modules are used, so the same file runs on Deno, Bun and Node. Every process and
 * socket made here must be released by the caller (`stop()` / `close()` in `finally` or
 * `t.after`): Node's test runner hangs on a leaked handle.
 *
 * @module
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import dgram from "node:dgram";
import net from "node:net";
import { env } from "node:process";

/** The serf executable the live tests run (`SERF_BIN` overrides the PATH lookup). */
export const SERF_BIN: string = env.SERF_BIN ?? "serf";

let availableCache: boolean | undefined;

/**
 * Whether the `serf` executable can be run (`serf version` exits 0).
 *
 * @returns True when serf is on PATH (or at `SERF_BIN`).
 */
export function serfAvailable(): boolean {
  if (availableCache === undefined) {
    const r = spawnSync(SERF_BIN, ["version"], {
      stdio: "ignore",
      timeout: 5000,
    });
    availableCache = r.error === undefined && r.status === 0;
  }
  return availableCache;
}

/**
 * The reason to skip a live serf test, or `false` to run it.
 *
 * A test is skipped only when serf is missing and the `CI` environment variable is not set. In CI
 * the test runs, and {@linkcode startSerfAgent} fails with a clear message.
 *
 * @returns A human-readable skip message, or `false`.
 * @example
 * ```ts
 * test("live", { skip: serfSkipReason(), timeout: 20_000 }, async () => {});
 * ```
 */
export function serfSkipReason(): string | false {
  if (serfAvailable() || env.CI) return false;
  return `Skipping live serf interop test: '${SERF_BIN}' is not on PATH (install Debian's serf; ` +
    "with CI set a missing serf is a failure)";
}

/** A loopback `host:port` pair. */
export interface HostPort {
  /** IPv4 literal, e.g. "127.0.55.1". */
  host: string;
  /** Port number. */
  port: number;
}

/** Format a {@linkcode HostPort} as `host:port`. */
export function hostPort(a: HostPort): string {
  return `${a.host}:${a.port}`;
}

/** Options for {@linkcode startSerfAgent}. */
export interface SerfAgentOptions {
  /** Node name (`-node`). */
  name: string;
  /** Gossip bind address (`-bind`), UDP and TCP. */
  bind: HostPort;
  /** RPC address (`-rpc-addr`). */
  rpc: HostPort;
  /** Base64 gossip key (`-encrypt`); omitted for a plaintext agent. */
  encryptKey?: string;
  /** More agent flags, e.g. `["-disable-compression", "-tag", "role=web"]`. */
  extraArgs?: readonly string[];
  /** How long to wait for the RPC port (default 10000 ms). */
  startTimeoutMs?: number;
}

/** What a `serf` CLI invocation printed. */
export interface CliResult {
  /** Exit code (`null` when killed by a signal). */
  code: number | null;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Options for {@linkcode SerfAgent.cli}. */
export interface CliOptions {
  /** Kill the CLI after this long (default 10000 ms). */
  timeoutMs?: number;
}

/** A running `serf agent` child process. Always {@linkcode SerfAgent.stop} it. */
export class SerfAgent {
  /** The agent's options. */
  readonly options: SerfAgentOptions;
  /** Every log line the agent printed so far (stdout and stderr, in arrival order). */
  readonly logLines: string[] = [];
  readonly #child: ChildProcess;
  #exited: Promise<void>;
  #exitCode: number | null | undefined = undefined;
  #partial = "";
  #logWaiters: Array<() => void> = [];

  /**
   * @param child The spawned agent process.
   * @param options The options it was started with.
   */
  constructor(child: ChildProcess, options: SerfAgentOptions) {
    this.#child = child;
    this.options = options;
    const onData = (chunk: Uint8Array | string): void => this.#onOutput(chunk);
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    this.#exited = new Promise<void>((resolve) => {
      child.once("exit", (code) => {
        this.#exitCode = code;
        resolve();
        this.#wakeLogWaiters();
      });
      child.once("error", (err) => {
        this.logLines.push(`spawn error: ${err.message}`);
        this.#exitCode = null;
        resolve();
        this.#wakeLogWaiters();
      });
    });
  }

  /** The agent's process id. */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** True once the process has exited. */
  get exited(): boolean {
    return this.#exitCode !== undefined;
  }

  /** The whole log so far, one string. */
  get log(): string {
    return this.logLines.join("\n");
  }

  #onOutput(chunk: Uint8Array | string): void {
    const text = this.#partial +
      (typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk));
    const lines = text.split("\n");
    this.#partial = lines.pop() ?? "";
    for (const l of lines) this.logLines.push(l.trimEnd());
    this.#wakeLogWaiters();
  }

  #wakeLogWaiters(): void {
    const ws = this.#logWaiters;
    this.#logWaiters = [];
    for (const w of ws) w();
  }

  /**
   * Wait until a log line matches `pattern`.
   *
   * @param pattern What to look for.
   * @param timeoutMs Deadline.
   * @returns The first matching line.
   * @throws {Error} At the deadline or when the agent exits first (the log is in the message).
   */
  async waitForLog(pattern: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (let seen = 0;;) {
      for (; seen < this.logLines.length; seen++) {
        if (pattern.test(this.logLines[seen])) return this.logLines[seen];
      }
      if (this.exited) {
        throw this.#error(`Agent exited before logging ${pattern}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw this.#error(
          `Agent did not log ${pattern} within ${timeoutMs} ms`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#logWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #error(message: string): Error {
    return new Error(`${message}; serf ${this.options.name} log:\n${this.log}`);
  }

  /**
   * Run `serf <command> -rpc-addr=<this agent's RPC> ...args`.
   *
   * @param command A serf CLI command ("members", "join", "event", "keys", ...).
   * @param args Its flags and arguments, after `-rpc-addr`.
   * @param options Timeout.
   * @returns Exit code and output (a non-zero exit is not an error here).
   */
  cli(
    command: string,
    args: readonly string[] = [],
    options: CliOptions = {},
  ): Promise<CliResult> {
    return runSerfCli([
      command,
      `-rpc-addr=${hostPort(this.options.rpc)}`,
      ...args,
    ], options);
  }

  /** Wait until the RPC port accepts a TCP connection, or fail at the deadline. */
  async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await canConnect(this.options.rpc))) {
      if (this.exited) throw this.#error("Agent exited during startup");
      if (Date.now() >= deadline) {
        throw this.#error(
          `Agent RPC did not accept connections within ${timeoutMs} ms`,
        );
      }
      await delay(50);
    }
  }

  /**
   * Kill the agent by pid (SIGKILL: a shutdown without a leave) and wait for it to exit.
   * Safe to call more than once.
   */
  async stop(): Promise<void> {
    if (!this.exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await Promise.race([this.#exited, delay(5000)]);
    }
    this.#child.stdout?.destroy();
    this.#child.stderr?.destroy();
  }
}

/**
 * Spawn `serf agent -node=<name> -bind=<bind> -rpc-addr=<rpc> -log-level=debug ...` and wait
 * until its RPC port accepts connections.
 *
 * @param options Name, addresses, key and extra flags.
 * @returns The running agent; the caller must `stop()` it.
 * @throws {Error} When serf is missing, exits, or does not come up in time (the agent is stopped
 *   first).
 * @example
 * ```ts
 * const serf = await startSerfAgent({
 *   name: "real1",
 *   bind: { host: "127.0.55.1", port: 17946 },
 *   rpc: { host: "127.0.55.1", port: 17373 },
 * });
 * try {
 *   console.log((await serf.cli("members")).stdout);
 * } finally {
 *   await serf.stop();
 * }
 * ```
 */
export async function startSerfAgent(
  options: SerfAgentOptions,
): Promise<SerfAgent> {
  if (!serfAvailable()) {
    throw new Error(
      `Cannot start serf: '${SERF_BIN}' is not on PATH` +
        (env.CI
          ? " (CI is set, so the live interop tests cannot be skipped)"
          : ""),
    );
  }
  const args = [
    "agent",
    `-node=${options.name}`,
    `-bind=${hostPort(options.bind)}`,
    `-rpc-addr=${hostPort(options.rpc)}`,
    "-log-level=debug",
    ...(options.encryptKey !== undefined
      ? [`-encrypt=${options.encryptKey}`]
      : []),
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(SERF_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  const agent = new SerfAgent(child, options);
  try {
    await agent.waitUntilReady(options.startTimeoutMs ?? 10_000);
  } catch (e) {
    await agent.stop();
    throw e;
  }
  return agent;
}

/**
 * Run the serf CLI with `args` and collect its output.
 *
 * @param args Everything after `serf`.
 * @param options Timeout (default 10000 ms; the CLI is killed then).
 * @returns Exit code and output.
 */
export function runSerfCli(
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliResult> {
  return new Promise<CliResult>((resolve) => {
    const child = spawn(SERF_BIN, [...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const dec = new TextDecoder();
    child.stdout?.on("data", (c: Uint8Array) => stdout += dec.decode(c));
    child.stderr?.on("data", (c: Uint8Array) => stderr += dec.decode(c));
    const timer = setTimeout(
      () => child.kill("SIGKILL"),
      options.timeoutMs ?? 10_000,
    );
    child.once("error", (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr + err.message });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Poll `check` until it returns a value other than `undefined`, or fail at the deadline.
 *
 * @param what What is being waited for (for the error message).
 * @param check Returns the result once the condition holds.
 * @param options `timeoutMs` (required) and `intervalMs` (default 50).
 * @returns The first defined result.
 */
export async function pollUntil<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) {
      throw new Error(
        `Timed out after ${options.timeoutMs} ms waiting for ${what}`,
      );
    }
    await delay(options.intervalMs ?? 50);
  }
}

/** Resolve after `ms` milliseconds (for polling loops only, never as an assertion). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function canConnect(to: HostPort): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: to.host, port: to.port });
    const done = (ok: boolean): void => {
      sock.removeAllListeners();
      sock.on("error", () => {});
      sock.destroy();
      resolve(ok);
    };
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

/** Callbacks of a {@linkcode FakeMember}. */
export interface FakeMemberHandlers {
  /** Called for every datagram received on the UDP socket. */
  onPacket?: (bytes: Uint8Array, from: HostPort) => void;
  /** Called for every accepted TCP connection; the harness destroys it on close. */
  onStream?: (conn: StreamConn) => void;
}

/**
 * An accepted TCP connection with a pull-style reader: `read(frameLength)` waits until the bytes
 * received so far hold one complete frame and returns exactly that frame.
 */
export class StreamConn {
  /** The underlying socket. */
  readonly socket: net.Socket;
  /** Where the connection came from (not the peer's node address, SPEC §4.1). */
  readonly remote: HostPort;
  #buf: Uint8Array = new Uint8Array(0);
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  /** @param socket An accepted socket. */
  constructor(socket: net.Socket) {
    this.socket = socket;
    this.remote = {
      host: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    };
    socket.on("data", (chunk: Uint8Array) => {
      const next = new Uint8Array(this.#buf.length + chunk.length);
      next.set(this.#buf);
      next.set(chunk, this.#buf.length);
      this.#buf = next;
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (err) => {
      this.#error = err;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /**
   * Read one frame.
   *
   * @param frameLength Given the bytes so far, the length of the first complete frame, or -1 when
   *   more bytes are needed. It may throw to reject malformed input.
   * @param timeoutMs Deadline for the whole frame.
   * @returns The frame's bytes (consumed from the buffer).
   * @throws {Error} At the deadline, or when the peer closes before a whole frame arrived.
   */
  async read(
    frameLength: (buf: Uint8Array) => number,
    timeoutMs: number,
  ): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = this.#buf.length > 0 ? frameLength(this.#buf) : -1;
      if (n >= 0) {
        const frame = this.#buf.slice(0, n);
        this.#buf = this.#buf.slice(n);
        return frame;
      }
      if (this.#error !== null) throw this.#error;
      if (this.#ended) {
        throw new Error(
          `Stream closed after ${this.#buf.length} bytes, before a complete frame`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`No complete stream frame within ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Write `bytes` and wait until they are handed to the OS. */
  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (err) => err ? reject(err) : resolve());
    });
  }

  /** Half-close then destroy the socket. */
  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

/**
 * A hand-driven memberlist endpoint: one UDP socket and one TCP server on the same loopback
 * address and port. Always {@linkcode FakeMember.close} it.
 */
export class FakeMember {
  /** The bound address. */
  readonly address: HostPort;
  readonly #udp: dgram.Socket;
  readonly #tcp: net.Server;
  readonly #conns = new Set<net.Socket>();

  /**
   * @param address The bound address.
   * @param udp The bound UDP socket.
   * @param tcp The listening TCP server.
   */
  constructor(address: HostPort, udp: dgram.Socket, tcp: net.Server) {
    this.address = address;
    this.#udp = udp;
    this.#tcp = tcp;
    tcp.on("connection", (s: net.Socket) => {
      this.#conns.add(s);
      s.once("close", () => this.#conns.delete(s));
    });
  }

  /**
   * Send one datagram from this member's UDP socket.
   *
   * @param bytes The packet.
   * @param to Destination.
   */
  send(bytes: Uint8Array, to: HostPort): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#udp.send(
        bytes,
        to.port,
        to.host,
        (err) => err ? reject(err) : resolve(),
      );
    });
  }

  /**
   * Open a TCP connection from this member to `to` (for dialing serf).
   *
   * @param to Destination.
   * @returns The connected stream; the harness destroys it on close.
   */
  dial(to: HostPort): Promise<StreamConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect({
        host: to.host,
        port: to.port,
        localAddress: this.address.host,
      });
      this.#conns.add(s);
      s.once("close", () => this.#conns.delete(s));
      s.once("error", reject);
      s.once("connect", () => {
        s.off("error", reject);
        resolve(new StreamConn(s));
      });
    });
  }

  /** Close the UDP socket, the TCP server and every open connection. */
  async close(): Promise<void> {
    for (const s of this.#conns) s.destroy();
    this.#conns.clear();
    await Promise.all([
      new Promise<void>((resolve) => {
        try {
          this.#udp.close(() => resolve());
        } catch {
          resolve();
        }
      }),
      new Promise<void>((resolve) => this.#tcp.close(() => resolve())),
    ]);
  }
}

/**
 * Bind a UDP socket and a TCP server on `address` and dispatch what arrives to `handlers`.
 *
 * @param address Loopback address and port (both planes use the same port, like memberlist).
 * @param handlers Packet and stream callbacks.
 * @returns The fake member; the caller must `close()` it.
 */
export async function startFakeMember(
  address: HostPort,
  handlers: FakeMemberHandlers,
): Promise<FakeMember> {
  const udp = dgram.createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(address.port, address.host, () => {
      udp.off("error", reject);
      resolve();
    });
  });
  // A send failure is reported to its callback; without a listener a stray 'error' event would
  // crash the runner instead of failing the one test.
  udp.on("error", () => {});
  udp.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
    const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength)
      .slice();
    handlers.onPacket?.(bytes, { host: rinfo.address, port: rinfo.port });
  });
  const tcp = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen(address.port, address.host, () => {
        tcp.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    udp.close();
    throw e;
  }
  const member = new FakeMember(address, udp, tcp);
  tcp.on(
    "connection",
    (s: net.Socket) => handlers.onStream?.(new StreamConn(s)),
  );
  return member;
}
