/**
 * grapevine beside the real serf, in one command (issue #7): N real
 * `serf agent` processes, then N of our agents on Deno, then N on Bun, one
 * implementation after the other, each measured the same way through the
 * agent RPC, then markdown tables with ours/serf ratios.
 *
 *   deno run -A bench/vs-serf/vs_serf.ts [--sizes 8,32,64] [--only serf,deno,bun] [--quick] [--json out.json]
 *   bun bench/vs-serf/vs_serf.ts --quick
 *
 * More flags: --detail-size 32 (crash, pause, idle, load), --rounds 20,
 * --crash-repeats 3, --pauses 2,5,15, --join-repeats 3, --idle-seconds 30,
 * --settle-seconds 10, --load-seconds 20, --load-rate 50, --lean/--no-lean,
 * --keep-logs. See bench/vs-serf/README.md.
 *
 * @module
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import process from "node:process";
import {
  busyAddresses,
  Cluster,
  killAllAgents,
  liveAgentCount,
} from "./cluster.ts";
import {
  agentCommand,
  DEFAULT_LEAN,
  hostOf,
  type Impl,
  type LaunchCommand,
  LEAN_MODULE_PATH,
  leanAvailable,
  loadLean,
  ROOT,
} from "./launch.ts";
import { udpDrops } from "./proc.ts";
import { crash, dissemination, idle, join, load, pause } from "./measure.ts";
import { type ImplResults, percentile, renderTables } from "./report.ts";

/** Command-line options. */
export interface Options {
  /** Cluster sizes for dissemination and join. */
  sizes: number[];
  /** Size of the crash, pause, idle and load measurements. */
  detailSize: number;
  /** Implementations, in run order. */
  only: Impl[];
  /** Dissemination rounds per size. */
  rounds: number;
  /** Crash repeats. */
  crashRepeats: number;
  /** Pause lengths (s). */
  pausesS: number[];
  /** Joins per size. */
  joinRepeats: number;
  /** Settle before the idle window (s). */
  settleS: number;
  /** Idle window (s). */
  idleS: number;
  /** Load window (s). */
  loadS: number;
  /** User events per second under load. */
  loadRate: number;
  /** Use `bench/idle/lean.ts`. */
  lean: boolean;
  /** Keep the agents' log directory. */
  keepLogs: boolean;
  /** Write all results here as JSON. */
  json: string;
}

const IMPLS: readonly Impl[] = ["serf", "deno", "bun"];

function list(s: string | undefined, what: string): number[] {
  const v = String(s ?? "").split(",").map(Number);
  if (v.length === 0 || v.some((x) => !(x > 0))) {
    throw new TypeError(
      `Invalid ${what} ${s}: want positive numbers, comma separated`,
    );
  }
  return v;
}

/**
 * Parse the command line.
 *
 * @param argv arguments after the script
 * @returns the options
 */
export function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes("--quick");
  const o: Options = {
    sizes: quick ? [8] : [8, 32, 64],
    detailSize: quick ? 8 : 32,
    only: [...IMPLS],
    rounds: quick ? 6 : 20,
    crashRepeats: quick ? 1 : 3,
    pausesS: quick ? [2, 15] : [2, 5, 15],
    joinRepeats: quick ? 1 : 3,
    settleS: quick ? 5 : 10,
    idleS: quick ? 10 : 30,
    loadS: quick ? 10 : 20,
    loadRate: 50,
    lean: DEFAULT_LEAN,
    keepLogs: false,
    json: "",
  };
  let detailSet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new TypeError(`Missing value after ${a}`);
      return v;
    };
    if (a === "--quick") continue;
    else if (a === "--sizes") o.sizes = list(next(), a);
    else if (a === "--detail-size") {
      [o.detailSize, detailSet] = [list(next(), a)[0], true];
    } else if (a === "--rounds") o.rounds = list(next(), a)[0];
    else if (a === "--crash-repeats") o.crashRepeats = list(next(), a)[0];
    else if (a === "--pauses") o.pausesS = list(next(), a);
    else if (a === "--join-repeats") o.joinRepeats = list(next(), a)[0];
    else if (a === "--settle-seconds") o.settleS = list(next(), a)[0];
    else if (a === "--idle-seconds") o.idleS = list(next(), a)[0];
    else if (a === "--load-seconds") o.loadS = list(next(), a)[0];
    else if (a === "--load-rate") o.loadRate = list(next(), a)[0];
    else if (a === "--lean") o.lean = true;
    else if (a === "--no-lean") o.lean = false;
    else if (a === "--keep-logs") o.keepLogs = true;
    else if (a === "--json") o.json = next();
    else if (a === "--only") {
      const names = next().split(",");
      const bad = names.filter((n) => !IMPLS.includes(n as Impl));
      if (bad.length > 0) {
        throw new TypeError(
          `Unknown implementation ${bad.join(",")}: use serf, deno, bun`,
        );
      }
      o.only = IMPLS.filter((n) => names.includes(n));
    } else throw new TypeError(`Unknown argument ${a}`);
  }
  if (!detailSet && !o.sizes.includes(o.detailSize)) {
    o.detailSize = o.sizes.includes(32) ? 32 : o.sizes[0];
  }
  if (Math.max(...o.sizes, o.detailSize) > 250) {
    throw new RangeError(
      "Invalid size: at most 250 members per implementation",
    );
  }
  if (o.detailSize < 3) {
    throw new RangeError("Invalid --detail-size: at least 3");
  }
  return o;
}

