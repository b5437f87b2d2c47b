import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MemKeyring,
  recordEvents,
  type SerfCluster,
  serfCluster,
  serfOf,
} from "./_harness.ts";
import type { SerfEvent } from "../../src/serf/events.ts";
import { replaySnapshot } from "../../src/serf/snapshot.ts";

const enc = new TextEncoder();

function statusOn(c: SerfCluster, observer: string, target: string): string {
  return serfOf(c, observer).memberStatus(target);
}

function eventsOf(
  log: Map<string, Array<{ at: number; e: SerfEvent }>>,
  name: string,
  type: SerfEvent["type"],
) {
  return (log.get(name) ?? []).filter((x) => x.e.type === type);
}

function memberNames(x: { e: SerfEvent }): string[] {
  return "members" in x.e ? x.e.members.map((m) => m.name) : [];
}

test(
  "graceful leave: the others see the member left (EventMemberLeave), never failed",
  { timeout: 30_000 },
  () => {
    const c = serfCluster({ seed: 11 });
    c.start(4);
    const log = recordEvents(c);
    c.joinAll();
    c.run(5_000);
    const t0 = c.nowMs;
    c.leave("d");
    c.run(10_000);
    const done = eventsOf(log, "d", "leaveDone")[0];
    assert.ok(
      done !== undefined && done.e.type === "leaveDone" &&
        done.e.error === null,
    );
    // Intent broadcast (a few gossip rounds) + memberlist leave + 1 s propagate delay.
    assert.ok(
      done.at - t0 <= 5_000 + 5_000 + 1_000,
      `left after ${done.at - t0} ms`,
    );
    for (const o of ["a", "b", "c"]) {
      assert.equal(statusOn(c, o, "d"), "left", o);
      assert.ok(
        eventsOf(log, o, "memberLeave").some((x) =>
          memberNames(x).includes("d")
        ),
        `${o} EventMemberLeave`,
      );
      assert.ok(
        !eventsOf(log, o, "memberFailed").some((x) =>
          memberNames(x).includes("d")
        ),
        `${o} no EventMemberFailed`,
      );
    }
  },
);

test(
  "force-leave: a failed member becomes left; with prune it is erased everywhere",
  { timeout: 60_000 },
  () => {
    const c = serfCluster({ seed: 12 });
    c.start(5);
    const log = recordEvents(c);
    c.joinAll();
    c.run(5_000);
    c.crash("d");
    c.crash("e");
    const failed = c.runUntil(
      () =>
        ["a", "b", "c"].every((o) =>
          statusOn(c, o, "d") === "failed" && statusOn(c, o, "e") === "failed"
        ),
      60_000,
    );
    assert.ok(failed !== null, "d and e detected failed");
    c.invoke("a", (s, now) => s.forceLeave("d", false, now));
    c.invoke("a", (s, now) => s.forceLeave("e", true, now));
    c.run(5_000);
    for (const o of ["a", "b", "c"]) {
      assert.equal(statusOn(c, o, "d"), "left", `${o} sees d left`);
      assert.equal(statusOn(c, o, "e"), "none", `${o} forgot e`);
      assert.ok(
        eventsOf(log, o, "memberReap").some((x) =>
          memberNames(x).includes("e")
        ),
        `${o} reaped e`,
      );
      assert.ok(!serfOf(c, o).members().some((m) => m.name === "e"));
    }
    assert.ok(
      eventsOf(log, "a", "forceLeaveDone").every((x) =>
        x.e.type === "forceLeaveDone" && x.e.error === null
      ),
    );
  },
);

