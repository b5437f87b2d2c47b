/**
 * Statistics and the markdown tables: ours beside serf, with ours/serf ratios.
 *
 * @module
 */

import type { Impl } from "./launch.ts";
import type {
  CrashResult,
  DisseminationResult,
  JoinResult,
  PauseResult,
  UsageResult,
} from "./measure.ts";

/** Everything measured for one implementation. */
export interface ImplResults {
  /** Which implementation. */
  impl: Impl;
  /** A sample launch command line of one agent. */
  launch: string;
  /** Executable of the measured processes (`/proc/<pid>/exe`). */
  exe: string;
  /** Median ms from spawn to RPC up, over all member starts. */
  startMedianMs: number;
  /** ms each size took to converge after growing. */
  convergeMs: Map<number, number>;
  /** Dissemination per size. */
  dissemination: DisseminationResult[];
  /** Joins per size. */
  joins: JoinResult[];
  /** Crashes at the detail size. */
  crashes: CrashResult[];
  /** Pauses at the detail size. */
  pauses: PauseResult[];
  /** Idle cost at the detail size. */
  idle: UsageResult | null;
  /** Cost under load at the detail size. */
  load: UsageResult | null;
  /** Wall s this implementation took. */
  wallS: number;
  /** UDP datagrams the kernel dropped at the members' gossip sockets (live members at the end). */
  udpDrops: number;
}

/**
 * Nearest-rank percentile.
 *
 * @param xs values
 * @param p 0–1
 * @returns the percentile, NaN for no values
 */
export function percentile(xs: readonly number[], p: number): number {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))];
}

/**
 * Arithmetic mean (NaN for none).
 *
 * @param xs values
 * @returns the mean
 */
export function mean(xs: readonly number[]): number {
  const v = xs.filter((x) => !Number.isNaN(x));
  return v.length === 0 ? NaN : v.reduce((a, b) => a + b, 0) / v.length;
}

/**
 * Maximum (NaN for none).
 *
 * @param xs values
 * @returns the maximum
 */
export function max(xs: readonly number[]): number {
  const v = xs.filter((x) => !Number.isNaN(x));
  return v.length === 0 ? NaN : Math.max(...v);
}

const LABEL: Record<Impl, string> = {
  serf: "serf 0.9.4 (Go)",
  deno: "grapevine on Deno",
  bun: "grapevine on Bun",
};

function fmt(x: number, digits = 0): string {
  return Number.isNaN(x) ? "—" : x.toFixed(digits);
}

function ratio(ours: number, serf: number | undefined): string {
  if (
    serf === undefined || Number.isNaN(ours) || Number.isNaN(serf) || serf === 0
  ) {
    return "—";
  }
  return `${(ours / serf).toFixed(2)}×`;
}

function table(head: string[], rows: string[][]): string {
  const align = head.map((_, i) => (i < 2 ? "---" : "---:"));
  return [head, align, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

// Rows of one metric table: for each key (size or pause), serf first, then
// ours with ratios against serf's row of the same key.
function compare<K>(
  results: readonly ImplResults[],
  keys: readonly K[],
  pick: (r: ImplResults, k: K) => number[] | null,
  cells: (v: number[]) => string[],
  ratioOf: number[],
  keyLabel: (k: K) => string,
): string[][] {
  const rows: string[][] = [];
  for (const k of keys) {
    const serfV = results.find((r) => r.impl === "serf");
    const base = serfV === undefined ? null : pick(serfV, k);
    for (const r of results) {
      const v = pick(r, k);
      if (v === null) continue;
      const rs = r.impl === "serf"
        ? ratioOf.map(() => "")
        : ratioOf.map((i) => ratio(v[i], base?.[i]));
      rows.push([keyLabel(k), LABEL[r.impl], ...cells(v), ...rs]);
    }
  }
  return rows;
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)].sort((a, b) => Number(a) - Number(b));
}

/**
 * Every table, in issue #7's order.
 *
 * @param results one entry per implementation, serf first when present
 * @returns markdown
 */
