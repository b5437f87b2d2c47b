/**
 * Bytes per member per second as the cluster grows, in the deterministic
 * simulator (memberlist, LAN profile), split into probes, gossip and
 * push-pull — beside Consul's documented promise that gossip's network use
 * is constant in the number of members.
 *
 *   deno run -A --v8-flags=--max-old-space-size=20000 bench/scale/bytes_per_member.ts --svg bench/scale/bytes_per_member.svg
 *   bun bench/scale/bytes_per_member.ts 10 30 100 300 1000
 *
 * Sizes default to 10, 30, 100, 300, 1,000, 3,000 and 10,000 (10,000 needs
 * ~14 GB of heap). Flags: `--full-max 3000` (largest size given a full
 * push-pull window), `--svg <path>`, `--real <json>` (repeatable: results
 * of `members_per_process.ts --kind memberlist --bytes --json`, plotted as
 * real-socket points), `--json <path>`, `--from <json>` (repeatable; no
 * simulation: redraw the table and plot from earlier `--json` files, a
 * later file winning for a size in both, e.g. to add `--real` points).
 *
 * Every byte is counted once, at its sender, as handed to the socket (see
 * `traffic.ts`; no UDP/TCP/IP headers): "bytes per member per second" is
 * what one member sends, and on average also what it receives. For each
 * size the cluster starts converged (`startConverged`: the state after the
 * join storm drained) and we measure:
 *
 * 1. UDP window, protocol time 10 s – 70 s: probes (ping, ack, indirect
 *    pings) and gossip. In steady state nothing changes, so gossip is only
 *    what piggybacks; the first 10 s let every member's own alive drain.
 * 2. Push-pull, measured (sizes ≤ `--full-max`): memberlist staggers the
 *    first push-pull by up to 30 s, then repeats every scaled interval
 *    I(n) = 30 s × (⌈log₂ n − log₂ 32⌉ + 1) for n > 32 (`pushPullScale`).
 *    The window [30 s + I, 30 s + 2·I) holds one exchange started by every
 *    member, so we run that whole window and count push-pull bytes and
 *    exchanges, probes and gossip too.
 * 3. Push-pull, analytical (every size): bytes of one exchange (request +
 *    reply, mean of 12 exchanges between random pairs) ÷ I(n), since each
 *    member starts one exchange per I(n). At 10,000 members the measured
 *    window would take ~30 minutes of wall time (20,000 exchanges of two
 *    10,000-entry states), so 10,000 has this figure only.
 *
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { lanConfig } from "../../src/config.ts";
import { pushPullScaleMs } from "../../src/memberlist/formulas.ts";
import {
  memberlistCluster,
  startConverged,
} from "../../src/testing/memberlist_sim.ts";
import { logLogChart } from "./svg_chart.ts";
import {
  countTransmits,
  diffCounts,
  Traffic,
  type TrafficCounts,
} from "./traffic.ts";

const LAN = lanConfig();
const UDP_START_MS = 10_000;
const UDP_WINDOW_MS = 60_000;
const EXCHANGES = 12;

/** One size's figures, in bytes per member per second. */
export interface SizeResult {
  /** Members. */
  n: number;
  /** Scaled push-pull interval (ms). */
  pushPullIntervalMs: number;
  /** Probe bytes (UDP window). */
  probe: number;
  /** Gossip bytes (UDP window). */
  gossip: number;
  /** Packets per member per second (UDP window). */
  packets: number;
  /** Mean bytes of one push-pull exchange, request + reply. */
  bytesPerExchange: number;
  /** Push-pull bytes, analytical: bytesPerExchange ÷ interval. */
  pushPullModel: number;
  /** Push-pull bytes, measured over one full interval, or null. */
  pushPullMeasured: number | null;
  /** Exchanges started per member in the measured window, or null. */
  exchangesPerMember: number | null;
  /** Probe + gossip + push-pull over the measured window, or null. */
  totalMeasured: number | null;
  /** Wall seconds this size took. */
  wallS: number;
}