/** The sizes the cluster grows through, in order. */
function steps(o: Options): number[] {
  return [...new Set([...o.sizes, o.detailSize])].sort((a, b) => a - b);
}

/**
 * Expected wall seconds of a run, from this machine's full run: start cost
 * per agent, a dissemination round (latency plus the 300–600 ms gap), ~5 s
 * per join and its leave, ~14 s per crash and restart, a pause plus ~12 s.
 *
 * @param o the options
 * @returns seconds
 */
export function estimateS(o: Options): number {
  let total = 0;
  for (const impl of o.only) {
    const serf = impl === "serf";
    total += Math.max(...steps(o)) * (serf ? 0.1 : 0.35) + steps(o).length * 7;
    for (const n of o.sizes) {
      total += o.rounds * (serf ? 0.75 + n / 250 : 0.6);
      total += o.joinRepeats * 5;
    }
    total += o.settleS + o.idleS + o.loadS + 6;
    total += o.crashRepeats * 14;
    total += o.pausesS.reduce((s, p) => s + p + 12, 0);
  }
  return Math.round(total);
}

async function runImpl(
  impl: Impl,
  o: Options,
  logDir: string,
  nextJoiner: () => number,
): Promise<ImplResults> {
  const t0 = performance.now();
  const c = new Cluster(impl, {
    logDir,
    lean: o.lean,
    hostOf: (i) => hostOf(impl, i),
  });
  const launch = agentCommand(
    impl,
    { name: "NAME", host: "IP", join: "SEED" },
    { lean: o.lean },
  );
  const r: ImplResults = {
    impl,
    launch: launchText(launch),
    exe: "",
    startMedianMs: NaN,
    convergeMs: new Map(),
    dissemination: [],
    joins: [],
    crashes: [],
    pauses: [],
    idle: null,
    load: null,
    wallS: 0,
    udpDrops: 0,
  };
  const say = (s: string): void =>
    console.error(
      `[${
        ((performance.now() - t0) / 1000).toFixed(0).padStart(4)
      } s] ${impl}: ${s}`,
    );
  try {
    for (const n of steps(o)) {
      say(`starting members ${c.members.length + 1}–${n}`);
      await c.grow(n, impl === "serf" ? 8 : 4);
      r.convergeMs.set(n, await c.converge(60_000 + n * 1000));
      await new Promise((res) => setTimeout(res, 5000));
      if (o.sizes.includes(n)) {
        say(`dissemination at ${n}: ${o.rounds} rounds`);
        r.dissemination.push(
          await dissemination(c, { rounds: o.rounds, timeoutMs: 5000 }),
        );
        say(`join at ${n}: ${o.joinRepeats}×`);
        r.joins.push(
          ...await join(c, {
            repeats: o.joinRepeats,
            nextJoiner,
            timeoutMs: 20_000,
          }),
        );
      }
      if (n === o.detailSize) {
        say(`idle at ${n}: settle ${o.settleS} s, window ${o.idleS} s`);
        r.idle = await idle(c, { settleS: o.settleS, windowS: o.idleS });
        say(`load at ${n}: ${o.loadRate}/s for ${o.loadS} s`);
        r.load = await load(c, {
          rate: o.loadRate,
          windowS: o.loadS,
          drainMs: 3000,
        });
        await new Promise((res) => setTimeout(res, 3000));
        say(`crash at ${n}: ${o.crashRepeats}×`);
        r.crashes = await crash(c, {
          repeats: o.crashRepeats,
          timeoutMs: 60_000,
        });
        say(`pause at ${n}: ${o.pausesS.join(", ")} s`);
        r.pauses = await pause(c, {
          pausesS: o.pausesS,
          watchMs: 8000,
          timeoutMs: 60_000,
        });
      }
    }
    const drops = udpDrops();
    r.udpDrops = c.members.reduce(
      (sum, m) => sum + (drops.get(m.gossipAddr) ?? 0),
      0,
    );
    r.exe = c.members[0]?.exe ?? "";
    r.startMedianMs = percentile(c.members.map((m) => m.startMs), 0.5);
  } finally {
    await c.stop();
  }
  r.wallS = (performance.now() - t0) / 1000;
  say(`done in ${r.wallS.toFixed(0)} s`);
  return r;
}

