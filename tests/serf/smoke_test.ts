import { test } from "node:test";
import assert from "node:assert/strict";
import { recordEvents, serfCluster, serfOf } from "./_harness.ts";

test("three members join, see each other alive, and deliver a user event", {
  timeout: 30_000,
}, () => {
  const c = serfCluster({ seed: 1 });
  c.start(3);
  const log = recordEvents(c);
  c.joinAll();
  c.run(5_000);
  for (const n of ["a", "b", "c"]) {
    const s = serfOf(c, n);
    assert.deepEqual(s.members().map((m) => `${m.name}:${m.status}`), [
      "a:alive",
      "b:alive",
      "c:alive",
    ], n);
  }
  c.invoke(
    "a",
    (s, now) =>
      s.userEvent("deploy", new TextEncoder().encode("v1"), false, now),
  );
  c.run(3_000);
  for (const n of ["a", "b", "c"]) {
    const users = (log.get(n) ?? []).filter((x) => x.e.type === "user");
    assert.equal(users.length, 1, n);
  }
});
