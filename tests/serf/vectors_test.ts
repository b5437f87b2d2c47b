import { test } from "node:test";
import assert from "node:assert/strict";
import { TinyNet } from "./_harness.ts";
import { loadVector, toHex } from "../helpers/serf_vectors.ts";
import { encodeCoordinatePayload } from "../../src/codec/coordinate.ts";
import type { SerfConfigOverrides } from "../../src/serf/config.ts";
import type { SerfEvent } from "../../src/serf/events.ts";

// Scenario A of the captures: serf agents (protocol 5) with compression
// off, s1 tagged role=web, dc=east (in the captured map order).
const AGENT: SerfConfigOverrides = {
  protocolVersion: 5,
  memberlist: { enableCompression: false },
};
const enc = new TextEncoder();

function sentHex(net: TinyNet, from: string, to?: string): string[] {
  return net.sent
    .filter((s) =>
      s.from === from && (to === undefined || s.to === to) &&
      s.t.kind !== "reply"
    )
    .map((s) => toHex((s.t as { bytes: Uint8Array }).bytes));
}

function scenarioA(): TinyNet {
  const net = new TinyNet();
  net.add("s1", "127.0.0.1", {
    ...AGENT,
    tags: new Map([["role", "web"], ["dc", "east"]]),
  });
  net.add("s2", "127.0.0.2", AGENT);
  net.add("s3", "127.0.0.3", AGENT);
  return net;
}

