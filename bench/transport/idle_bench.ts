/**
 * Idle cost of a member: CPU time and resident memory of one grapevine member on Deno, one on
 * Bun (each a `cli.ts join` process) and one HashiCorp `serf agent`, the three forming one
 * cluster on loopback, measured side by side over the same window from `/proc/<pid>/stat`
 * (utime + stime) and `/proc/<pid>/status` (VmRSS, VmHWM, Threads). Linux only; needs `serf`.
 *
 *   deno run -A bench/transport/idle_bench.ts [--seconds 30] [--warmup 10] [--profile lan] [--json]
 *   bun bench/transport/idle_bench.ts [--seconds 30] [--warmup 10] [--profile lan] [--json]
 *
 * The runtime running this script only orchestrates: the measured processes are its children.
 * Two more children give the floor: Deno and Bun running nothing but a 1 s timer.
 * Everything logs at WARN so that logging costs the same nothing on all three. The window starts
 * after the cluster has converged (`serf members` lists three alive) and a warm-up, so start-up,
 * JIT compilation and the join push-pulls are not counted; at the "lan" profile each member
 * probes once a second, gossips every 200 ms and push-pulls every 30 s.
 *
 * @module
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  delay,
  pollUntil,
  type SerfAgent,
  startSerfAgent,
} from "../../tests/interop/serf_harness.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HOST_PREFIX = "127.0.86";
const PORT = 7946;

/** Command-line options. */
interface Options {
  seconds: number;
  warmupSeconds: number;
  profile: "lan" | "wan" | "local";
  json: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const opts: Options = {
    seconds: 30,
    warmupSeconds: 10,
    profile: "lan",
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") opts.json = true;
    else if (a === "--seconds") opts.seconds = Number(argv[++i]);
    else if (a === "--warmup") opts.warmupSeconds = Number(argv[++i]);
    else if (a === "--profile") {
      const p = argv[++i];
      if (p !== "lan" && p !== "wan" && p !== "local") {
        throw new TypeError(`Invalid --profile ${p}: use lan, wan or local`);
      }
      opts.profile = p;
    } else throw new TypeError(`Unknown argument ${a}`);
  }
  if (!(opts.seconds > 0) || !(opts.warmupSeconds >= 0)) {
    throw new RangeError("Invalid --seconds/--warmup: want positive numbers");
  }
  return opts;
}

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, else 100). */
function clockTicks(): number {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(String(r.stdout ?? "").trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(rest[11]) + Number(rest[12]);
}

/** VmRSS, VmHWM (kB) and Threads of a process. */
function memory(
  pid: number,
): { rssKb: number; hwmKb: number; threads: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  return {
    rssKb: field("VmRSS"),
    hwmKb: field("VmHWM"),
    threads: field("Threads"),
  };
}

/** A measured process. */
interface Subject {
  label: string;
  pid: number;
}

/** A `cli.ts join` child; output is drained (kept for errors) so the pipe never fills. */
function startMember(
  runtime: "deno" | "bun",
  name: string,
  host: string,
  seed: string,
  profile: string,
): { child: ChildProcess; output: string[] } {
  const local = `${ROOT}node_modules/.bin/${runtime}`;
  const bin = existsSync(local) ? local : runtime;
  const join = [
    "join",
    "--node",
    name,
    "--bind",
    `${host}:${PORT}`,
    "--profile",
    profile,
    "--log-level",
    "warn",
    seed,
  ];
  const args = runtime === "deno"
    ? ["run", "-A", "--quiet", "cli.ts", ...join]
    : ["cli.ts", ...join];
  const child = spawn(bin, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  });
  const output: string[] = [];
  const keep = (c: Uint8Array): void => {
    output.push(new TextDecoder().decode(c));
    if (output.length > 200) output.shift();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return { child, output };
}

/** A runtime doing nothing but a 1 s timer: the floor under a member's figures. */
function startBaseline(runtime: "deno" | "bun"): ChildProcess {
  const local = `${ROOT}node_modules/.bin/${runtime}`;
  const bin = existsSync(local) ? local : runtime;
  const code = "setInterval(() => {}, 1000);";
  return spawn(bin, runtime === "deno" ? ["eval", code] : ["-e", code], {
    cwd: ROOT,
    stdio: "ignore",
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("close", () => r()));
  if (child.pid !== undefined) process.kill(child.pid, "SIGINT");
  await Promise.race([exited, delay(10_000)]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGKILL");
    await Promise.race([exited, delay(5_000)]);
  }
  child.stdout?.destroy();
  child.stderr?.destroy();
}

/** One row of the result table. */
interface Row {
  process: string;
  cpuMs: number;
  cpuPercent: number;
  rssMeanMiB: number;
  rssMaxMiB: number;
  hwmMiB: number;
  threads: number;
}

async function measure(
  subjects: readonly Subject[],
  seconds: number,
): Promise<Row[]> {
  const tck = clockTicks();
  const rss = subjects.map(() => [] as number[]);
  const start = subjects.map((s) => cpuTicks(s.pid));
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  for (let next = t0; next < end; next += 1000) {
    subjects.forEach((s, i) => rss[i].push(memory(s.pid).rssKb));
    await delay(Math.max(0, Math.min(next + 1000, end) - performance.now()));
  }
  const windowMs = performance.now() - t0;
  return subjects.map((s, i) => {
    const cpuMs = ((cpuTicks(s.pid) - start[i]) * 1000) / tck;
    const m = memory(s.pid);
    const samples = rss[i];
    return {
      process: s.label,
      cpuMs,
      cpuPercent: (cpuMs / windowMs) * 100,
      rssMeanMiB: samples.reduce((a, b) => a + b, 0) / samples.length / 1024,
      rssMaxMiB: Math.max(...samples, m.rssKb) / 1024,
      hwmMiB: m.hwmKb / 1024,
      threads: m.threads,
    };
  });
}

function table(rows: readonly Row[], opts: Options, runtime: string): string {
  const f1 = (n: number): string => n.toFixed(1);
  const f2 = (n: number): string => n.toFixed(2);
  const lines = [
    `idle cost over ${opts.seconds} s (warm-up ${opts.warmupSeconds} s), 3-member cluster, ` +
    `profile ${opts.profile}; orchestrated by ${runtime}`,
    "| process | CPU ms | CPU % of one core | RSS mean MiB | RSS max MiB | peak RSS (VmHWM) MiB | threads |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) =>
      `| ${r.process} | ${Math.round(r.cpuMs)} | ${f2(r.cpuPercent)} | ${
        f1(r.rssMeanMiB)
      } | ${f1(r.rssMaxMiB)} | ${f1(r.hwmMiB)} | ${r.threads} |`
    ),
  ];
  return lines.join("\n");
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const runtime = (globalThis as { Deno?: unknown }).Deno !== undefined
    ? "deno"
    : "bun";
  let serf: SerfAgent | undefined;
  const members: Array<{ child: ChildProcess; output: string[] }> = [];
  const baselines: ChildProcess[] = [];
  try {
    baselines.push(startBaseline("deno"), startBaseline("bun"));
    serf = await startSerfAgent({
      name: "idle-serf",
      bind: { host: `${HOST_PREFIX}.1`, port: PORT },
      rpc: { host: `${HOST_PREFIX}.1`, port: 7373 },
      extraArgs: [`-profile=${opts.profile}`, "-log-level=warn"],
    });
    const agent = serf;
    const seed = `${HOST_PREFIX}.1:${PORT}`;
    members.push(
      startMember("deno", "idle-deno", `${HOST_PREFIX}.2`, seed, opts.profile),
      startMember("bun", "idle-bun", `${HOST_PREFIX}.3`, seed, opts.profile),
    );
    await pollUntil("three members alive in serf members", async () => {
      const r = await agent.cli("members", ["-status=alive"]);
      return r.stdout.trim().split("\n").filter((l) => l.trim()).length === 3
        ? true
        : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 }).catch((e) => {
      throw new Error(
        `${(e as Error).message}\n${
          members.map((m) => m.output.join("")).join("\n")
        }`,
      );
    });
    await delay(opts.warmupSeconds * 1000);
    const rows = await measure([
      {
        label: `grapevine on deno (\`cli.ts join\`)`,
        pid: members[0].child.pid!,
      },
      {
        label: `grapevine on bun (\`cli.ts join\`)`,
        pid: members[1].child.pid!,
      },
      { label: "serf agent 0.9.4 (Go)", pid: agent.pid },
      { label: "deno, empty event loop (floor)", pid: baselines[0].pid! },
      { label: "bun, empty event loop (floor)", pid: baselines[1].pid! },
    ], opts.seconds);
    if (opts.json) {
      for (const r of rows) console.log(JSON.stringify({ ...r, ...opts }));
    } else console.log(table(rows, opts, runtime));
  } finally {
    await Promise.all(
      [...members.map((m) => m.child), ...baselines].map(stopChild),
    );
    await serf?.stop();
  }
}

if (import.meta.main) await main();