test(
  "reap: failed members after ReconnectTimeout, left ones after TombstoneTimeout",
  { timeout: 60_000 },
  () => {
    const c = serfCluster({
      seed: 13,
      config: {
        reconnectTimeoutMs: 40_000,
        tombstoneTimeoutMs: 20_000,
        reapIntervalMs: 5_000,
      },
    });
    c.start(4);
    const log = recordEvents(c);
    c.joinAll();
    c.run(5_000);
    c.leave("c");
    c.crash("d");
    c.run(2_000);
    const leftAt =
      eventsOf(log, "a", "memberLeave").find((x) =>
        memberNames(x).includes("c")
      )!.at;
    c.runUntil(() => statusOn(c, "a", "d") === "failed", 30_000);
    const failedAt =
      eventsOf(log, "a", "memberFailed").find((x) =>
        memberNames(x).includes("d")
      )!.at;
    c.run(60_000);
    const reapC = eventsOf(log, "a", "memberReap").find((x) =>
      memberNames(x).includes("c")
    );
    const reapD = eventsOf(log, "a", "memberReap").find((x) =>
      memberNames(x).includes("d")
    );
    assert.ok(reapC !== undefined && reapD !== undefined);
    // Reaped at the first reap tick strictly after the timeout.
    assert.ok(
      reapC.at - leftAt > 20_000 && reapC.at - leftAt <= 25_000,
      `c reaped after ${reapC.at - leftAt}`,
    );
    assert.ok(
      reapD.at - failedAt > 40_000 && reapD.at - failedAt <= 45_000,
      `d reaped after ${reapD.at - failedAt}`,
    );
    assert.deepEqual(serfOf(c, "a").members().map((m) => m.name), ["a", "b"]);
  },
);

test(
  "reconnect: after a partition heals, failed members are re-joined by Serf",
  { timeout: 60_000 },
  () => {
    const c = serfCluster({ seed: 14 });
    c.start(3);
    c.joinAll();
    c.run(5_000);
    c.partition([["a", "b"], ["c"]]);
    c.run(60_000);
    assert.equal(statusOn(c, "a", "c"), "failed");
    assert.equal(statusOn(c, "c", "a"), "failed");
    c.heal();
    const healed = c.runUntil(
      () =>
        ["a", "b", "c"].every((o) =>
          ["a", "b", "c"].every((t) => statusOn(c, o, t) === "alive")
        ),
      120_000,
    );
    assert.ok(healed !== null, "all alive again");
  },
);

test("snapshot: a restarted member re-joins the recorded members by itself", {
  timeout: 60_000,
}, () => {
  const texts = new Map<string, string>();
  const c = serfCluster({
    seed: 15,
    optionsFor: (name) => ({
      snapshot: replaySnapshot(texts.get(name) ?? "").state,
    }),
  });
  c.onEvent((name, e) => {
    if (e.type !== "snapshot") return;
    texts.set(name, e.compact ? e.text : (texts.get(name) ?? "") + e.text);
  });
  c.start(3);
  c.joinAll();
  c.run(5_000);
  assert.match(texts.get("b")!, /^alive: b 10\.0\.0\.2:7946\n/);
  assert.match(texts.get("b")!, /alive: a 10\.0\.0\.1:7946\n/);
  const clockBefore = serfOf(c, "b").stats().memberTime;
  c.crash("b");
  c.run(1_000);
  c.restart("b", { rejoin: false });
  // The snapshot's "clock: N" is the clock − 1; witnessing it restores it.
  assert.equal(
    serfOf(c, "b").stats().memberTime,
    clockBefore,
    "member clock restored",
  );
  const back = c.runUntil(
    () =>
      ["a", "c"].every((o) => statusOn(c, "b", o) === "alive") &&
      statusOn(c, "a", "b") === "alive",
    30_000,
  );
  assert.ok(back !== null, "b re-joined from its snapshot");
});

