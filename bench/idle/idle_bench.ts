/**
 * Idle cost of a member, beside its floors and beside serf, in one command:
 *
 * - **floors**, per runtime, default and lean: an empty script kept alive by a
 *   1 s timer (`floor_empty.ts`), and one that also binds a UDP and a TCP
 *   socket (`floor_sockets.ts`);
 * - **serf alone**: one `serf agent` with no peers;
 * - **3-member clusters**, each of one kind: serf agents, grapevine agents on
 *   Deno and on Bun, default and lean (`lean.ts`), every one a `cli.ts agent`
 *   with RPC, as `serf agent` runs; and lean members run from a code-split
 *   bundle of `cli.ts` (`bundleAgent`).
 *
 * Everything runs at once on loopback (127.0.87.x) and is measured over the
 * same window, so load from elsewhere on the machine hits every row alike.
 * CPU is utime + stime of `/proc/<pid>/stat` (all threads, living and exited)
 * in ms per second; RSS is VmRSS sampled every second; wake-ups are
 * voluntary + involuntary context switches summed over the threads. Each
 * process is the real runtime binary (checked through `/proc/<pid>/exe`; for
 * Bun's lean row `env` execs it). A cluster row is the mean of its three
 * members. Linux only; needs `serf` on PATH.
 *
 *   deno run -A bench/idle/idle_bench.ts [--seconds 60] [--warmup 15] [--json]
 *   bun bench/idle/idle_bench.ts [--seconds 60] [--warmup 15] [--json]
 *
 * @module
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { bundleAgent, runtimeArgv } from "./lean.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HERE = fileURLToPath(new URL("./", import.meta.url));
const NET = "127.0.87";
const SERF = process.env.SERF_BIN ?? "serf";

/** Command-line options. */
interface Options {
  seconds: number;
  warmupSeconds: number;
  json: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const opts: Options = { seconds: 60, warmupSeconds: 15, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") opts.json = true;
    else if (a === "--seconds") opts.seconds = Number(argv[++i]);
    else if (a === "--warmup") opts.warmupSeconds = Number(argv[++i]);
    else throw new TypeError(`Unknown argument ${a}`);
  }
  if (!(opts.seconds >= 5) || !(opts.warmupSeconds >= 0)) {
    throw new RangeError("Invalid --seconds/--warmup: want ≥ 5 and ≥ 0");
  }
  return opts;
}

/** One process's counters at one instant. */
export interface Sample {
  cpuTicks: number;
  switches: number;
  rssKb: number;
  threads: number;
}

/**
 * Read one process's CPU ticks, context switches, RSS and thread count.
 *
 * @param pid the process
 * @returns its counters now
 */
export function sample(pid: number): Sample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesized command name; utime and stime are 14, 15.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (text: string, name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  let switches = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const t = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
      switches += field(t, "voluntary_ctxt_switches") +
        field(t, "nonvoluntary_ctxt_switches");
    } catch {
      // The thread exited between the listing and the read.
    }
  }
  return {
    cpuTicks: Number(rest[11]) + Number(rest[12]),
    switches,
    rssKb: field(status, "VmRSS"),
    threads: field(status, "Threads"),
  };
}

/** A group of processes reported as one row. */
export interface Group {
  label: string;
  /** What `/proc/<pid>/exe` must end with. */
  exe: string;
  children: ChildProcess[];
  /** An RPC address that must list `members` alive before measuring. */
  rpc?: string;
  members?: number;
}

/**
 * Spawn `argv` in the repository root, stdout ignored, stderr drained.
 *
 * @param argv program and arguments
 * @param env extra environment
 * @returns the child
 */
export function start(
  argv: readonly string[],
  env: Record<string, string> = {},
): ChildProcess {
  const child = spawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
  });
  // Drain stderr so a chatty child never blocks on a full pipe.
  child.stderr?.on("data", () => {});
  return child;
}

/**
 * A member's agent flags (RPC on, `-log-level=warn`, retry-joining `seed`).
 *
 * @param name node name
 * @param host its loopback address
 * @param seed the first member's address, or null for the first member
 * @returns the flags after `agent`
 */
