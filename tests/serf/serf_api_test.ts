import { test } from "node:test";
import assert from "node:assert/strict";
import { recordEvents, serfCluster, serfOf, TinyNet } from "./_harness.ts";
import { formatSerfStats } from "../../src/serf/serf.ts";
import { emptySnapshotState } from "../../src/serf/snapshot.ts";
import type { KeyringView } from "../../src/serf/keyring_queries.ts";
import { Keyring } from "../../src/seal.ts";

const enc = new TextEncoder();

test(
  "respond: once, before the deadline, within the size limit (Serf's errors)",
  { timeout: 10_000 },
  () => {
    const net = new TinyNet();
    net.add("s1", "127.0.0.1");
    net.add("s2", "127.0.0.2");
    net.invoke(
      "s2",
      (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
    );
    net.run(2_000);
    net.invoke("s1", (s, now) => s.query("q", null, { timeoutMs: 1_000 }, now));
    net.run(300);
    const q = net.events("s2").find((e) => e.type === "query");
    assert.ok(q !== undefined && q.type === "query");
    assert.equal(q.deadlineMs - net.now <= 1_000, true);
    assert.throws(
      () =>
        net.invoke(
          "s2",
          (s, now) => s.respond(q.id, new Uint8Array(1024), now),
        ),
      { name: "RangeError", message: "response exceeds limit of 1024 bytes" },
    );
    net.invoke("s2", (s, now) => s.respond(q.id, enc.encode("ok"), now));
    assert.throws(
      () => net.invoke("s2", (s, now) => s.respond(q.id, null, now)),
      {
        message: "response already sent",
      },
    );
    assert.throws(
      () => net.invoke("s2", (s, now) => s.respond(9999, null, now)),
      {
        message: "No pending queries matching ID",
      },
    );
    net.invoke("s1", (s, now) => s.query("q2", null, { timeoutMs: 500 }, now));
    net.run(1_000);
    const q2 = net.events("s2").filter((e) => e.type === "query").at(-1)!;
    assert.ok(q2.type === "query");
    assert.throws(
      () => net.invoke("s2", (s, now) => s.respond(q2.id, null, now)),
      {
        message: "response is past the deadline",
      },
    );
    assert.throws(
      () =>
        net.invoke(
          "s1",
          (s, now) => s.query("big", new Uint8Array(1000), {}, now),
        ),
      { name: "RangeError", message: "query exceeds limit of 1024 bytes" },
    );
    assert.throws(
      () =>
        net.invoke(
          "s1",
          (s, now) => s.query("x", null, { relayFactor: 256 }, now),
        ),
      RangeError,
    );
  },
);

test("queries below Serf protocol 4 are refused (FeatureNotSupported)", {
  timeout: 5_000,
}, () => {
  const net = new TinyNet();
  net.add("s1", "127.0.0.1", { protocolVersion: 3 });
  assert.throws(
    () => net.invoke("s1", (s, now) => s.query("q", null, {}, now)),
    {
      message: "Feature not supported",
    },
  );
});

test(
  "filters in a cluster: only matching members see the query, all re-broadcast it",
  { timeout: 30_000 },
  () => {
    const c = serfCluster({
      seed: 41,
      configFor: (n) => ({
        tags: new Map([["role", n === "b" || n === "c" ? "web" : "db"]]),
      }),
    });
    c.start(5);
    const log = recordEvents(c);
    c.joinAll();
    c.run(5_000);
    c.invoke("a", (s, now) =>
      s.query("who", null, {
        requestAck: true,
        filterNodes: ["b", "c", "d"],
        filterTags: new Map([["role", "^w"]]),
      }, now));
    c.run(4_000);
    const saw = c.names().filter((n) =>
      (log.get(n) ?? []).some((x) => x.e.type === "query")
    );
    assert.deepEqual(saw, ["b", "c"]);
    const acks = (log.get("a") ?? []).filter((x) => x.e.type === "queryAck")
      .map((x) => x.e.type === "queryAck" ? x.e.from : "");
    assert.deepEqual(acks.sort(), ["b", "c"]);
  },
);

test(
  "tags: setTags announces them (EventMemberUpdate) and enforces 512 bytes",
  { timeout: 30_000 },
  () => {
    const c = serfCluster({ seed: 42 });
    c.start(3);
    const log = recordEvents(c);
    c.joinAll();
    c.run(3_000);
    c.invoke("b", (s, now) => s.setTags(new Map([["color", "blue"]]), now));
    c.run(2_000);
    for (const o of ["a", "c"]) {
      const b = serfOf(c, o).members().find((m) => m.name === "b")!;
      assert.equal(b.tags.get("color"), "blue", o);
      assert.ok((log.get(o) ?? []).some((x) => x.e.type === "memberUpdate"));
    }
    assert.throws(
      () =>
        c.invoke(
          "b",
          (s, now) => s.setTags(new Map([["x", "y".repeat(600)]]), now),
        ),
      {
        name: "RangeError",
        message: "Encoded length of tags exceeds limit of 512 bytes",
      },
    );
  },
);

test(
  "merge delegate: a vetoed member is never merged",
  { timeout: 30_000 },
  () => {
    const c = serfCluster({
      seed: 43,
      optionsFor: (n) =>
        n === "a"
          ? {
            merge: (ms) =>
              ms.some((m) => m.name === "c") ? "c is not welcome" : null,
          }
          : {},
    });
    c.start(3);
    c.join("b", ["a"]);
    c.run(3_000);
    c.join("c", ["b"]);
    c.run(10_000);
    assert.equal(serfOf(c, "a").memberStatus("b"), "alive");
    assert.equal(serfOf(c, "a").memberStatus("c"), "none");
    assert.equal(serfOf(c, "b").memberStatus("c"), "alive");
  },
);

test("queue depth: queues are pruned to MaxQueueDepth at each check", {
  timeout: 10_000,
}, () => {
  const net = new TinyNet();
  net.add("s1", "127.0.0.1", {
    maxQueueDepth: 10,
    queueCheckIntervalMs: 1_000,
  });
  for (let i = 0; i < 50; i++) {
    net.invoke("s1", (s, now) => s.userEvent(`e${i}`, null, false, now));
  }
  assert.equal(net.get("s1").stats().eventQueue, 50);
  net.run(1_000);
  assert.equal(net.get("s1").stats().eventQueue, 10);
});

test("stats: Serf's Stats() keys", { timeout: 10_000 }, () => {
  const net = new TinyNet();
  net.add("s1", "127.0.0.1");
  const s = formatSerfStats(net.get("s1").stats());
  assert.deepEqual(Object.keys(s).sort(), [
    "coordinate_resets",
    "encrypted",
    "event_queue",
    "event_time",
    "failed",
    "health_score",
    "intent_queue",
    "left",
    "member_time",
    "members",
    "query_queue",
    "query_time",
  ]);
  assert.deepEqual([
    s.members,
    s.member_time,
    s.event_time,
    s.query_time,
    s.encrypted,
  ], ["1", "1", "1", "1", "false"]);
});

test(
  "shutdown: pending work completes, nothing more is sent, events stay readable",
  { timeout: 10_000 },
  () => {
    const net = new TinyNet();
    net.add("s1", "127.0.0.1", {
      coalescePeriodMs: 3_000,
      quiescentPeriodMs: 1_000,
    });
    net.add("s2", "127.0.0.2");
    net.invoke(
      "s2",
      (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
    );
    net.run(500);
    const qid = net.invoke("s1", (s, now) => s.query("q", null, {}, now));
    net.invoke("s1", (s, now) => s.shutdown(now));
    const ev = net.events("s1");
    assert.ok(ev.some((e) => e.type === "queryDone" && e.queryId === qid));
    assert.ok(
      ev.some((e) => e.type === "memberJoin"),
      "coalesced joins were flushed",
    );
    assert.equal(ev.at(-1)?.type, "shutdown");
    assert.equal(net.get("s1").nextDeadline(), null);
    assert.equal(net.get("s1").pollTransmit(), undefined);
    assert.equal(net.get("s1").state(), "shutdown");
  },
);

test("snapshot recording: the coordinate is recorded every minute", {
  timeout: 30_000,
}, () => {
  let text = "";
  const c = serfCluster({
    seed: 44,
    optionsFor: () => ({ snapshot: undefined }),
  });
  void c;
  const net = new TinyNet();
  net.add("s1", "127.0.0.1", {}, { snapshot: emptySnapshotState() });
  net.add("s2", "127.0.0.2");
  net.invoke(
    "s2",
    (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
  );
  net.run(61_000);
  for (const e of net.events("s1")) if (e.type === "snapshot") text += e.text;
  assert.match(text, /^alive: s1 127\.0\.0\.1:7946\n/);
  assert.match(text, /alive: s2 127\.0\.0\.2:7946\n/);
  assert.match(text, /\ncoordinate: \{"Vec":\[/);
});

test(
  "the seal stage's Keyring is a KeyringView; use-key switches it before the query is gossiped",
  { timeout: 10_000 },
  () => {
    const k1 = new Uint8Array(16).fill(1);
    const k2 = new Uint8Array(16).fill(2);
    const ring1: KeyringView = new Keyring([k1]);
    const ring2: KeyringView = new Keyring([k1]);
    const net = new TinyNet();
    net.add("s1", "127.0.0.1", {}, { keyring: ring1 });
    net.add("s2", "127.0.0.2", {}, { keyring: ring2 });
    net.invoke(
      "s2",
      (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
    );
    net.run(2_000);
    net.invoke("s1", (s, now) => s.installKey(k2, now));
    net.run(1_000);
    assert.equal(ring2.keys().length, 2);
    const sentBefore = net.sent.length;
    net.invoke("s1", (s, now) => s.useKey(k2, now));
    // Serf handled its own query synchronously: the packet that will carry
    // the query is sealed with k2 already (udp-encrypted-use-key-query).
    assert.deepEqual(ring1.keys()[0], k2);
    // Only our own answer (to ourselves) went out so far, not the query.
    assert.deepEqual(net.sent.slice(sentBefore).map((x) => x.to), ["s1"]);
    net.run(1_000);
    assert.deepEqual(ring2.keys()[0], k2);
    const done = net.events("s1").filter((e) => e.type === "keyDone");
    assert.deepEqual(done.map((e) => e.type === "keyDone" ? e.error : "?"), [
      null,
      null,
    ]);
    assert.throws(() => new Keyring([k1]).install(new Uint8Array(5)), {
      message: "key size must be 16, 24 or 32 bytes",
    });
  },
);
