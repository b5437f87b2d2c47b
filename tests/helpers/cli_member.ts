/**
 * A `cli.ts join` child process on Deno or Bun and everything it printed,
 * shared by the tests that run our CLI beside other processes.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { delay, pollUntil } from "../interop/serf_harness.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The runtime binaries from `npm ci` (PATH as a fallback). */
export function runtimeBin(runtime: "deno" | "bun"): string {
  const local = `${ROOT}node_modules/.bin/${runtime}`;
  return existsSync(local) ? local : runtime;
}

/** Options of a {@linkcode CliMember}. */
export interface CliMemberOptions {
  /** Seeds to join. */
  seeds: string[];
  /** Base64 key for `--encrypt`. */
  encrypt?: string;
  /** Port to bind (default 7946, memberlist's). */
  port?: number;
  /** More `join` flags, e.g. `["--profile", "local"]`. */
  extraArgs?: string[];
}

/** A `cli.ts join` child process and everything it printed. */
export class CliMember {
  /** Node name. */
  readonly name: string;
  /** Which runtime runs it. */
  readonly runtime: "deno" | "bun";
  /** Its bind host. */
  readonly host: string;
  /** Output lines (stdout and stderr). */
  readonly lines: string[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  #code: number | null | undefined = undefined;

  constructor(
    runtime: "deno" | "bun",
    name: string,
    host: string,
    opts: CliMemberOptions,
  ) {
    this.name = name;
    this.runtime = runtime;
    this.host = host;
    const join = [
      "join",
      "--node",
      name,
      "--bind",
      `${host}:${opts.port ?? 7946}`,
      ...(opts.encrypt !== undefined ? ["--encrypt", opts.encrypt] : []),
      ...(opts.extraArgs ?? []),
      ...opts.seeds,
    ];
    const args = runtime === "deno"
      ? ["run", "-A", "--quiet", "cli.ts", ...join]
      : ["cli.ts", ...join];
    this.#child = spawn(runtimeBin(runtime), args, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    });
    let partial = "";
    const dec = new TextDecoder();
    const onData = (c: Uint8Array): void => {
      const parts = (partial + dec.decode(c)).split("\n");
      partial = parts.pop() ?? "";
      this.lines.push(...parts);
    };
    this.#child.stdout?.on("data", onData);
    this.#child.stderr?.on("data", onData);
    this.#exited = new Promise((resolve) => {
      this.#child.once("close", (code) => {
        this.#code = code;
        resolve(code);
      });
      this.#child.once("error", (e) => {
        this.lines.push(`spawn error: ${e.message}`);
        this.#code = null;
        resolve(null);
      });
    });
  }

  /** True once the process has exited. */
  get done(): boolean {
    return this.#code !== undefined;
  }

  /** The whole output, for failure messages. */
  get log(): string {
    return `--- ${this.name} (${this.runtime}) ---\n${this.lines.join("\n")}`;
  }

  /** Whether some output line matches `re`. */
  logged(re: RegExp): boolean {
    return this.lines.some((l) => re.test(l));
  }

  /** Wait for an output line matching `re`; fails at the deadline or if the process exits. */
  waitForLog(re: RegExp, timeoutMs: number): Promise<string> {
    return pollUntil(`${this.name} to log ${re}`, () => {
      const hit = this.lines.find((l) => re.test(l));
      if (hit !== undefined) return hit;
      if (this.done) throw new Error(`${this.name} exited\n${this.log}`);
    }, { timeoutMs }).catch((e) => {
      throw new Error(`${(e as Error).message}\n${this.log}`);
    });
  }

  /** Send a signal by pid (process.kill: Deno then reports a normal exit code). */
  signal(sig: "SIGINT" | "SIGKILL" | "SIGSTOP" | "SIGCONT"): void {
    if (!this.done && this.#child.pid !== undefined) {
      try {
        process.kill(this.#child.pid, sig);
      } catch {
        // Already gone.
      }
    }
  }

  /** The exit code once the process exits, or an error at the deadline. */
  exitCode(timeoutMs: number): Promise<number | null> {
    return pollUntil(
      `${this.name} to exit`,
      () => (this.done ? { code: this.#code ?? null } : undefined),
      { timeoutMs },
    ).then((r) => r.code);
  }

  /** SIGCONT + SIGKILL unless exited, then release the pipes. Safe to call twice. */
  async stop(): Promise<void> {
    this.signal("SIGCONT");
    this.signal("SIGKILL");
    await Promise.race([this.#exited, delay(5000)]);
    this.#child.stdout?.destroy();
    this.#child.stderr?.destroy();
  }
}
