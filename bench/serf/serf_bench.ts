/**
 * Serf user-event and query latency in a 32-member cluster, three ways in one run:
 *
 * 1. **grapevine, simulated**: 32 Serf machines on the deterministic simulator (virtual time,
 *    0–1 ms one-way link delay), so the figure is the protocol's own dissemination time;
 * 2. **grapevine, sockets**: 32 in-process {@linkcode SerfNode}s on 127.0.91.1–32 with the
 *    runtime's native transport;
 * 3. **serf 0.9.4**: 32 real `serf agent`s on 127.0.91.101–132, measured right after.
 *
 * Everyone uses the `lan` profile (200 ms gossip, 3 gossip targets) and the agent's Serf settings.
 * A user event is sent non-coalescable (`serf event -coalesce=false`) from a rotating member;
 * its latency is the time until **every** member has it: for ours when `events()` yields it, for
 * serf agents when their `user:bench` handler appends a timestamp to a file. A query (no filter,
 * no ack) goes from member 1 and every member answers at once (ours from `events()`, serf agents
 * from a `query:benchq` handler script); its latency is the time until the originator holds all
 * 32 responses (for serf, the 32nd "Response from" line the CLI prints). Serf's clocks start at
 * the CLI's "dispatched" line, i.e. once the agent has queued the message, so CLI start-up is
 * not counted.
 *
 *   deno run -A bench/serf/serf_bench.ts [--members 32] [--rounds 20] [--only sim|sockets|serf]
 *     [--no-serf] [--json]
 *   bun bench/serf/serf_bench.ts
 *
 * Loopback only. Every agent is killed and every member shut down before exit.
 *
 * @module
 */

import process from "node:process";
import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type SerfNode, startSerf } from "../../src/serf_node.ts";
import { Serf } from "../../src/serf/serf.ts";
import { agentSerfConfig } from "../../src/serf/config.ts";
import type { SerfEvent } from "../../src/serf/events.ts";
import {
  type MachineHooks,
  SimCluster,
} from "../../src/testing/sim_cluster.ts";
import {
  delay,
  pollUntil,
  SERF_BIN,
  type SerfAgent,
  serfAvailable,
  startSerfAgent,
} from "../../tests/interop/serf_harness.ts";

/** Latencies of one row, in ms. */
interface Row {
  name: string;
  events: number[];
  queries: number[];
  note: string;
}

const enc = new TextEncoder();
const args = process.argv.slice(2);
const flag = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const MEMBERS = flag("--members", 32);
const ROUNDS = flag("--rounds", 20);
/** Rounds in the simulator (virtual time is cheap). */
const SIM_ROUNDS = 50;
/** Query timeout: longer than dissemination to 32 members takes. */
const QUERY_TIMEOUT_MS = 3_000;
/** Pause between rounds so one round's gossip does not queue behind the last one's. */
const GAP_MS = 500;
/** Most a round may take before the bench gives up on it. */
const ROUND_LIMIT_MS = 5_000;
/**
 * A round in which some member never got the event, or the originator not every response, in
 * time. Gossip is probabilistic: each holder sends a broadcast RetransmitMult × ceil(log10(n + 1))
 * = 8 times in a 32-member lan cluster, so now and then one member is never picked (about one
 * round in a hundred; push-pull repairs events later, a query is simply missed).
 */
const MISSED = Number.NaN;

const now = (): number => performance.timeOrigin + performance.now();

// ------------------------------------------------------------------ simulated

const SIM_HOOKS: MachineHooks<Serf, SerfEvent> = {
  join(m, seeds, t): void {
    m.join(seeds, true, t);
  },
  shutdown(m, t): void {
    m.shutdown(t);
  },
  members: (m) => m.memberlist.members(),
  self: (m) => m.memberlist.localMember(),
  classify(e) {
    if (e.type === "joinDone") return { kind: "joinDone", joined: e.joined };
    if (e.type === "leaveDone") return { kind: "leaveDone" };
    return { kind: "other" };
  },
};