interface Options {
  sizes: number[];
  fullMax: number;
  svg: string | null;
  real: string[];
  json: string | null;
  from: string[];
}

function parseOptions(argv: readonly string[]): Options {
  const o: Options = {
    sizes: [],
    fullMax: 3_000,
    svg: null,
    real: [],
    json: null,
    from: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--full-max") o.fullMax = Number(argv[++i]);
    else if (a === "--svg") o.svg = argv[++i];
    else if (a === "--real") o.real.push(argv[++i]);
    else if (a === "--json") o.json = argv[++i];
    else if (a === "--from") o.from.push(argv[++i]);
    else if (/^\d+$/.test(a)) o.sizes.push(Number(a));
    else throw new TypeError(`Unknown argument ${a}`);
  }
  if (o.sizes.length === 0) o.sizes = [10, 30, 100, 300, 1_000, 3_000, 10_000];
  return o;
}

function perMemberS(bytes: number, n: number, ms: number): number {
  return bytes / n / (ms / 1000);
}

function measure(n: number, fullMax: number): SizeResult {
  const t0 = performance.now();
  const c = memberlistCluster({
    seed: 1,
    expectedSize: n,
    checkers: "none",
    trace: false,
  });
  const names = startConverged(c, n);
  const traffic = new Traffic();
  for (const name of names) countTransmits(c.machine(name)!, traffic);
  const interval = pushPullScaleMs(LAN.pushPullIntervalMs, n);
  const start = c.nowMs;

  c.run(UDP_START_MS);
  const u0 = traffic.snapshot();
  c.run(UDP_WINDOW_MS);
  const udp = diffCounts(traffic.snapshot(), u0);

  let full: TrafficCounts | null = null;
  if (n <= fullMax) {
    c.run(start + LAN.pushPullIntervalMs + interval - c.nowMs);
    const f0 = traffic.snapshot();
    c.run(interval);
    full = diffCounts(traffic.snapshot(), f0);
  }

  // Exchanges between random members: memberlist's join is the same
  // push-pull with Join = true (one bool of the header). Divide by the
  // exchanges counted, not by 12: a periodic exchange that falls in one of
  // these 50 ms is then averaged in rather than added to a join.
  // The second exchanges of the measured window end by 30 s + 2·I plus a
  // few ms of drift, the third start at 3·I: one more second puts the
  // joins in that quiet gap.
  c.run(1_000);
  const e0 = traffic.snapshot();
  for (let i = 0; i < EXCHANGES; i++) {
    const a = c.nameOf((i * 7_919 + 3) % n);
    const b = c.nameOf((i * 104_729 + 1) % n);
    c.join(a, [b]);
    c.run(50);
  }
  const ex = diffCounts(traffic.snapshot(), e0);
  const bytesPerExchange = ex.bytes.pushPull / ex.pushPulls;
  const pushPullMeasured = full === null
    ? null
    : perMemberS(full.bytes.pushPull, n, interval);
  return {
    n,
    pushPullIntervalMs: interval,
    probe: perMemberS(udp.bytes.probe, n, UDP_WINDOW_MS),
    gossip: perMemberS(udp.bytes.gossip, n, UDP_WINDOW_MS),
    packets: perMemberS(udp.packets, n, UDP_WINDOW_MS),
    bytesPerExchange,
    pushPullModel: bytesPerExchange / (interval / 1000),
    pushPullMeasured,
    exchangesPerMember: full === null ? null : full.pushPulls / n,
    totalMeasured: full === null ? null : perMemberS(
      full.bytes.probe + full.bytes.gossip + full.bytes.pushPull +
        full.bytes.streamOther,
      n,
      interval,
    ),
    wallS: (performance.now() - t0) / 1000,
  };
}

