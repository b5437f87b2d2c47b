/**
 * The short CI version of issue #7's soak (`bench/soak/`): 4 real serf
 * agents (127.0.130.101–104) and 4 of our agents (127.0.131.101–104, two on
 * Deno and two on Bun) in one LAN cluster, 75 s of seeded churn — every kind
 * of action at least once on each side (kill -9 and restart, leave and
 * rejoin, SIGSTOP/SIGCONT, tag changes, user events and queries from serf
 * and from ours), one force-leave — then:
 *
 * - every agent reports the same alive members with the same tags;
 * - every churn event reached every member live from its send until 60 s
 *   later (push-pull repairs a missed gossip within 30 s, plus up to 30 s of
 *   first stagger after a restart; events older than a receiver's join clock
 *   are serf's to drop), and a final event and query from each side reach
 *   all 8;
 * - members seen failed or left came back with a higher incarnation;
 * - no serf log line and no counter of ours shows a decode error (the
 *   self-check's deliberate malformed ping excluded, after proving both
 *   detectors see it); no agent crashed.
 *
 * Only outcomes are asserted, each with a wide margin: the settle may take
 * up to 60 s (it typically takes under 2 s), churn queries are only
 * reported (a query has no repair, so a member paused while it is in flight
 * misses it).
 *
 * Runs once per `npm test`: under `deno test` (about 1.5–2 min). Under
 * `bun test` it is skipped: the cluster already includes Bun agents, and
 * the harness runtime adds nothing but another two minutes.
 *
 * @module
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatSummary,
  runSoak,
  type SoakOptions,
} from "../../bench/soak/soak_lib.ts";
import { serfSkipReason } from "./serf_harness.ts";

const IS_BUN = (globalThis as { Bun?: unknown }).Bun !== undefined;

function skipReason(): string | false {
  const serf = serfSkipReason();
  if (serf !== false) return serf;
  if (IS_BUN) {
    return "Skipping the soak under bun test: it runs once, under deno test (its cluster " +
      "already has Bun agents; a second ~2 min run would test the same thing)";
  }
  return false;
}

test(
  "soak: 4 serf + 4 grapevine agents agree after 75 s of churn, zero decode errors",
  { skip: skipReason(), timeout: 420_000 },
  async () => {
    const opts: Partial<SoakOptions> = {
      minutes: 1.25,
      serf: 4,
      ours: 4,
      seed: 7,
      hostBase: 101,
      maxDown: 3,
      log: () => {},
    };
    const r = await runSoak(opts);
    const summary = formatSummary(r, opts);
    console.log(summary);
    assert.deepEqual(r.failures, [], summary);
    assert.ok(r.ok, summary);
    assert.equal(r.agreement, true, summary);
    assert.equal(r.decodeErrors.serf, 0, summary);
    assert.equal(r.decodeErrors.ours, 0, summary);
    assert.deepEqual(r.crashes, [], summary);
    // Every kind ran (the first twelve actions are each kind on each side).
    for (
      const kind of [
        "kill9",
        "leave",
        "pause",
        "tags",
        "event",
        "query",
      ] as const
    ) {
      assert.ok(
        r.actions[kind] >= 2,
        `${kind}: ${r.actions[kind]}\n${summary}`,
      );
    }
    assert.equal(r.actions["force-leave"], 1, summary);
    assert.ok(r.events.fromSerf >= 1 && r.events.fromOurs >= 1, summary);
    assert.equal(r.events.delivered, r.events.expected, summary);
    assert.ok(r.restarts.total >= 5, summary);
    assert.equal(r.restarts.lower, 0, summary);
    assert.equal(r.restarts.bumped, r.restarts.bumpRequired, summary);
  },
);