function simRow(): Row {
  const c = new SimCluster<Serf, SerfEvent>({
    seed: 1,
    factory: (name, addr, prng, t) =>
      new Serf(
        agentSerfConfig({
          nodeName: name,
          memberlist: {
            bindAddr: addr.host,
            bindPort: addr.port,
            advertiseAddr: addr.host,
            advertisePort: addr.port,
          },
        }),
        { prng, now: t },
      ),
    hooks: SIM_HOOKS,
    network: { latencyMs: 0, jitterMs: 1 },
    checkers: [],
    trace: false,
  });
  // Start the members 7 ms apart: memberlist's gossip ticks at creation + k × interval, so
  // members created at the same virtual instant would all gossip in phase and every hop would
  // wait a whole interval; real members start at unrelated times.
  const names: string[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    names.push(c.add());
    c.run(7);
  }
  c.bootstrap();
  settle(c, names);
  const seen = new Map<string, number>();
  let responses = 0;
  let lastResponse = 0;
  c.onEvent((name, e, t) => {
    if (e.type === "user") seen.set(`${e.name}:${name}`, t);
    else if (e.type === "query") {
      c.at(t, () => c.invoke(name, (m, t2) => m.respond(e.id, null, t2)));
    } else if (e.type === "queryResponse") {
      responses++;
      lastResponse = t;
    }
  });
  const events: number[] = [];
  const queries: number[] = [];
  for (let r = 0; r < SIM_ROUNDS; r++) {
    const t0 = c.nowMs;
    const ev = `bench${r}`;
    c.invoke(
      names[r % MEMBERS],
      (m, t) => m.userEvent(ev, enc.encode(ev), false, t),
    );
    const all = (): boolean => names.every((n) => seen.has(`${ev}:${n}`));
    events.push(
      c.runUntil(all, ROUND_LIMIT_MS, 1) === null
        ? MISSED
        : Math.max(...names.map((n) => seen.get(`${ev}:${n}`)!)) - t0,
    );
    c.run(GAP_MS);
    responses = 0;
    const q0 = c.nowMs;
    c.invoke(
      names[0],
      (m, t) => m.query("benchq", null, { timeoutMs: QUERY_TIMEOUT_MS }, t),
    );
    const got = c.runUntil(() => responses >= MEMBERS, QUERY_TIMEOUT_MS, 1);
    queries.push(got === null ? MISSED : lastResponse - q0);
    c.run(2 * GAP_MS);
  }
  return {
    name: "grapevine, simulated",
    events,
    queries,
    note: `${SIM_ROUNDS} rounds, virtual ms`,
  };
}

/** Run until the join storm's broadcasts have drained everywhere. */
function settle(c: SimCluster<Serf, SerfEvent>, names: string[]): void {
  const quiet = (): boolean =>
    names.every((n) => {
      const m = c.machine(n)!;
      const s = m.stats();
      return m.memberlist.pendingBroadcasts() === 0 && s.intentQueue === 0;
    });
  if (c.runUntil(quiet, 120_000, 100) === null) {
    throw new Error("sim: queues never drained");
  }
  c.run(1_000);
}

// ---------------------------------------------------------------- our sockets

async function oursRow(): Promise<Row> {
  const nodes: SerfNode[] = [];
  const seen = new Map<string, number>();
  const loops: Promise<void>[] = [];
  let responses = 0;
  let lastResponse = 0;
  try {
    for (let i = 1; i <= MEMBERS; i++) {
      // 7 ms apart, as in the simulator: members started in the same few ms gossip in phase.
      await delay(7);
      const node = await startSerf({
        name: `g${i}`,
        bind: `127.0.91.${i}:7946`,
        profile: "lan",
      });
      nodes.push(node);
      loops.push((async () => {
        for await (const e of node.events()) {
          if (e.type === "user") seen.set(`${e.name}:g${i}`, now());
          else if (e.type === "query" && e.name === "benchq") {
            node.respond(e.id, null);
          }
        }
      })());
    }
    await Promise.all(nodes.slice(1).map((n) => n.join(["127.0.91.1:7946"])));
    await pollUntil(
      "every member to see every member",
      () =>
        nodes.every((n) =>
            n.members().filter((m) => m.status === "alive").length === MEMBERS
          )
          ? true
          : undefined,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    await pollUntil(
      "the join broadcasts to drain",
      () =>
        nodes.every((n) => n.machine.memberlist.pendingBroadcasts() === 0)
          ? true
          : undefined,
      {
        timeoutMs: 60_000,
        intervalMs: 100,
      },
    );
    const events: number[] = [];
    const queries: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const ev = `bench${r}`;
      const t0 = now();
      nodes[r % MEMBERS].userEvent(ev, enc.encode(ev), false);
      const keys = nodes.map((_, i) => `${ev}:g${i + 1}`);
      const everywhere = await pollUntil(
        `${ev} everywhere`,
        () => keys.every((k) => seen.has(k)) ? true : undefined,
        { timeoutMs: ROUND_LIMIT_MS, intervalMs: 5 },
      ).catch(() => false);
      events.push(
        everywhere ? Math.max(...keys.map((k) => seen.get(k)!)) - t0 : MISSED,
      );
      await delay(GAP_MS);
      responses = 0;
      const q0 = now();
      for await (
        const rec of nodes[0].query("benchq", null, {
          timeoutMs: QUERY_TIMEOUT_MS,
        })
      ) {
        if (rec.type !== "response") continue;
        lastResponse = now();
        if (++responses === MEMBERS) break;
      }
      if (responses < MEMBERS) {
        queries.push(MISSED);
      } else queries.push(lastResponse - q0);
      await delay(2 * GAP_MS);
    }
    const runtime = "Bun" in globalThis ? "bun" : "deno";
    return {
      name: `grapevine, sockets (${nodes[0].transportName}@${runtime})`,
      events,
      queries,
      note: `${ROUNDS} rounds, 127.0.91.1–${MEMBERS}`,
    };
  } finally {
    await Promise.allSettled(nodes.map((n) => n.shutdown()));
    await Promise.allSettled(loops);
  }
}