/** A real-socket point read from `members_per_process.ts --json`. */
interface RealPoint {
  label: string;
  n: number;
  probe: number;
  gossip: number;
  bytesPerExchange: number | null;
  /** bytesPerExchange ÷ I(n): comparable with the simulator's model. */
  pushPullModel: number | null;
  /** Push-pull bytes over the (short) window: see `chart`. */
  pushPullMeasured: number;
}

function readReal(path: string): RealPoint[] {
  const doc = JSON.parse(readFileSync(path, "utf8")) as {
    runtime: string;
    options: { kind: string; transport: string };
    results: Array<{
      members: number;
      windowS: number;
      traffic: TrafficCounts | null;
    }>;
  };
  const label = `${doc.runtime}, ${doc.options.kind}, ${doc.options.transport}`;
  return doc.results.filter((r) => r.traffic !== null).map((r) => {
    const t = r.traffic!;
    const per = (b: number): number => b / r.members / r.windowS;
    return {
      label,
      n: r.members,
      probe: per(t.bytes.probe),
      gossip: per(t.bytes.gossip),
      bytesPerExchange: t.pushPulls > 0 ? t.bytes.pushPull / t.pushPulls : null,
      pushPullModel: t.pushPulls > 0
        ? t.bytes.pushPull / t.pushPulls /
          (pushPullScaleMs(LAN.pushPullIntervalMs, r.members) / 1000)
        : null,
      pushPullMeasured: per(t.bytes.pushPull),
    };
  });
}