export function agentArgs(
  name: string,
  host: string,
  seed: string | null,
): string[] {
  return [
    `-node=${name}`,
    `-bind=${host}:7946`,
    `-rpc-addr=${host}:7373`,
    "-log-level=warn",
    ...(seed === null
      ? []
      : [`-retry-join=${seed}:7946`, "-retry-interval=1s"]),
  ];
}

/**
 * Start a 3-member cluster on `${NET}.base` … `.base+2`.
 *
 * @param label row label
 * @param base last octet of the first member
 * @param exe what `/proc/<pid>/exe` must end with
 * @param argv builds a member's argv from its agent flags
 * @param env extra environment of every member
 * @returns the group
 */
export function cluster(
  label: string,
  base: number,
  exe: string,
  argv: (args: string[]) => string[],
  env: Record<string, string> = {},
): Group {
  const hosts = [0, 1, 2].map((i) => `${NET}.${base + i}`);
  const children = hosts.map((h, i) =>
    start(
      argv(agentArgs(`${label.split(" ")[0]}-${i}`, h, i ? hosts[0] : null)),
      env,
    )
  );
  return { label, exe, children, rpc: `${hosts[0]}:7373`, members: 3 };
}

function groups(): Group[] {
  const out: Group[] = [];
  for (const runtime of ["deno", "bun"] as const) {
    for (const lean of [false, true]) {
      const mode = lean ? "lean" : "default";
      const port = 7000 + out.length;
      out.push({
        label: `${runtime} ${mode}: empty script (floor)`,
        exe: runtime === "bun" ? "bun.exe" : "deno",
        children: [start(runtimeArgv(runtime, `${HERE}floor_empty.ts`, [], {
          lean,
        }))],
      }, {
        label: `${runtime} ${mode}: UDP + TCP bound (floor)`,
        exe: runtime === "bun" ? "bun.exe" : "deno",
        children: [start(runtimeArgv(runtime, `${HERE}floor_sockets.ts`, [
          `${NET}.200:${port}`,
        ], { lean }))],
      });
    }
  }
  out.push({
    label: "serf agent alone",
    exe: "serf",
    children: [
      start([SERF, "agent", ...agentArgs("serf-alone", `${NET}.1`, null)]),
    ],
    rpc: `${NET}.1:7373`,
    members: 1,
  });
  out.push(
    cluster(
      "serf (3-member cluster)",
      10,
      "serf",
      (a) => [SERF, "agent", ...a],
    ),
  );
  let base = 20;
  for (const runtime of ["deno", "bun"] as const) {
    for (const lean of [false, true]) {
      out.push(cluster(
        `${runtime}${lean ? "-lean" : ""} grapevine (3-member cluster)`,
        base,
        runtime === "bun" ? "bun.exe" : "deno",
        (a) => runtimeArgv(runtime, `${ROOT}cli.ts`, ["agent", ...a], { lean }),
      ));
      base += 10;
    }
  }
  for (const runtime of ["deno", "bun"] as const) {
    const entry = bundleAgent(runtime);
    out.push(cluster(
      `${runtime}-lean-bundle grapevine (3-member cluster)`,
      base,
      runtime === "bun" ? "bun.exe" : "deno",
      (a) => runtimeArgv(runtime, entry, ["agent", ...a], { lean: true }),
    ));
    base += 10;
  }
  return out;
}

function aliveMembers(rpc: string): number {
  const r = spawnSync(SERF, ["members", `-rpc-addr=${rpc}`, "-status=alive"], {
    encoding: "utf8",
    timeout: 5_000,
  });
  return String(r.stdout ?? "").split("\n").filter((l) => l.trim()).length;
}

/** Resolve after `ms`. */
export const delay = (ms: number): Promise<void> =>
  new Promise((r) => setTimeout(r, ms));

/**
 * Wait until every group with an RPC address lists its members alive.
 *
 * @param all the groups
 * @param timeoutMs how long all of them may take
 */
export async function converge(
  all: readonly Group[],
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (const g of all) {
    if (g.rpc === undefined) continue;
    while (aliveMembers(g.rpc) !== g.members) {
      if (performance.now() > deadline) {
        throw new Error(`${g.label}: ${g.members} members never alive`);
      }
      await delay(500);
    }
  }
}