// One agent's command line as a reader would type it in the repo root.
function launchText(l: LaunchCommand): string {
  const env = Object.entries(l.env)
    .filter(([k]) => k !== "NO_COLOR" && k !== "DENO_NO_UPDATE_CHECK")
    .map(([k, v]) => `${k}=${v}`);
  const rel = (s: string): string => s.replaceAll(ROOT, "");
  return [...env, rel(l.command), ...l.args.map(rel)].join(" ");
}

function runnerName(): string {
  const g = globalThis as {
    Deno?: { version: { deno: string } };
    Bun?: { version: string };
  };
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  return `node ${process.version}`;
}

function allHosts(o: Options): string[] {
  const top = Math.max(...steps(o));
  const hosts: string[] = [];
  for (const impl of IMPLS) {
    for (let i = 1; i <= top; i++) hosts.push(hostOf(impl, i));
  }
  for (let i = 1; i <= 60; i++) hosts.push(hostOf("joiner", i));
  return hosts;
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  if (o.lean) await loadLean();
  const busy = await busyAddresses(allHosts(o));
  if (busy.length > 0) {
    console.error(
      `Refusing to run: something already listens on ${
        busy.slice(0, 8).join(", ")
      }${
        busy.length > 8 ? ` and ${busy.length - 8} more` : ""
      } (leftover agents? see pgrep -af 'serf agent|cli.ts agent')`,
    );
    return 1;
  }
  const logDir = mkdtempSync(`${os.tmpdir()}/grapevine-vs-serf-`);
  const cleanup = (): void => {
    killAllAgents();
    if (!o.keepLogs) rmSync(logDir, { recursive: true, force: true });
  };
  process.on("exit", cleanup);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      console.error(`\n${sig}: killing ${liveAgentCount()} agents`);
      cleanup();
      process.exit(130);
    });
  }
  const est = estimateS(o);
  console.error(
    `vs-serf: ${o.only.join(", ")}; sizes ${
      o.sizes.join(", ")
    }, detail size ${o.detailSize}; ` +
      `lean ${o.lean ? "on" : "off"}${
        leanAvailable() ? "" : ` (${LEAN_MODULE_PATH} absent)`
      }; ` +
      `runner ${runnerName()}; estimated wall time ${
        Math.floor(est / 60)
      } min ${est % 60} s; logs in ${logDir}`,
  );
  const t0 = performance.now();
  let joiner = 0;
  const nextJoiner = (): number => {
    if (++joiner > 60) {
      throw new RangeError("Out of joiner addresses (127.0.113.1–60)");
    }
    return joiner;
  };
  const results: ImplResults[] = [];
  try {
    for (const impl of o.only) {
      results.push(await runImpl(impl, o, logDir, nextJoiner));
    }
  } finally {
    killAllAgents();
  }
  const wallS = (performance.now() - t0) / 1000;
  const head =
    `## vs-serf: ${
      new Date().toISOString().slice(0, 10)
    }, runner ${runnerName()}, ` +
    `${os.cpus().length} CPUs, loadavg at end ${
      os.loadavg().map((x) => x.toFixed(2)).join(" ")
    }; ` +
    `wall ${Math.floor(wallS / 60)} min ${
      Math.round(wallS % 60)
    } s (estimated ${Math.floor(est / 60)} min ${est % 60} s)`;
  console.log(`${head}\n\n${renderTables(results)}`);
  if (o.json !== "") {
    writeFileSync(
      o.json,
      JSON.stringify(
        { options: o, wallS, results },
        (_k, v) => v instanceof Map ? Object.fromEntries(v) : v,
        2,
      ),
    );
  }
  if (o.keepLogs) console.error(`logs kept in ${logDir}`);
  return 0;
}

if (import.meta.main) {
  let code = 1;
  try {
    code = await main();
  } catch (e) {
    console.error(`vs-serf failed: ${(e as Error).stack ?? e}`);
  } finally {
    killAllAgents();
  }
  process.exit(code);
}