test(
  "events are not delivered twice across a restart with a snapshot; without one, ignoreOld decides",
  { timeout: 60_000 },
  () => {
    const texts = new Map<string, string>();
    const c = serfCluster({
      seed: 16,
      optionsFor: (name) =>
        name === "b"
          ? { snapshot: replaySnapshot(texts.get(name) ?? "").state }
          : {},
    });
    c.onEvent((name, e) => {
      if (e.type === "snapshot") {
        texts.set(name, e.compact ? e.text : (texts.get(name) ?? "") + e.text);
      }
    });
    c.start(3);
    const log = recordEvents(c);
    c.joinAll();
    c.run(5_000);
    for (let i = 0; i < 3; i++) {
      c.invoke(
        "a",
        (s, now) => s.userEvent(`e${i}`, enc.encode(`${i}`), false, now),
      );
      c.run(500);
    }
    c.run(3_000);
    const before = (n: string) => eventsOf(log, n, "user").length;
    assert.equal(before("b"), 3);
    assert.equal(before("c"), 3);
    // b restarts from its snapshot and re-joins by itself: the push-pull
    // brings e0..e2 again, which its restored event clock refuses.
    c.crash("b");
    c.restart("b", { rejoin: false });
    c.run(10_000);
    assert.equal(before("b"), 3, "b delivered nothing twice");
    // c restarts without a snapshot and joins with ignoreOld = true: nothing old.
    c.crash("c");
    c.restart("c");
    c.run(10_000);
    assert.equal(before("c"), 3, "ignoreOld skipped the old events");
    // …and a join with ignoreOld = false replays them (Serf's -replay).
    c.crash("c");
    c.restart("c", { rejoin: false });
    c.invoke("c", (s, now) => s.join([c.addr("a")], false, now));
    c.run(10_000);
    assert.equal(before("c"), 6, "replayed e0..e2");
    c.invoke("a", (s, now) => s.userEvent("e3", null, false, now));
    c.run(3_000);
    assert.deepEqual(
      ["a", "b", "c"].map((n) =>
        eventsOf(log, n, "user").filter((x) =>
          x.e.type === "user" && x.e.name === "e3"
        ).length
      ),
      [1, 1, 1],
    );
  },
);

test(
  "key rotation while one member is down: counts, errors, and the lagging member",
  { timeout: 60_000 },
  () => {
    const k1 = new Uint8Array(32).fill(1);
    const k2 = new Uint8Array(32).fill(2);
    const rings = new Map<string, MemKeyring>();
    const c = serfCluster({
      seed: 17,
      optionsFor: (name) => {
        const ring = new MemKeyring([k1]);
        rings.set(name, ring);
        return { keyring: ring };
      },
    });
    c.start(4);
    const log = recordEvents(c);
    c.joinAll();
    c.run(5_000);
    c.crash("d");
    // Before d is detected, NumNodes still counts it: 3/4 answer.
    let op = 0;
    c.invoke("a", (s, now) => op = s.installKey(k2, now));
    c.run(4_000);
    const early = eventsOf(log, "a", "keyDone").find((x) =>
      x.e.type === "keyDone" && x.e.opId === op
    )!;
    assert.ok(early.e.type === "keyDone");
    assert.equal(early.e.error, "3/4 nodes reported success");
    assert.deepEqual([early.e.numNodes, early.e.numResp, early.e.numErr], [
      4,
      3,
      0,
    ]);
    c.runUntil(() => statusOn(c, "a", "d") === "failed", 60_000);
    // Once d is failed, the rotation succeeds on the three alive members,
    // and finishes as soon as all of them answered (before the timeout).
    const t0 = c.nowMs;
    c.invoke("a", (s, now) => op = s.useKey(k2, now));
    c.run(4_000);
    const use = eventsOf(log, "a", "keyDone").find((x) =>
      x.e.type === "keyDone" && x.e.opId === op
    )!;
    assert.ok(use.e.type === "keyDone");
    assert.equal(use.e.error, null);
    assert.deepEqual([use.e.numNodes, use.e.numResp, use.e.numErr], [3, 3, 0]);
    assert.ok(use.at - t0 < 3_200, `done early after ${use.at - t0} ms`);
    c.invoke("a", (s, now) => op = s.removeKey(k1, now));
    c.run(4_000);
    for (const n of ["a", "b", "c"]) {
      assert.deepEqual(rings.get(n)!.keys(), [
        k2,
      ], n);
    }
    assert.ok(
      eventsOf(log, "b", "keyringChange").length >= 3,
      "b was told to persist its keyring",
    );
    // Removing the primary key fails everywhere with memberlist's message.
    c.invoke("a", (s, now) => op = s.removeKey(k2, now));
    c.run(4_000);
    const bad = eventsOf(log, "a", "keyDone").find((x) =>
      x.e.type === "keyDone" && x.e.opId === op
    )!;
    assert.ok(bad.e.type === "keyDone");
    assert.equal(bad.e.error, "3/3 nodes reported failure");
    assert.equal(
      bad.e.messages.get("b"),
      "Removing the primary key is not allowed",
    );
    // d comes back with only k1; list-keys shows it lagging.
    c.restart("d");
    c.runUntil(() => statusOn(c, "a", "d") === "alive", 30_000);
    c.run(2_000);
    c.invoke("a", (s, now) => op = s.listKeys(now));
    c.run(4_000);
    const list = eventsOf(log, "a", "keyDone").find((x) =>
      x.e.type === "keyDone" && x.e.opId === op
    )!;
    assert.ok(list.e.type === "keyDone");
    const b64 = (k: Uint8Array) => btoa(String.fromCharCode(...k));
    assert.deepEqual(
      [...list.e.keys].sort(),
      [[b64(k1), 1], [b64(k2), 3]].sort(),
    );
    assert.deepEqual(
      [...list.e.primaryKeys].sort(),
      [[b64(k1), 1], [b64(k2), 3]].sort(),
    );
    assert.equal(list.e.error, null);
  },
);

