/**
 * How the bench starts an agent: the argv of a real `serf agent` and of our
 * `cli.ts agent` on Deno or Bun, built from ONE set of agent flags so both
 * implementations run with the same settings (LAN profile, Serf's default
 * protocol, no encryption, no tags, `-log-level=info`).
 *
 * Every launch of our agent goes through {@linkcode ourAgentArgv}. To make
 * the lean launch (`bench/idle/lean.ts`, `leanAgentArgv(runtime, agentArgs)`)
 * the default, flip {@linkcode DEFAULT_LEAN} to `true`; `--lean` and
 * `--no-lean` override it per run.
 *
 * @module
 */

import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The repository root (where `cli.ts` lives). */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** Where helper H2's lean launch lives, when it exists. */
export const LEAN_MODULE_PATH: string = `${ROOT}bench/idle/lean.ts`;

/** Whether our agents use the lean launch unless `--lean`/`--no-lean` says otherwise. */
export const DEFAULT_LEAN = false;

/** The serf executable (`SERF_BIN` overrides). */
export const SERF_BIN: string = process.env.SERF_BIN ?? "/usr/bin/serf";

/** Which implementation an agent runs. */
export type Impl = "serf" | "deno" | "bun";

/** Our runtimes. */
export type Runtime = "deno" | "bun";

/** One agent's identity and seed. */
export interface AgentSpec {
  /** Node name (`-node`). */
  name: string;
  /** Loopback IPv4 of this agent: gossip on :7946, RPC on :7373. */
  host: string;
  /** Seed to join at start (`-join`), or none. */
  join?: string;
}

/** A process to spawn. */
export interface LaunchCommand {
  /** Executable path. */
  command: string;
  /** Its arguments. */
  args: string[];
  /** Extra environment variables. */
  env: Record<string, string>;
}

/** The gossip port of every agent (memberlist's default). */
export const GOSSIP_PORT = 7946;
/** The RPC port of every agent (Serf's default). */
export const RPC_PORT = 7373;

/**
 * The agent flags both implementations get: serf's own flag syntax.
 *
 * @param spec name, address and seed
 * @returns the flags after `agent`
 */
export function agentFlags(spec: AgentSpec): string[] {
  return [
    `-node=${spec.name}`,
    `-bind=${spec.host}:${GOSSIP_PORT}`,
    `-rpc-addr=${spec.host}:${RPC_PORT}`,
    "-profile=lan",
    "-log-level=info",
    ...(spec.join !== undefined ? [`-join=${spec.join}`] : []),
  ];
}

/**
 * The runtime binary from `npm ci` (a symlink to the real ELF), else PATH.
 *
 * @param runtime deno or bun
 * @returns its path
 */
export function runtimeBin(runtime: Runtime): string {
  const local = `${ROOT}node_modules/.bin/${runtime}`;
  return existsSync(local) ? local : runtime;
}

/**
 * The plain launch of our agent: `deno run -A cli.ts agent …` / `bun cli.ts agent …`.
 *
 * @param runtime deno or bun
 * @param agentArgs the agent's flags, without the word "agent"
 * @returns the command
 */
export function plainAgentArgv(
  runtime: Runtime,
  agentArgs: string[],
): LaunchCommand {
  const args = runtime === "deno"
    ? ["run", "-A", "--quiet", "cli.ts", "agent", ...agentArgs]
    : ["cli.ts", "agent", ...agentArgs];
  return {
    command: runtimeBin(runtime),
    args,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  };
}

type LeanFn = (runtime: Runtime, agentArgs: string[]) => unknown;
let leanFn: LeanFn | null = null;

/** Whether `bench/idle/lean.ts` exists. */
export function leanAvailable(): boolean {
  return existsSync(LEAN_MODULE_PATH);
}

/**
 * Load `leanAgentArgv` from `bench/idle/lean.ts` (call once before launching
 * with `lean: true`).
 *
 * @throws {Error} when the module or the function is missing
 */
export async function loadLean(): Promise<void> {
  if (!leanAvailable()) {
    throw new Error(`Cannot use --lean: ${LEAN_MODULE_PATH} does not exist`);
  }
  // A computed specifier: the file may not exist when this module is checked.
  const mod = await import(pathToFileURL(LEAN_MODULE_PATH).href) as Record<
    string,
    unknown
  >;
  if (typeof mod.leanAgentArgv !== "function") {
    throw new Error(
      `Cannot use --lean: ${LEAN_MODULE_PATH} has no leanAgentArgv`,
    );
  }
  leanFn = mod.leanAgentArgv as LeanFn;
}

// `leanAgentArgv` returns a full argv, program first. Bun's starts with
// `env VAR=VALUE… bun …` (JavaScriptCore reads its options from the
// environment only): spawn the runtime itself with those variables instead,
// so the measured pid never was anything but the runtime.
function normalizeLean(runtime: Runtime, r: unknown): LaunchCommand {
  if (!Array.isArray(r) || r.length === 0) {
    throw new TypeError(`leanAgentArgv returned ${typeof r}: want an argv`);
  }
  const argv = r.map(String);
  const env: Record<string, string> = {
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
  };
  let i = 0;
  if (argv[0] === "env" || argv[0].endsWith("/env")) {
    for (
      i = 1;
      i < argv.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[i]);
      i++
    ) {
      const eq = argv[i].indexOf("=");
      env[argv[i].slice(0, eq)] = argv[i].slice(eq + 1);
    }
  }
  const command = argv[i];
  if (command === undefined || !command.includes(runtime)) {
    throw new TypeError(
      `leanAgentArgv(${runtime}) runs ${command}: want the ${runtime} binary`,
    );
  }
  return { command, args: argv.slice(i + 1), env };
}

/**
 * THE launch of our agent: every grapevine agent the bench starts comes from here.
 *
 * @param runtime deno or bun
 * @param agentArgs the agent's flags, without the word "agent"
 * @param options `lean`: use `leanAgentArgv` (after {@linkcode loadLean})
 * @returns the command
 */
export function ourAgentArgv(
  runtime: Runtime,
  agentArgs: string[],
  options: { lean: boolean },
): LaunchCommand {
  if (!options.lean) return plainAgentArgv(runtime, agentArgs);
  if (leanFn === null) throw new Error("loadLean() was not called");
  return normalizeLean(runtime, leanFn(runtime, agentArgs));
}

/**
 * The launch of any agent of the bench.
 *
 * @param impl serf, deno or bun
 * @param spec name, address and seed
 * @param options `lean` for ours
 * @returns the command
 */
export function agentCommand(
  impl: Impl,
  spec: AgentSpec,
  options: { lean: boolean },
): LaunchCommand {
  const flags = agentFlags(spec);
  if (impl === "serf") {
    return { command: SERF_BIN, args: ["agent", ...flags], env: {} };
  }
  return ourAgentArgv(impl, flags, options);
}

/**
 * The address block of an implementation (serf 127.0.110.x, Deno
 * 127.0.111.x, Bun 127.0.112.x, extra joiners 127.0.113.x).
 *
 * @param impl serf, deno, bun or "joiner"
 * @param index 1-based member index (1–254)
 * @returns the IPv4 address
 */
export function hostOf(impl: Impl | "joiner", index: number): string {
  if (!Number.isInteger(index) || index < 1 || index > 254) {
    throw new RangeError(`Invalid member index ${index}: must be 1–254`);
  }
  const third = { serf: 110, deno: 111, bun: 112, joiner: 113 }[impl];
  return `127.0.${third}.${index}`;
}
