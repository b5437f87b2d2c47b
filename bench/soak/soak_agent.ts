/**
 * `cli.ts` with one addition for the soak: once a second it prints the
 * running agent's drop counters and the incarnations it holds, one line
 * `soak-stats {json}` on stdout.
 *
 *   deno run -A bench/soak/soak_agent.ts agent -node=… -bind=… …
 *   bun bench/soak/soak_agent.ts agent …
 *
 * Why a wrapper: the agent counts malformed input (`stats().decodeErrors`
 * of the Serf machine and of memberlist underneath, `dropped` of the
 * driver's seal and stream stage) but neither logs a malformed UDP packet
 * nor shows these counters in the `stats` RPC or `/metrics`, and the RPC's
 * `members` carries no incarnation. Everything else is `cli.ts` unchanged:
 * the same `main()`, flags, RPC, handlers and signals. `Agent.start` is
 * wrapped only to keep a handle on the agent it returns.
 *
 * @module
 */

import process from "node:process";
import { main } from "../../src/cli/main.ts";
import { Agent } from "../../src/agent/agent.ts";

/** How often the counters are printed; a `kill -9` loses at most this much. */
const STATS_INTERVAL_MS = 1_000;

/** What one `soak-stats` line holds. */
export interface SoakStatsLine {
  /** Serf-level malformed input, by reason. */
  serfDecode: Record<string, number>;
  /** memberlist-level malformed input (packets, streams), by reason. */
  memberlistDecode: Record<string, number>;
  /** Seal/stream stage drops, by reason (`stream-<decode reason>` are decode errors). */
  driverDropped: Record<string, number>;
  /** Incarnation of every member in our memberlist table. */
  incarnations: Record<string, number>;
}

let agent: Agent | null = null;
const start = Agent.start;
Agent.start = async (...args: Parameters<typeof Agent.start>) => {
  const a = await start.apply(Agent, args);
  agent = a;
  return a;
};

function report(): void {
  if (agent === null || agent.isShutdown) return;
  const s = agent.lan.stats();
  const line: SoakStatsLine = {
    serfDecode: Object.fromEntries(s.decodeErrors),
    memberlistDecode: Object.fromEntries(s.memberlist.decodeErrors),
    driverDropped: Object.fromEntries(s.dropped),
    incarnations: Object.fromEntries(
      agent.lan.machine.memberlist.members().map((
        m,
      ) => [m.name, m.incarnation]),
    ),
  };
  console.log(`soak-stats ${JSON.stringify(line)}`);
}

const timer = setInterval(report, STATS_INTERVAL_MS);
const argv = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  process.argv.slice(2);
const code = await main(argv);
clearInterval(timer);
process.exit(code);
