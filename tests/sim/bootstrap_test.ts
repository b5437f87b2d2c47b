// The two fast ways to a converged cluster: through the protocol in two join
// waves (SimCluster.bootstrap), and by starting members that already know
// each other (startConverged, MemberlistOptions.knownMembers).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  memberlistCluster,
  startConverged,
} from "../../src/testing/memberlist_sim.ts";

test("bootstrap: two join waves through one seed give everyone everyone, through the protocol", () => {
  const n = 60;
  const c = memberlistCluster({ seed: 3, expectedSize: n });
  c.start(n);
  const tookMs = c.bootstrap();
  // A few round trips, not the tens of seconds gossip alone would need.
  assert.ok(tookMs < 1_000, `${tookMs} ms`);
  assert.deepEqual(c.convergence(), []);
  let queued = 0;
  for (const name of c.names()) queued += c.machine(name)!.pendingBroadcasts();
  assert.ok(queued > 0, "the join storm is still queued");
  c.run(30_000);
  c.finish();
  assert.equal(c.violationCount, 0);
  assert.deepEqual(c.convergence(), []);
});

test("startConverged: full tables at incarnation 1, no join storm queued, no events; then the protocol runs as usual", () => {
  const n = 40;
  const c = memberlistCluster({ seed: 4, expectedSize: n });
  // Each member announces only itself (memberlist's setAlive), never the
  // members it starts out knowing.
  let events = 0;
  c.onEvent((who, e) => {
    if (e.type !== "join" || e.member.name !== who) events++;
  });
  const names = startConverged(c, n);
  assert.equal(names.length, n);
  assert.equal(events, 0);
  for (const name of names) {
    const m = c.machine(name)!;
    assert.equal(m.numMembers(), n);
    // Only its own alive, queued at start as memberlist's setAlive does.
    assert.equal(m.pendingBroadcasts(), 1);
    for (const v of m.members()) {
      assert.equal(v.state, "alive");
      assert.equal(v.incarnation, 1);
    }
  }
  assert.deepEqual(c.convergence(), []);
  // Same views as the protocol would give: a crash is detected, a restart
  // rejoins, and nothing else changes.
  c.crash(names[7]);
  c.run(60_000);
  for (const name of names) {
    if (name === names[7]) continue;
    assert.equal(c.viewOf(name, names[7])?.state, "dead", name);
  }
  c.restart(names[7]);
  c.run(60_000);
  c.finish();
  assert.equal(c.violationCount, 0);
  assert.deepEqual(c.convergence(), []);
});

test("startConverged is deterministic: same seed, same trace", () => {
  const hash = (): string => {
    const c = memberlistCluster({ seed: 9, expectedSize: 20 });
    startConverged(c, 20);
    c.run(20_000);
    return c.trace.hash();
  };
  assert.equal(hash(), hash());
});
