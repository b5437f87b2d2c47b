/**
 * Helpers of the CLI end-to-end tests: run `cli.ts` on the runtime running
 * the tests (Deno or Bun), start our agents as child processes, read their
 * logs, send them signals, and always kill them.
 *
 * Addresses: each test file owns one 127.0.10x.0/24 block (see the files).
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { delay, type HostPort, hostPort } from "../interop/serf_harness.ts";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** Which runtime runs the tests (and so the CLI). */
export const RUNTIME: "deno" | "bun" =
  (globalThis as { Deno?: unknown }).Deno !== undefined ? "deno" : "bun";

/**
 * The command that runs our CLI with `args` on this runtime.
 *
 * @param args the CLI arguments
 * @returns executable and argv
 */
export function cliArgv(args: readonly string[]): [string, string[]] {
  return RUNTIME === "deno"
    ? [process.execPath, ["run", "-A", "--quiet", "cli.ts", ...args]]
    : [process.execPath, ["cli.ts", ...args]];
}

/** What a CLI run printed. */
export interface Output {
  /** Exit code (null when killed). */
  code: number | null;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/**
 * Run a program to completion and collect its output.
 *
 * @param cmd executable
 * @param args its arguments
 * @param opts deadline (default 20 s; killed then) and extra environment
 * @returns exit code and output
 */
export function runProgram(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<Output> {
  return new Promise((resolve) => {
    const child = spawn(cmd, [...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...opts.env },
    });
    let stdout = "";
    let stderr = "";
    const dec = new TextDecoder();
    child.stdout?.on("data", (c: Uint8Array) => (stdout += dec.decode(c)));
    child.stderr?.on("data", (c: Uint8Array) => (stderr += dec.decode(c)));
    const timer = setTimeout(
      () => child.kill("SIGKILL"),
      opts.timeoutMs ?? 20_000,
    );
    child.once("error", (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr + e.message });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Run our CLI to completion.
 *
 * @param args the CLI arguments
 * @param opts deadline and environment
 * @returns exit code and output
 */
export function grapevine(
  args: readonly string[],
  opts: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<Output> {
  const [cmd, argv] = cliArgv(args);
  return runProgram(cmd, argv, opts);
}

/** A long-running child process (an agent, a foreground `join`). */
export class Proc {
  /** Every output line so far (stdout and stderr). */
  readonly lines: string[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  #code: number | null | undefined = undefined;
  #partial = "";
  #waiters: Array<() => void> = [];

  /** @param child the spawned process */
  constructor(child: ChildProcess) {
    this.#child = child;
    const dec = new TextDecoder();
    const onData = (c: Uint8Array): void => {
      const parts = (this.#partial + dec.decode(c)).split("\n");
      this.#partial = parts.pop() ?? "";
      this.lines.push(...parts);
      this.#wake();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    this.#exited = new Promise((resolve) => {
      child.once("close", (code, signal) => {
        this.#code = code ?? (signal ? null : code);
        this.#wake();
        resolve(this.#code);
      });
      child.once("error", (e) => {
        this.lines.push(`spawn error: ${e.message}`);
        this.#code = null;
        this.#wake();
        resolve(null);
      });
    });
  }

  /** The output so far. */
  get log(): string {
    return [...this.lines, this.#partial].join("\n");
  }

  /** Resolves with the exit code (null when killed by a signal). */
  get exited(): Promise<number | null> {
    return this.#exited;
  }

  /** True once exited. */
  get done(): boolean {
    return this.#code !== undefined;
  }

  #wake(): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w();
  }

  /**
   * Wait for an output line matching `re`.
   *
   * @param re the pattern
   * @param timeoutMs deadline
   * @returns the line
   */
  async waitFor(re: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find((l) => re.test(l));
      if (hit !== undefined) return hit;
      if (this.done) {
        throw new Error(`Exited before printing ${re}:\n${this.log}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`No line ${re} within ${timeoutMs} ms:\n${this.log}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /**
   * Send a signal.
   *
   * @param sig e.g. "SIGINT"
   */
  signal(sig: "SIGINT" | "SIGTERM" | "SIGHUP"): void {
    // process.kill, not child.kill: Deno's child_process then reports a
    // normal exit as killed by the signal.
    if (!this.done && this.#child.pid !== undefined) {
      process.kill(this.#child.pid, sig);
    }
  }

  /**
   * Wait for the exit, or fail at the deadline.
   *
   * @param timeoutMs deadline
   * @returns the exit code
   */
  async exitCode(timeoutMs: number): Promise<number | null> {
    let t: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      this.#exited,
      new Promise<"timeout">((
        res,
      ) => (t = setTimeout(() => res("timeout"), timeoutMs))),
    ]);
    clearTimeout(t);
    if (r === "timeout") {
      throw new Error(`Did not exit within ${timeoutMs} ms:\n${this.log}`);
    }
    return r;
  }

  /** Kill (SIGKILL) and wait; safe to call twice. */
  async kill(): Promise<void> {
    if (!this.done) {
      this.#child.kill("SIGKILL");
      await Promise.race([this.#exited, delay(5000)]);
    }
    this.#child.stdout?.destroy();
    this.#child.stderr?.destroy();
  }
}

/**
 * Spawn our CLI as a long-running process.
 *
 * @param args the CLI arguments
 * @param env extra environment
 * @returns the process; `kill()` it in `finally`
 */
export function spawnGrapevine(
  args: readonly string[],
  env: Record<string, string> = {},
): Proc {
  const [cmd, argv] = cliArgv(args);
  return new Proc(
    spawn(cmd, argv, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...env },
    }),
  );
}

/** Options of {@linkcode startAgent}. */
export interface AgentSpec {
  /** Node name. */
  name: string;
  /** Gossip address. */
  bind: HostPort;
  /** RPC address. */
  rpc: HostPort;
  /** More flags. */
  extra?: readonly string[];
  /** Extra environment. */
  env?: Record<string, string>;
}

/**
 * Start `grapevine agent` (profile local) and wait until its RPC answers.
 *
 * @param spec name, addresses, flags
 * @returns the agent process
 */
export async function startAgent(spec: AgentSpec): Promise<Proc> {
  const p = spawnGrapevine([
    "agent",
    `-node=${spec.name}`,
    `-bind=${hostPort(spec.bind)}`,
    `-rpc-addr=${hostPort(spec.rpc)}`,
    "-profile=local",
    "-log-level=debug",
    ...(spec.extra ?? []),
  ], spec.env);
  try {
    await waitForPort(spec.rpc, 20_000, p);
  } catch (e) {
    await p.kill();
    throw e;
  }
  return p;
}

/**
 * Wait until a TCP port accepts connections.
 *
 * @param to the address
 * @param timeoutMs deadline
 * @param proc fail early when this process exits
 */
export async function waitForPort(
  to: HostPort,
  timeoutMs: number,
  proc?: Proc,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(to))) {
    if (proc?.done) throw new Error(`Exited during startup:\n${proc.log}`);
    if (Date.now() > deadline) {
      throw new Error(
        `${hostPort(to)} not accepting within ${timeoutMs} ms${
          proc ? `:\n${proc.log}` : ""
        }`,
      );
    }
    await delay(50);
  }
}

function canConnect(to: HostPort): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: to.host, port: to.port });
    const done = (ok: boolean): void => {
      s.removeAllListeners();
      s.on("error", () => {});
      s.destroy();
      resolve(ok);
    };
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

/** `-rpc-addr=HOST:PORT`. */
export function rpcFlag(a: HostPort): string {
  return `-rpc-addr=${hostPort(a)}`;
}

/**
 * Parse `members -format=json` output into name → status.
 *
 * @param stdout the JSON text
 * @returns the statuses
 */
export function statuses(stdout: string): Map<string, string> {
  const json = JSON.parse(stdout) as {
    members: Array<{ name: string; status: string }>;
  };
  return new Map(json.members.map((m) => [m.name, m.status]));
}
