/**
 * How to launch a lean grapevine member: the exact argv, per runtime, that
 * `idle_bench.ts` measured as "lean" (bench/idle/README.md has the figures).
 *
 * - **Deno**: V8's `--lite-mode` (no optimizing compilers, smaller feedback
 *   vectors), `--single-threaded` (no background compiler/GC threads) and a
 *   1 MiB young generation. At idle it saves ~5 MiB at the same CPU; under
 *   heavy load (large push-pulls, query storms) JavaScript runs unoptimized,
 *   so keep the default for big or busy clusters.
 * - **Bun**: `BUN_JSC_useJIT=0` (JavaScriptCore's LLInt interpreter only, no
 *   JIT code or JIT threads) and `--smol` (a smaller heap, collected more
 *   often). At idle it saves ~10 MiB at the same CPU; the same caveat under
 *   load. JavaScriptCore reads its options from `BUN_JSC_*` environment
 *   variables only, so the argv starts with `env`.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** V8 flags of a lean Deno member. */
export const LEAN_DENO_V8_FLAGS: readonly string[] = [
  "--lite-mode",
  "--single-threaded",
  "--max-semi-space-size=1",
];

/** Environment of a lean Bun member (JavaScriptCore options). */
export const LEAN_BUN_ENV: Readonly<Record<string, string>> = {
  BUN_JSC_useJIT: "0",
};

/**
 * The runtime binary: the project's pinned one (`node_modules/.bin/`, a
 * symlink to the real executable) when installed, else the one on PATH.
 *
 * @param runtime "deno" or "bun"
 * @returns an absolute path, or the bare name
 */
export function runtimeBinary(runtime: "deno" | "bun"): string {
  const local = `${ROOT}node_modules/.bin/${runtime}`;
  return existsSync(local) ? local : runtime;
}

/**
 * The argv that runs `script` with `args` on `runtime`, lean or not: what the
 * idle bench runs for members and for the runtime floors alike.
 *
 * @param runtime "deno" or "bun"
 * @param script path of the script (absolute, or relative to the cwd)
 * @param args the script's arguments
 * @param options `lean`: add the lean runtime settings (default true)
 * @returns argv; argv[0] is the program to spawn
 */
export function runtimeArgv(
  runtime: "deno" | "bun",
  script: string,
  args: readonly string[],
  options: { lean?: boolean } = {},
): string[] {
  const lean = options.lean ?? true;
  const bin = runtimeBinary(runtime);
  if (runtime === "deno") {
    const v8 = lean ? [`--v8-flags=${LEAN_DENO_V8_FLAGS.join(",")}`] : [];
    return [bin, "run", "-A", "--quiet", ...v8, script, ...args];
  }
  if (!lean) return [bin, script, ...args];
  const env = Object.entries(LEAN_BUN_ENV).map(([k, v]) => `${k}=${v}`);
  return ["env", ...env, bin, "--smol", script, ...args];
}

/**
 * The exact argv that launches a lean grapevine agent (`cli.ts agent`).
 *
 * @param runtime "deno" or "bun"
 * @param agentArgs the agent's flags, without the word "agent"
 * @returns argv; argv[0] is the program to spawn (`deno`, or `env` for Bun)
 * @example
 * ```ts ignore
 * import { spawn } from "node:child_process";
 * const [cmd, ...args] = leanAgentArgv("bun", ["-node=a", "-bind=127.0.0.1:7946"]);
 * spawn(cmd, args, { stdio: "inherit" });
 * ```
 */
export function leanAgentArgv(
  runtime: "deno" | "bun",
  agentArgs: string[],
): string[] {
  return runtimeArgv(runtime, `${ROOT}cli.ts`, ["agent", ...agentArgs]);
}