// ----------------------------------------------------------------- real serf

function writeScript(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/bash\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

async function startAgents(dir: string, agents: SerfAgent[]): Promise<void> {
  const log = join(dir, "events.log");
  const onEvent = writeScript(
    dir,
    "on_event.sh",
    // $EPOCHREALTIME (bash ≥ 5) is read without forking `date`.
    `read -r p; echo "$EPOCHREALTIME $SERF_SELF_NAME $SERF_USER_EVENT" >> ${log}`,
  );
  const onQuery = writeScript(dir, "on_query.sh", "echo ok");
  const host = (i: number): string => `127.0.91.${100 + i}`;
  const start = (i: number): Promise<SerfAgent> =>
    startSerfAgent({
      name: `s${i}`,
      bind: { host: host(i), port: 7946 },
      rpc: { host: host(i), port: 7373 },
      extraArgs: [
        "-profile=lan",
        "-log-level=info",
        `-event-handler=user=${onEvent}`,
        `-event-handler=query:benchq=${onQuery}`,
        ...(i === 1 ? [] : [`-join=${host(1)}:7946`]),
      ],
      startTimeoutMs: 30_000,
    });
  agents.push(await start(1));
  for (let i = 2; i <= MEMBERS; i += 8) {
    const batch = [];
    for (let j = i; j < Math.min(i + 8, MEMBERS + 1); j++) batch.push(start(j));
    for (const r of await Promise.allSettled(batch)) {
      if (r.status === "fulfilled") agents.push(r.value);
      else throw r.reason;
    }
  }
  await pollUntil("every agent to see every agent", async () => {
    for (const a of [agents[0], agents[agents.length - 1]]) {
      const r = await a.cli("members", ["-status=alive"]);
      if (r.stdout.trim().split("\n").length !== MEMBERS) return undefined;
    }
    return true;
  }, { timeoutMs: 30_000, intervalMs: 200 });
}

/**
 * Run the serf CLI and time its output lines; resolves with each matching line's arrival time
 * once `want` lines matched `count` or the CLI exited. The CLI is killed when done early.
 */
function timedCli(
  cliArgs: string[],
  start: RegExp,
  count: RegExp,
  want: number,
): Promise<{ t0: number; times: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(SERF_BIN, cliArgs, {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let t0 = NaN;
    const times: number[] = [];
    let partial = "";
    let out = "";
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      child.kill("SIGKILL");
      if (Number.isNaN(t0)) {
        reject(new Error(`serf ${cliArgs[0]} failed: ${out}`));
      } else resolve({ t0, times });
    };
    child.stdout.on("data", (chunk: Uint8Array) => {
      const t = now();
      const lines = (partial + new TextDecoder().decode(chunk)).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) {
        out += l + "\n";
        if (start.test(l)) t0 = t;
        if (count.test(l)) times.push(t);
      }
      if (!Number.isNaN(t0) && times.length >= want) finish();
    });
    child.stderr.on(
      "data",
      (c: Uint8Array) => out += new TextDecoder().decode(c),
    );
    child.once("close", () => finish());
  });
}