export function renderTables(results: readonly ImplResults[]): string {
  const out: string[] = [];
  const sizes = uniq(
    results.flatMap((r) => r.dissemination.map((d) => d.size)),
  );
  out.push(
    "### 1. User-event dissemination to all members (coalesce=false, rotating sender)",
    "",
    table(
      [
        "N",
        "implementation",
        "p50 ms",
        "p90 ms",
        "max ms",
        "complete",
        "p50 ours/serf",
        "p90 ours/serf",
        "max ours/serf",
      ],
      compare(
        results,
        sizes,
        (r, n) => {
          const d = r.dissemination.find((x) => x.size === n);
          return d === undefined ? null : [
            percentile(d.latenciesMs, 0.5),
            percentile(d.latenciesMs, 0.9),
            max(d.latenciesMs),
            d.complete,
            d.rounds,
          ];
        },
        (v) => [fmt(v[0]), fmt(v[1]), fmt(v[2]), `${v[3]}/${v[4]}`],
        [0, 1, 2],
        String,
      ),
    ),
    "",
  );
  const crashSizes = uniq(results.flatMap((r) => r.crashes.map((c) => c.size)));
  out.push(
    "### 2. Crash detection (kill -9; ms until the others' streams report member-failed; median over repeats)",
    "",
    table(
      [
        "N",
        "implementation",
        "first ms",
        "median ms",
        "last ms",
        "reported",
        "rejoin ms",
        "per repeat first/median/last",
        "first ours/serf",
        "median ours/serf",
        "last ours/serf",
      ],
      compare(
        results,
        crashSizes,
        (r, n) => {
          const cs = r.crashes.filter((c) => c.size === n);
          if (cs.length === 0) return null;
          return [
            percentile(cs.map((c) => c.detectMs[0] ?? NaN), 0.5),
            percentile(cs.map((c) => percentile(c.detectMs, 0.5)), 0.5),
            percentile(
              cs.map((c) =>
                c.detectMs.length === c.observers ? max(c.detectMs) : NaN
              ),
              0.5,
            ),
            cs.reduce((s, c) => s + c.detectMs.length, 0),
            cs.reduce((s, c) => s + c.observers, 0),
            percentile(cs.map((c) => c.rejoinMs), 0.5),
            ...cs.flatMap((
              c,
            ) => [
              c.detectMs[0] ?? NaN,
              percentile(c.detectMs, 0.5),
              max(c.detectMs),
            ]),
          ];
        },
        (v) => [
          fmt(v[0]),
          fmt(v[1]),
          fmt(v[2]),
          `${v[3]}/${v[4]}`,
          fmt(v[5]),
          chunks(v.slice(6), 3).map((c) => c.map((x) => fmt(x)).join("/")).join(
            ", ",
          ),
        ],
        [0, 1, 2],
        String,
      ),
    ),
    "",
  );
  const pauses = uniq(results.flatMap((r) => r.pauses.map((p) => p.pauseS)));
  const pauseSize = results.flatMap((r) => r.pauses)[0]?.size ?? 0;
  out.push(
    `### 3. Pause (SIGSTOP one member of ${pauseSize}, then SIGCONT)`,
    "",
    table(
      [
        "pause s",
        "implementation",
        "member-failed on streams",
        "EventMemberFailed in logs",
        "refuted suspect",
        "refuted dead",
        "alive everywhere",
        "alive after SIGCONT ms",
      ],
      compare(
        results,
        pauses,
        (r, s) => {
          const p = r.pauses.find((x) => x.pauseS === s);
          return p === undefined ? null : [
            p.failedOnStreams,
            p.failedInLogs,
            p.refuteSuspect,
            p.refuteDead,
            p.aliveEverywhere ? 1 : 0,
            p.aliveAfterMs,
          ];
        },
        (
          v,
        ) => [
          String(v[0]),
          String(v[1]),
          String(v[2]),
          String(v[3]),
          v[4] ? "yes" : "NO",
          fmt(v[5]),
        ],
        [],
        String,
      ),
    ),
    "",
  );
  for (
    const [title, get] of [
      ["4. Idle cost per member", (r: ImplResults) => r.idle],
      [
        "5. Cost per member under load (user events sent round-robin over RPC)",
        (r: ImplResults) => r.load,
      ],
    ] as const
  ) {
    const sample = results.map(get).find((u) => u !== null);
    if (sample === undefined || sample === null) continue;
    const rate = sample.sent > 0
      ? `, ${(sample.sent / sample.windowS).toFixed(0)} events/s sent`
      : "";
    out.push(
      `### ${title} (${sample.size} members, ${
        sample.windowS.toFixed(0)
      } s window${rate})`,
      "",
      table(
        [
          "",
          "implementation",
          "CPU ms/s mean",
          "CPU ms/s max",
          "RSS MiB mean",
          "RSS MiB max",
          "delivered",
          "CPU mean ours/serf",
          "CPU max ours/serf",
          "RSS mean ours/serf",
        ],
        compare(
          results,
          [0],
          (r) => {
            const u = get(r);
            return u === null ? null : [
              mean(u.cpuMsPerS),
              max(u.cpuMsPerS),
              mean(u.rssMeanMiB),
              max(u.rssMaxMiB),
              u.delivered,
            ];
          },
          (v) => [
            fmt(v[0], 2),
            fmt(v[1], 2),
            fmt(v[2], 1),
            fmt(v[3], 1),
            Number.isNaN(v[4]) ? "—" : `${(v[4] * 100).toFixed(1)} %`,
          ],
          [0, 1, 2],
          () => "",
        ),
      ),
      "",
    );
  }
  const joinSizes = uniq(results.flatMap((r) => r.joins.map((j) => j.size)));
  out.push(
    "### 6. Join of a fresh agent (RPC `join` to one member; until every member's stream shows member-join; median over repeats)",
    "",
    table(
      [
        "N",
        "implementation",
        "join RPC ms",
        "all streams ms",
        "seen by",
        "join RPC ours/serf",
        "all streams ours/serf",
      ],
      compare(
        results,
        joinSizes,
        (r, n) => {
          const js = r.joins.filter((j) => j.size === n);
          return js.length === 0 ? null : [
            percentile(js.map((j) => j.joinCallMs), 0.5),
            percentile(js.map((j) => j.allSeenMs), 0.5),
            js.reduce((s, j) => s + j.seenBy, 0),
            js.length * n,
          ];
        },
        (v) => [fmt(v[0], 1), fmt(v[1]), `${v[2]}/${v[3]}`],
        [0, 1],
        String,
      ),
    ),
    "",
  );
  out.push(
    "### Runs",
    "",
    table(
      [
        "",
        "implementation",
        "agent start → RPC up, median ms",
        "converge ms per size",
        "UDP drops at gossip sockets",
        "wall s",
        "launch",
      ],
      results.map((r) => [
        "",
        LABEL[r.impl],
        fmt(r.startMedianMs),
        [...r.convergeMs].map(([n, ms]) => `${n}: ${fmt(ms)}`).join(", "),
        String(r.udpDrops),
        fmt(r.wallS),
        `\`${r.launch}\``,
      ]),
    ),
  );
  return out.join("\n");
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
