/**
 * CPU of our agents under a user-event load, and the phases of an RPC `join`,
 * reproducibly, on 127.0.150.x (helper H9's block). The same work as
 * bench/vs-serf's "load" and "join": N agents (`cli.ts agent`, LAN profile,
 * info logs), one RPC connection per agent subscribed to its event stream
 * (`user,member-join,member-leave,member-failed`), `rate` user events per
 * second (coalesce=false) round-robin over the agents' RPC, for `seconds`.
 * Prints CPU ms per wall second of every agent (utime+stime from /proc).
 *
 * ```sh
 * deno run -A bench/load/load_profile.ts --runtime deno --n 8 --seconds 15
 * deno run -A bench/load/load_profile.ts --runtime bun --n 8 --seconds 15
 * # CPU profile of agent 2 (Deno: --cpu-prof; written when it exits):
 * deno run -A bench/load/load_profile.ts --runtime deno --prof /tmp/h9prof
 * # join: N members, then a fresh agent's RPC join to member 1, `--joins` times
 * deno run -A bench/load/load_profile.ts --runtime deno --n 64 --seconds 0 --joins 5
 * ```
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import { RpcClient } from "../../src/agent/client.ts";
import { ROOT, runtimeBin } from "../vs-serf/launch.ts";
import { cpuMs } from "../vs-serf/proc.ts";

const { values: o } = parseArgs({
  options: {
    runtime: { type: "string", default: "deno" },
    n: { type: "string", default: "8" },
    rate: { type: "string", default: "50" },
    seconds: { type: "string", default: "15" },
    prof: { type: "string" },
    joins: { type: "string", default: "0" },
    "log-dir": { type: "string", default: "/tmp/h9-load-logs" },
    "log-level": { type: "string", default: "info" },
    "no-stream": { type: "boolean", default: false },
  },
});
const runtime = o.runtime as "deno" | "bun";
const n = Number(o.n);
const rate = Number(o.rate);
const seconds = Number(o.seconds);
const ENC = new TextEncoder();
const host = (i: number): string => `127.0.150.${i}`;
const children: ChildProcess[] = [];
const delay = (ms: number): Promise<void> =>
  new Promise((r) => setTimeout(r, Math.max(0, ms)));

function startAgent(i: number, join: boolean, prof: boolean): ChildProcess {
  const flags = [
    "agent",
    `-node=h9-${i}`,
    `-bind=${host(i)}:7946`,
    `-rpc-addr=${host(i)}:7373`,
    "-profile=lan",
    `-log-level=${o["log-level"]}`,
    ...(join ? [`-join=${host(1)}:7946`] : []),
  ];
  const argv = runtime === "deno"
    ? [
      "run",
      "-A",
      "--quiet",
      ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${o.prof}`] : []),
      "cli.ts",
      ...flags,
    ]
    : [
      ...(prof ? [`--cpu-prof`, `--cpu-prof-dir=${o.prof}`] : []),
      "cli.ts",
      ...flags,
    ];
  const log = openSync(`${o["log-dir"]}/h9-${i}.log`, "w");
  const c = spawn(runtimeBin(runtime), argv, {
    cwd: ROOT,
    stdio: ["ignore", log, log],
  });
  children.push(c);
  return c;
}

async function connect(i: number): Promise<RpcClient> {
  for (let t = 0; t < 300; t++) {
    try {
      return await RpcClient.connect(`${host(i)}:7373`, { timeoutMs: 2000 });
    } catch {
      await delay(100);
    }
  }
  throw new Error(`agent ${i}: RPC never came up`);
}

async function stopAll(): Promise<void> {
  const exits = children.map((c) =>
    c.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => {
      c.once("exit", () => r());
      c.kill("SIGTERM");
    })
  );
  await Promise.race([Promise.all(exits), delay(8000)]);
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
}
process.on("SIGINT", () => {
  for (const c of children) c.kill("SIGKILL");
  process.exit(130);
});

async function main(): Promise<void> {
  mkdirSync(o["log-dir"]!, { recursive: true });
  if (o.prof) mkdirSync(o.prof, { recursive: true });
  const procs: ChildProcess[] = [];
  const clients: RpcClient[] = [];
  let delivered = 0;
  for (let i = 1; i <= n; i++) {
    procs.push(
      startAgent(i, i > 1, o.prof !== undefined && i === 2 && seconds > 0),
    );
    if (i === 1 || i % 4 === 0) await connect(i).then((c) => c.close());
  }
  for (let i = 1; i <= n; i++) {
    const c = await connect(i);
    clients.push(c);
    if (o["no-stream"]) continue;
    const s = await c.stream("user,member-join,member-leave,member-failed");
    (async () => {
      for await (const r of s.records) if (r.event === "user") delivered++;
    })();
  }
  const t0 = performance.now();
  while (
    (await clients[0].members()).filter((m) => m.status === "alive").length < n
  ) {
    if (performance.now() - t0 > 120_000) throw new Error("no convergence");
    await delay(200);
  }
  console.log(`converged ${n} in ${(performance.now() - t0).toFixed(0)} ms`);
  await delay(3000);
  if (seconds > 0) {
    const before = procs.map((p) => cpuMs(p.pid!));
    const w0 = performance.now();
    let sent = 0;
    for (let i = 0; performance.now() - w0 < seconds * 1000; i++) {
      await delay(w0 + (i * 1000) / rate - performance.now());
      clients[i % n].userEvent("h9-load", ENC.encode(`${i}`), false).then(
        () => void sent++,
        () => {},
      );
    }
    const wall = (performance.now() - w0) / 1000;
    const per = procs.map((p, k) => (cpuMs(p.pid!) - before[k]) / wall);
    await delay(2000);
    const mean = per.reduce((a, b) => a + b, 0) / per.length;
    console.log(
      `${runtime} n=${n} rate=${rate}/s window=${
        wall.toFixed(1)
      }s: CPU ms/s mean ${mean.toFixed(2)} max ${
        Math.max(...per).toFixed(2)
      } [${per.map((x) => x.toFixed(1)).join(" ")}]; delivered ${
        (100 * delivered / Math.max(1, sent * n)).toFixed(1)
      } %`,
    );
  }
  const joins = Number(o.joins);
  const times: number[] = [];
  const cpus: number[] = [];
  for (let j = 0; j < joins; j++) {
    const k = 200 + j;
    const jp = startAgent(k, false, o.prof !== undefined && seconds === 0);
    const jc = await connect(k);
    await delay(1000);
    const c0 = cpuMs(jp.pid!);
    const s0 = performance.now();
    await jc.join([`${host(1)}:7946`], false);
    times.push(performance.now() - s0);
    cpus.push(cpuMs(jp.pid!) - c0);
    await jc.leave().catch(() => {});
    jc.close();
    await delay(1500);
  }
  if (joins > 0) {
    times.sort((a, b) => a - b);
    console.log(
      `${runtime} join into ${n}: median ${
        times[times.length >> 1].toFixed(1)
      } ms, all [${
        times.map((t) => t.toFixed(1)).join(" ")
      }]; joiner CPU ms during the call [${cpus.join(" ")}]`,
    );
  }
  for (const c of clients) c.close();
  await stopAll();
}

try {
  await main();
} finally {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
}