async function serfRow(): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), "grapevine-serf-bench-"));
  const agents: SerfAgent[] = [];
  try {
    await startAgents(dir, agents);
    await delay(3_000); // the join intents' gossip settles
    const log = join(dir, "events.log");
    const rpc = (i: number): string => `-rpc-addr=127.0.91.${100 + i}:7373`;
    const events: number[] = [];
    const queries: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const ev = `bench${r}`;
      const { t0 } = await timedCli(
        ["event", rpc((r % MEMBERS) + 1), "-coalesce=false", ev, ev],
        /dispatched/,
        /$^/,
        0,
      );
      const stamps = await pollUntil(`${ev} on every agent`, () => {
        if (!existsSync(log)) return undefined;
        const lines = readFileSync(log, "utf8").split("\n").filter((l) =>
          l.endsWith(` ${ev}`)
        );
        return lines.length >= MEMBERS
          ? lines.map((l) => Number(l.split(" ")[0]) * 1000)
          : undefined;
      }, { timeoutMs: ROUND_LIMIT_MS, intervalMs: 5 }).catch(() => {
        const got = (existsSync(log) ? readFileSync(log, "utf8") : "").split(
          "\n",
        )
          .filter((l) => l.endsWith(` ${ev}`)).map((l) => l.split(" ")[1]);
        const lacking = agents.map((a) => a.options.name).filter((n) =>
          !got.includes(n)
        );
        console.error(`serf: ${ev} missed by ${lacking.join(", ")}`);
        console.error(
          agents[r % MEMBERS].logLines.filter((l) =>
            !/memberlist|member-join|EventMemberJoin|messageJoin/.test(l)
          ).slice(-60).join("\n"),
        );
        return null;
      });
      events.push(stamps === null ? MISSED : Math.max(...stamps) - t0);
      await delay(GAP_MS);
      const q = await timedCli(
        [
          "query",
          rpc(1),
          "-no-ack",
          `-timeout=${QUERY_TIMEOUT_MS}ms`,
          "benchq",
          "",
        ],
        /dispatched/,
        /^Response from/,
        MEMBERS,
      );
      if (q.times.length < MEMBERS) {
        queries.push(MISSED);
      } else queries.push(q.times[MEMBERS - 1] - q.t0);
      await delay(2 * GAP_MS);
    }
    return {
      name: "serf 0.9.4 agents",
      events,
      queries,
      note: `${ROUNDS} rounds, 127.0.91.101–${100 + MEMBERS}; handler scripts`,
    };
  } finally {
    await Promise.allSettled(agents.map((a) => a.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

// --------------------------------------------------------------------- report

function pct(xs: number[], p: number): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

function complete(xs: number[]): string {
  return `${xs.filter((x) => !Number.isNaN(x)).length}/${xs.length}`;
}

function fmt(ms: number): string {
  return Number.isNaN(ms) ? "–" : ms.toFixed(0);
}

function table(rows: Row[]): string {
  const out = [
    `| ${MEMBERS} members | event p50 ms | event p90 ms | event max ms | events complete | ` +
    "query p50 ms | query p90 ms | query max ms | queries complete | runs |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const r of rows) {
    const cols = [r.events, r.queries].flatMap((xs) => [
      fmt(pct(xs, 0.5)),
      fmt(pct(xs, 0.9)),
      fmt(pct(xs, 1)),
      complete(xs),
    ]);
    out.push(`| ${r.name} | ${cols.join(" | ")} | ${r.note} |`);
  }
  return out.join("\n");
}

async function main(): Promise<void> {
  const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : "";
  const want = (row: string): boolean => only === "" || only === row;
  const rows: Row[] = [];
  if (want("sim")) rows.push(simRow());
  if (want("sockets")) rows.push(await oursRow());
  if (want("serf") && !args.includes("--no-serf")) {
    if (serfAvailable()) rows.push(await serfRow());
    else console.error(`'${SERF_BIN}' is not on PATH: skipping the serf row`);
  }
  if (args.includes("--json")) console.log(JSON.stringify(rows));
  console.log(table(rows));
}

await main();
process.exit(0);