/** One row of the result table. */
export interface Row {
  process: string;
  cpuMsPerS: number;
  rssMiB: number;
  wakeupsPerS: number;
  threads: number;
}

/**
 * Measure every group over `seconds`.
 *
 * @param all the groups
 * @param seconds window length
 * @returns one row per group
 */
export async function measure(
  all: readonly Group[],
  seconds: number,
): Promise<Row[]> {
  const tck = Number(
    spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" })
      .stdout.trim(),
  ) || 100;
  const pids = all.map((g) => g.children.map((c) => c.pid!));
  for (const [i, g] of all.entries()) {
    for (const pid of pids[i]) {
      const exe = readlinkSync(`/proc/${pid}/exe`);
      if (!exe.endsWith(`/${g.exe}`)) {
        throw new Error(`${g.label}: pid ${pid} runs ${exe}, not ${g.exe}`);
      }
    }
  }
  const first = pids.map((ps) => ps.map(sample));
  const rss = pids.map((ps) => ps.map(() => [] as number[]));
  const t0 = performance.now();
  for (let s = 0; s < seconds; s++) {
    pids.forEach((ps, i) =>
      ps.forEach((p, j) => rss[i][j].push(sample(p).rssKb))
    );
    await delay(Math.max(0, t0 + (s + 1) * 1000 - performance.now()));
  }
  const windowS = (performance.now() - t0) / 1000;
  const mean = (xs: number[]): number =>
    xs.reduce((a, b) => a + b, 0) / xs.length;
  return all.map((g, i) => {
    const last = pids[i].map(sample);
    return {
      process: g.label,
      cpuMsPerS: mean(
        last.map((l, j) =>
          (l.cpuTicks - first[i][j].cpuTicks) * 1000 / tck / windowS
        ),
      ),
      rssMiB: mean(rss[i].map(mean)) / 1024,
      wakeupsPerS: mean(
        last.map((l, j) => (l.switches - first[i][j].switches) / windowS),
      ),
      threads: mean(last.map((l) => l.threads)),
    };
  });
}

function table(rows: readonly Row[], opts: Options): string {
  const floor = (rt: string, mode: string): Row | undefined =>
    rows.find((r) => r.process === `${rt} ${mode}: UDP + TCP bound (floor)`);
  const serf = rows.find((r) => r.process === "serf (3-member cluster)");
  const lines = [
    `idle cost over ${opts.seconds} s after a ${opts.warmupSeconds} s warm-up, ` +
    `everything at once on loopback; cluster rows are the mean of 3 members`,
    "| process | CPU ms/s | × serf | RSS MiB | above socket floor MiB | wake-ups/s | threads |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    const m = /^(deno|bun)(-lean)?(-bundle)? grapevine/.exec(r.process);
    const f = m ? floor(m[1], m[2] ? "lean" : "default") : undefined;
    lines.push(
      `| ${r.process} | ${r.cpuMsPerS.toFixed(2)} | ${
        serf ? (r.cpuMsPerS / serf.cpuMsPerS).toFixed(2) : "–"
      } | ${r.rssMiB.toFixed(1)} | ${
        f ? (r.rssMiB - f.rssMiB).toFixed(1) : ""
      } | ${r.wakeupsPerS.toFixed(1)} | ${r.threads.toFixed(0)} |`,
    );
  }
  return lines.join("\n");
}

/**
 * SIGTERM every child (SIGKILL after 5 s) and wait for them.
 *
 * @param all the groups
 */
export async function stopAll(all: readonly Group[]): Promise<void> {
  const children = all.flatMap((g) => g.children);
  await Promise.all(children.map(async (c) => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const closed = new Promise<void>((r) => c.once("close", () => r()));
    c.kill("SIGTERM");
    await Promise.race([closed, delay(5_000)]);
    if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  }));
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  let all: Group[] = [];
  try {
    all = groups();
    await converge(all);
    await delay(opts.warmupSeconds * 1000);
    const rows = await measure(all, opts.seconds);
    if (opts.json) {
      for (const r of rows) console.log(JSON.stringify({ ...r, ...opts }));
    } else console.log(table(rows, opts));
  } finally {
    await stopAll(all);
  }
}

if (import.meta.main) await main();
