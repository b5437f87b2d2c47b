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

import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
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
  // mimalloc's background purge thread wakes ~4×/s; without it, freed pages
  // are purged inline on the allocating thread (same RSS, measured).
  MIMALLOC_SCAVENGER: "0",
  // Bun's 1 s GC timer reads /proc/self/statm and maybe collects, every
  // second, out of step with the probe tick; JavaScriptCore still collects
  // on allocation.
  BUN_GC_TIMER_DISABLE: "1",
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
    // --unstable-net: Deno.listenDatagram for a script outside the repo
    // (a bundle), which deno.json's "unstable" does not reach.
    return [
      bin,
      "run",
      "-A",
      "--quiet",
      "--unstable-net",
      ...v8,
      script,
      ...args,
    ];
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
 * @param entry the CLI to run: `cli.ts` (default) or a bundle's entry from
 *   {@linkcode bundleAgent} (~6 MiB less on Deno, ~3 MiB on Bun)
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
  entry: string = `${ROOT}cli.ts`,
): string[] {
  return runtimeArgv(runtime, entry, ["agent", ...agentArgs]);
}

/**
 * Bundle `cli.ts` with the runtime's own bundler, code-split so modules that
 * an agent loads on demand (the RPC client, the simulator, metrics, the other
 * runtimes' transports) stay out of the entry: `deno bundle --code-splitting
 * --platform browser`, `bun build --target=bun --splitting
 * --conditions=browser`. The browser condition picks @logtape/logtape's
 * build without `node:util` (its `inspect` then stringifies as JSON, which
 * the CLI's log formatter never calls): a bundled agent on Deno never starts
 * Deno's Node compatibility layer, and on Bun it skips `node:util`.
 *
 * @param runtime "deno" or "bun"
 * @param outDir where to write the chunks (emptied first); default a
 *   directory under the system's temporary directory
 * @returns the path of the entry file (`cli.js`)
 * @throws {Error} when the bundler fails
 */
export function bundleAgent(
  runtime: "deno" | "bun",
  outDir: string = `${tmpdir()}/grapevine-bundle-${runtime}`,
): string {
  rmSync(outDir, { recursive: true, force: true });
  const bin = runtimeBinary(runtime);
  const args = runtime === "deno"
    ? [
      "bundle",
      "--quiet",
      "--code-splitting",
      "--platform",
      "browser",
      "--outdir",
      outDir,
      `${ROOT}cli.ts`,
    ]
    : [
      "build",
      `${ROOT}cli.ts`,
      "--target=bun",
      "--splitting",
      "--conditions=browser",
      `--outdir=${outDir}`,
    ];
  const r = spawnSync(bin, args, { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(`${runtime} bundle failed: ${r.stderr}`);
  }
  const entry = `${outDir}/cli.js`;
  // Run it once: Deno's first run of a new file fills its code cache and
  // leaves that memory resident (a first-run member measured 111 MiB).
  const [cmd, ...rest] = runtimeArgv(runtime, entry, ["version"], {
    lean: false,
  });
  spawnSync(cmd, rest, { cwd: ROOT });
  return entry;
}