test(
  "a fresh s2's join push-pull is byte for byte the captured 683 bytes (586-byte Serf state)",
  { timeout: 10_000 },
  () => {
    const net = scenarioA();
    net.invoke(
      "s2",
      (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
    );
    const dial = net.sent.find((x) => x.from === "s2" && x.t.kind === "dial");
    assert.ok(dial !== undefined && dial.t.kind === "dial");
    const want = loadVector("tcp", "tcp-pushpull-join-plain").messages[0].hex;
    assert.equal(toHex(dial.t.bytes), want);
    assert.equal(dial.t.bytes.length, 683);
  },
);

test(
  "join intents s2@1 and s3@2 and the user event encode exactly as captured",
  { timeout: 10_000 },
  () => {
    const net = scenarioA();
    net.invoke(
      "s2",
      (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
    );
    net.run(2_000);
    net.invoke(
      "s3",
      (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
    );
    net.run(2_000);
    // udp-gossip-join-intent without its CRC: 08 then the Serf message.
    const joinS3 = loadVector("udp", "udp-gossip-join-intent").hex.slice(10);
    assert.equal(joinS3, "080182a54c54696d6502a44e6f6465a27333");
    assert.ok(
      sentHex(net, "s3").some((h) => h.includes(joinS3)),
      "s3's join intent LTime 2",
    );
    assert.ok(
      sentHex(net, "s2").some((h) =>
        h.includes("080182a54c54696d6501a44e6f6465a27332")
      ),
      "s2's join intent LTime 1",
    );
    net.invoke(
      "s1",
      (s, now) => s.userEvent("deploy", enc.encode("payload"), true, now),
    );
    net.run(1_000);
    const event = loadVector("udp", "udp-user-event").hex.slice(10);
    assert.ok(
      sentHex(net, "s1").some((h) => h.includes(event)),
      "user event deploy",
    );
  },
);

test(
  "a query, its ack and responses (also to self) encode as captured, IDs aside",
  { timeout: 10_000 },
  () => {
    const net = scenarioA();
    for (const n of ["s2", "s3"]) {
      net.invoke(
        n,
        (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
      );
      net.run(2_000);
    }
    const qid = net.invoke(
      "s1",
      (s, now) =>
        s.query("uptime", enc.encode("hello"), {
          requestAck: true,
          timeoutMs: 3_000,
        }, now),
    );
    net.run(1_000);
    // Every member answers like the captured handler script: "pong-<name>\n".
    for (const n of ["s1", "s2", "s3"]) {
      const q = net.events(n).find((e) => e.type === "query");
      assert.ok(q !== undefined && q.type === "query", `${n} got the query`);
      net.invoke(
        n,
        (s, now) => s.respond(q.id, enc.encode(`pong-${n}\n`), now),
      );
    }
    net.run(4_000);
    const ours = sentHex(net, "s1").find((h) => h.includes("048ba441646472"))!;
    const idHex =
      /a24944((?:ce[0-9a-f]{8})|(?:cd[0-9a-f]{4})|(?:cc[0-9a-f]{2})|(?:[0-7][0-9a-f]))/
        .exec(ours)![1];
    const patch = (h: string) =>
      h.replaceAll(`a24944${idHex}`, "a24944ce49fc2677");
    assert.ok(
      patch(ours).includes(
        loadVector("udp", "udp-query-ack-requested").hex.slice(10),
      ),
    );
    const fromS2 = sentHex(net, "s2", "s1").map(patch);
    assert.ok(
      fromS2.includes(loadVector("udp", "udp-query-response-ack").hex),
      "ack",
    );
    assert.ok(
      fromS2.includes(loadVector("udp", "udp-query-response-payload").hex),
      "response",
    );
    assert.ok(
      sentHex(net, "s1", "s1").map(patch).includes(
        loadVector("udp", "udp-query-response-to-self").hex,
      ),
      "response to self",
    );
    const s1 = net.events("s1");
    const acks =
      s1.filter((e) => e.type === "queryAck" && e.queryId === qid).length;
    const resps =
      s1.filter((e) => e.type === "queryResponse" && e.queryId === qid).length;
    assert.equal(acks, 3);
    assert.equal(resps, 3);
    assert.ok(
      s1.some((e) =>
        e.type === "queryDone" && e.queryId === qid && e.responses === 3
      ),
    );
  },
);

test(
  "leave and force-leave intents encode as captured",
  { timeout: 10_000 },
  () => {
    const net = scenarioA();
    for (const n of ["s2", "s3"]) {
      net.invoke(
        n,
        (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
      );
      net.run(2_000);
    }
    net.invoke("s3", (s, now) => s.leave(now));
    net.run(3_000);
    const leave = loadVector("udp", "udp-leave-intent").hex.slice(10);
    assert.ok(
      sentHex(net, "s3").some((h) => h.includes(leave)),
      "leave intent s3@3",
    );
    assert.ok(
      net.events("s3").some((e) => e.type === "leaveDone" && e.error === null),
    );
    // Scenario B: two members; s1's member clock is 2 after s2's join intent.
    const b = new TinyNet();
    b.add("s1", "127.0.0.1", AGENT);
    b.add("s2", "127.0.0.2", AGENT);
    b.invoke(
      "s2",
      (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
    );
    b.run(2_000);
    b.invoke("s1", (s, now) => s.forceLeave("nosuchnode", false, now));
    b.run(2_000);
    const force = loadVector("udp", "udp-force-leave-intent").hex.slice(10);
    assert.ok(
      sentHex(b, "s1").some((h) => h.includes(force)),
      "force-leave nosuchnode@2",
    );
  },
);

test("the ack payload of a fresh member is the captured initial coordinate", {
  timeout: 10_000,
}, () => {
  const net = scenarioA();
  const v = loadVector("udp", "udp-ack-coordinate-initial").hex;
  const payload = toHex(encodeCoordinatePayload(net.get("s1").coordinate()!));
  assert.equal(payload.length, 260);
  assert.ok(v.includes(payload));
  net.invoke(
    "s2",
    (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
  );
  net.run(1_500);
  assert.ok(
    sentHex(net, "s1", "s2").some((h) => h.includes(payload)),
    "s1 acks with it",
  );
});

test(
  "name conflict (scenario E): the query and the answer match the capture; the impostor quits [0 / 1]",
  { timeout: 10_000 },
  () => {
    const net = new TinyNet();
    net.add("s1", "127.0.0.1", AGENT);
    net.add("s2", "127.0.0.2", AGENT);
    net.invoke(
      "s2",
      (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
    );
    net.run(2_000);
    // A second agent named s1 on 127.0.0.3 joins through s2.
    net.add("s1b", "127.0.0.3", { ...AGENT, nodeName: "s1" });
    net.invoke(
      "s1b",
      (s, now) => s.join([{ host: "127.0.0.2", port: 7946 }], false, now),
    );
    net.run(6_000);
    const q = sentHex(net, "s1b").find((h) =>
      h.includes("ae5f736572665f636f6e666c696374")
    );
    assert.ok(q !== undefined, "the impostor asked _serf_conflict");
    const idHex =
      /a24944((?:ce[0-9a-f]{8})|(?:cd[0-9a-f]{4})|(?:cc[0-9a-f]{2})|(?:[0-7][0-9a-f]))/
        .exec(q)![1];
    const patch = (h: string) =>
      h.replaceAll(`a24944${idHex}`, "a24944ce153c7599");
    const capturedQuery = loadVector("udp", "udp-conflict-query").hex;
    const queryMsg = capturedQuery.slice(
      capturedQuery.indexOf("048ba441646472"),
    );
    assert.ok(patch(q).includes(queryMsg), "query bytes");
    const answer = sentHex(net, "s2", "s1b").map(patch);
    assert.ok(
      answer.includes(loadVector("udp", "udp-conflict-response").hex),
      "s2's answer",
    );
    const ev = net.events("s1b");
    assert.ok(ev.some((e: SerfEvent) => e.type === "conflict" && e.resolving));
    assert.ok(
      ev.some((e: SerfEvent) =>
        e.type === "shutdown" && e.reason === "nameConflict"
      ),
    );
    assert.equal(net.get("s1b").state(), "shutdown");
    // The original s1 wins its own vote and stays.
    assert.equal(net.get("s1").state(), "alive");
  },
);