test("key operations without a keyring answer Serf's errors", {
  timeout: 30_000,
}, () => {
  const c = serfCluster({ seed: 18 });
  c.start(2);
  const log = recordEvents(c);
  c.joinAll();
  c.run(3_000);
  let op = 0;
  c.invoke("a", (s, now) => op = s.listKeys(now));
  c.run(4_000);
  const done = eventsOf(log, "a", "keyDone")[0];
  assert.ok(done.e.type === "keyDone" && done.e.opId === op);
  assert.equal(done.e.error, "2/2 nodes reported failure");
  assert.equal(
    done.e.messages.get("b"),
    "Keyring is empty (encryption not enabled)",
  );
  c.invoke("a", (s, now) => s.installKey(new Uint8Array(16), now));
  c.run(4_000);
  const inst = eventsOf(log, "a", "keyDone")[1];
  assert.ok(inst.e.type === "keyDone");
  assert.equal(
    inst.e.messages.get("a"),
    "No keyring to modify (encryption not enabled)",
  );
});

test(
  "relayed responses: sent through relay-factor members, counted once per responder",
  { timeout: 30_000 },
  () => {
    const c = serfCluster({ seed: 19, config: { protocolVersion: 5 } });
    c.start(5);
    const log = recordEvents(c);
    c.joinAll();
    c.run(5_000);
    const sentBefore = c.networkStats().packetsSent;
    let qid = 0;
    c.invoke(
      "a",
      (s, now) =>
        qid = s.query("ping?", null, { requestAck: true, relayFactor: 2 }, now),
    );
    c.run(300);
    for (const n of c.names()) {
      const q = eventsOf(log, n, "query").at(-1)!;
      if (q.e.type === "query") {
        c.invoke(
          n,
          (s, now) => s.respond((q.e as { id: number }).id, enc.encode(n), now),
        );
      }
    }
    c.run(4_000);
    const acks = eventsOf(log, "a", "queryAck").filter((x) =>
      x.e.type === "queryAck" && x.e.queryId === qid
    );
    const resps = eventsOf(log, "a", "queryResponse").filter((x) =>
      x.e.type === "queryResponse" && x.e.queryId === qid
    );
    assert.equal(acks.length, 5);
    assert.equal(resps.length, 5);
    const dup = serfOf(c, "a").stats().dropped.get("response-duplicate") ?? 0;
    // Each of the 5 responders sends its ack and its response direct plus via
    // 2 relays: 20 copies arrive beyond the 10 counted (minus those whose relay
    // was the originator itself, which Serf allows).
    assert.ok(dup >= 10, `duplicates dropped: ${dup}`);
    assert.ok(c.networkStats().packetsSent - sentBefore > 30);
  },
);

test(
  "determinism: the same seed gives the same trace",
  { timeout: 30_000 },
  () => {
    const run = () => {
      const c = serfCluster({ seed: 20, network: { lossRate: 0.05 } });
      c.start(4);
      c.joinAll();
      c.run(5_000);
      c.invoke("b", (s, now) => s.userEvent("x", null, false, now));
      c.invoke("c", (s, now) => s.query("q", null, { requestAck: true }, now));
      c.run(10_000);
      return c.trace.hash();
    };
    assert.equal(run(), run());
  },
);