function fmt(x: number | null, digits = 1): string {
  if (x === null || !Number.isFinite(x)) return "–";
  return x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function report(runtime: string, rs: SizeResult[], real: RealPoint[]): void {
  console.log(
    `\n### Simulator (${runtime}), memberlist, LAN profile: bytes sent per member per second\n`,
  );
  console.log(
    "| members | probe | gossip | packets/s | push-pull interval (s) | bytes per exchange | push-pull: exchange ÷ interval | push-pull measured (exchanges/member) | total measured | total (model) | wall s |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rs) {
    console.log(
      `| ${r.n.toLocaleString("en-US")} | ${fmt(r.probe)} | ${
        fmt(r.gossip)
      } | ${fmt(r.packets, 2)} | ${r.pushPullIntervalMs / 1000} | ${
        fmt(r.bytesPerExchange, 0)
      } | ${fmt(r.pushPullModel)} | ${fmt(r.pushPullMeasured)}${
        r.exchangesPerMember === null
          ? ""
          : ` (${fmt(r.exchangesPerMember, 2)})`
      } | ${fmt(r.totalMeasured)} | ${
        fmt(r.probe + r.gossip + r.pushPullModel)
      } | ${fmt(r.wallS)} |`,
    );
  }
  if (real.length > 0) {
    console.log("\n### Real sockets, one process (cross-check)\n");
    console.log(
      "| source | members | probe | gossip | bytes per exchange | push-pull: exchange ÷ interval | push-pull in the window |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|");
    for (const p of real) {
      console.log(
        `| ${p.label} | ${p.n} | ${fmt(p.probe)} | ${fmt(p.gossip)} | ${
          fmt(p.bytesPerExchange, 0)
        } | ${fmt(p.pushPullModel)} | ${fmt(p.pushPullMeasured)} |`,
      );
    }
  }
}

function chart(rs: SizeResult[], real: RealPoint[]): string {
  const pts = (f: (r: SizeResult) => number | null): Array<[number, number]> =>
    rs.flatMap((r) => {
      const y = f(r);
      return y === null ? [] : [[r.n, y] as [number, number]];
    });
  const series = [
    {
      label: "total (probe + gossip + push-pull)",
      color: "#222",
      points: pts((r) => r.probe + r.gossip + r.pushPullModel),
    },
    {
      label: "probes (ping/ack)",
      color: "#1f77b4",
      points: pts((r) => r.probe),
    },
    {
      label: "gossip (piggybacked)",
      color: "#2ca02c",
      points: pts((r) => (r.gossip > 0 ? r.gossip : null)),
    },
    {
      label: "push-pull (exchange ÷ I(n))",
      color: "#d62728",
      points: pts((r) => r.pushPullModel),
    },
    {
      label: "push-pull, measured window",
      color: "#d62728",
      dash: "4 3",
      points: pts((r) => r.pushPullMeasured),
    },
  ];
  // memberlist's scaling: an exchange carries both full states (∝ n) once
  // per I(n) ∝ log n, fitted through the largest size.
  const last = rs[rs.length - 1];
  const perEntry = last.pushPullModel / (last.n / last.pushPullIntervalMs);
  series.push(
    {
      label: "∝ n / I(n), fitted at the largest n",
      color: "#999",
      dash: "2 3",
      points: rs.map((r) =>
        [r.n, (perEntry * r.n) / r.pushPullIntervalMs] as [number, number]
      ),
    } as typeof series[number],
  );
  const realProbe = real.map((p) => [p.n, p.probe] as [number, number]);
  // A cluster started in one burst push-pulls in bands (every member's
  // first exchange falls within the 30 s stagger, then all repeat every
  // I(n)), so a window shorter than I(n) over- or under-counts: plot the
  // bytes of the exchanges it saw ÷ I(n), as for the simulator.
  const realPp = real.flatMap((p) =>
    p.pushPullModel !== null ? [[p.n, p.pushPullModel] as [number, number]] : []
  );
  if (realProbe.length > 0) {
    series.push(
      {
        label: "real sockets: probes",
        color: "#1f77b4",
        markersOnly: true,
        points: realProbe,
      } as typeof series[number],
      {
        label: "real sockets: push-pull (exchange ÷ I(n))",
        color: "#d62728",
        markersOnly: true,
        points: realPp,
      } as typeof series[number],
    );
  }
  const notes = [
    "Bytes as handed to the socket, counted at the sender (no IP/UDP/TCP headers). Steady state: the cluster started converged.",
    "Push-pull: one exchange (request + reply) per member per I(n) = 30 s × (⌈log₂ n − 5⌉ + 1); dashed = counted over one full I(n).",
  ];
  if (rs.every((r) => r.gossip === 0)) {
    notes.push(
      "Gossip is 0 B in steady state: nothing changes, so nothing is piggybacked (it is not drawn on the log scale).",
    );
  }
  return logLogChart({
    notes,
    title:
      "Bytes sent per member per second, memberlist LAN profile (simulator)",
    xLabel: "members (log)",
    yLabel: "bytes / member / s (log)",
    series,
  });
}

function runtimeName(): string {
  const g = globalThis as {
    Bun?: { version: string };
    Deno?: { version: { deno: string } };
  };
  if (g.Bun !== undefined) return `Bun ${g.Bun.version}`;
  if (g.Deno !== undefined) return `Deno ${g.Deno.version.deno}`;
  return `Node ${process.version}`;
}

function main(argv: string[]): void {
  const o = parseOptions(argv);
  // Earlier results by size; a later file wins for a size in two.
  const byN = new Map<number, SizeResult>();
  for (const f of o.from) {
    const doc = JSON.parse(readFileSync(f, "utf8")) as { rs: SizeResult[] };
    for (const r of doc.rs) byN.set(r.n, r);
  }
  const rs = [...byN.values()].sort((a, b) => a.n - b.n);
  for (const n of o.from.length === 0 ? o.sizes : []) {
    rs.push(measure(n, o.fullMax));
    console.error(`done: ${n} members in ${fmt(rs[rs.length - 1].wallS)} s`);
  }
  const real = o.real.flatMap(readReal);
  report(
    o.from.length === 0 ? runtimeName() : `results of ${o.from.join(", ")}`,
    rs,
    real,
  );
  if (o.svg !== null) writeFileSync(o.svg, chart(rs, real));
  if (o.json !== null) {
    writeFileSync(
      o.json,
      JSON.stringify({ runtime: runtimeName(), rs }, null, 2),
    );
  }
}

main(process.argv.slice(2));
