import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeFilter,
  decodeSerfMessage,
  encodeConflictResponse,
  encodeKeyRequest,
  encodeKeyResponse,
  encodeNodeFilter,
  encodePushPullState,
  encodeSerfMessage,
  encodeTagFilter,
  MemberStatus,
  type PushPullState,
  QueryFlag,
  type SerfMember,
  type SerfMessage,
  type UserEvents,
} from "../../src/codec/serf_messages.ts";
import { DecodeError } from "../../src/codec/errors.ts";
import { seeded } from "../helpers/prng.ts";
import {
  findAll,
  fromHex,
  garbage,
  Gen,
  type Json,
  onlyDecodeError,
  plainBytes,
  plainMap,
  plainStr,
  toHex,
} from "../helpers/serf_vectors.ts";

// The vectors' "plain" form (Go field names, bytes as text or {hex}) of a
// decoded message, to compare with `bodyPlain` (vectors README).
function plainOf(m: SerfMessage): Json {
  switch (m.type) {
    case "join":
      return { LTime: m.body.ltime, Node: plainStr(m.body.node) };
    case "leave":
      return {
        LTime: m.body.ltime,
        Node: plainStr(m.body.node),
        Prune: m.body.prune,
      };
    case "userEvent":
      return {
        CC: m.body.cc,
        LTime: m.body.ltime,
        Name: plainStr(m.body.name),
        Payload: plainBytes(m.body.payload),
      };
    case "query": {
      const q = m.body;
      return {
        Addr: plainBytes(q.addr),
        Filters: q.filters === null ? null : q.filters.map(plainBytes),
        Flags: q.flags,
        ID: q.id,
        LTime: q.ltime,
        Name: plainStr(q.name),
        Payload: plainBytes(q.payload),
        Port: q.port,
        RelayFactor: q.relayFactor,
        SourceNode: plainStr(q.sourceNode),
        Timeout: q.timeoutNs,
      };
    }
    case "queryResponse":
      return {
        Flags: m.body.flags,
        From: plainStr(m.body.from),
        ID: m.body.id,
        LTime: m.body.ltime,
        Payload: plainBytes(m.body.payload),
      };
    case "conflictResponse":
      return m.body.member === null ? null : plainMember(m.body.member);
    case "keyRequest":
      return { Key: plainBytes(m.body.key) };
    case "keyResponse":
      return {
        Keys: m.body.keys === null ? null : m.body.keys.map(plainStr),
        Message: plainStr(m.body.message),
        PrimaryKey: plainStr(m.body.primaryKey),
        Result: m.body.result,
      };
    case "pushPull":
      return plainPushPull(m.body);
    case "relay":
      return {
        DestAddr: {
          IP: plainBytes(m.body.destAddr.ip),
          Port: m.body.destAddr.port,
          Zone: plainStr(m.body.destAddr.zone),
        },
        DestName: plainStr(m.body.destName),
      };
  }
}

function plainMember(s: SerfMember): Json {
  return {
    Addr: plainBytes(s.addr),
    DelegateCur: s.delegateCur,
    DelegateMax: s.delegateMax,
    DelegateMin: s.delegateMin,
    Name: plainStr(s.name),
    Port: s.port,
    ProtocolCur: s.protocolCur,
    ProtocolMax: s.protocolMax,
    ProtocolMin: s.protocolMin,
    Status: s.status,
    Tags: plainMap(s.tags),
  };
}

function plainPushPull(p: PushPullState): Json {
  const status: Json = {};
  for (const [k, v] of p.statusLtimes) status[k] = v;
  return {
    EventLTime: p.eventLtime,
    Events: p.events.map((slot) =>
      slot === null ? null : {
        Events: slot.events.map((e) => ({
          Name: plainStr(e.name),
          Payload: plainBytes(e.payload),
        })),
        LTime: slot.ltime,
      }
    ),
    LTime: p.ltime,
    LeftMembers: p.leftMembers.map(plainStr),
    QueryLTime: p.queryLtime,
    StatusLTimes: status,
  };
}

// ---------------------------------------------------------------------------
// Captured vectors.

test("vectors: every serf message type 0..9 appears in the captures", () => {
  const seen = new Set(findAll().serf.map((f) => f.node.serfType));
  assert.deepEqual([...seen].sort((a, b) => a - b), [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
  ]);
  // 33 UDP messages (nested payloads and relayed messages included) and
  // 10 push-pull user states: a walker that silently skipped some would
  // lower this.
  assert.equal(findAll().serf.length, 43);
});

test("vectors: every serf message decodes to bodyPlain and re-encodes byte for byte", () => {
  for (const { where, bytes, node } of findAll().serf) {
    const m = decodeSerfMessage(bytes);
    assert.equal(m.type, node.serfName, where);
    const expected = m.type === "relay"
      ? node.relayHeaderPlain
      : node.bodyPlain;
    assert.deepEqual(plainOf(m), expected, where);
    // Go maps (tags, StatusLTimes) decode into Maps that keep the wire order,
    // so even they re-encode to the captured bytes.
    assert.equal(toHex(encodeSerfMessage(m)), toHex(bytes), where);
  }
});

test("vectors: push-pull states carry the whole 512-slot ring, nil slots included", () => {
  const states = findAll().serf.filter((f) => f.node.serfType === 2);
  assert.equal(states.length, 10);
  for (const { where, bytes } of states) {
    const m = decodeSerfMessage(bytes);
    assert.equal(m.type, "pushPull");
    if (m.type !== "pushPull") continue;
    assert.equal(m.body.events.length, 512, where);
    assert.deepEqual(m.body.leftMembers, [], where);
  }
});

test("vectors: a fresh node's push-pull state is 586 bytes (SPEC §8.2)", () => {
  const state: PushPullState = {
    ltime: 1,
    statusLtimes: new Map([["s2", 0]]),
    leftMembers: [],
    eventLtime: 1,
    events: new Array<UserEvents | null>(512).fill(null),
    queryLtime: 1,
  };
  const bytes = encodePushPullState(state);
  assert.equal(bytes.length, 586);
  const captured = findAll().serf.find((f) =>
    f.where.startsWith("tcp-pushpull-join-encrypted#0")
  );
  assert.ok(captured);
  assert.equal(toHex(bytes), toHex(captured.bytes));
});

test("vectors: query filters parse and rebuild byte for byte", () => {
  let n = 0;
  for (const { where, node } of findAll().serf) {
    if (!node.filtersDecoded) continue;
    node.filtersDecoded.forEach((fd: Json, i: number) => {
      const raw = fromHex(node.bodyPlain.Filters[i].hex);
      const f = decodeFilter(raw);
      if (f.type === "node") {
        assert.equal(fd.filterType, 0);
        assert.deepEqual(f.nodes, fd.valuePlain, where);
        assert.equal(toHex(encodeNodeFilter(f.nodes)), toHex(raw));
      } else if (f.type === "tag") {
        assert.equal(fd.filterType, 1);
        assert.deepEqual({ Expr: f.expr, Tag: f.tag }, fd.valuePlain, where);
        assert.equal(toHex(encodeTagFilter(f.tag, f.expr)), toHex(raw));
      } else assert.fail(`${where}: unknown filter`);
      n++;
    });
  }
  assert.equal(n, 2);
});

test("vectors: nil and empty stay apart (Filters c0, ack Payload c0, Keys c0, Key a0)", () => {
  const byName = (name: string): SerfMessage[] =>
    findAll().serf.filter((f) => f.node.serfName === name).map((f) =>
      decodeSerfMessage(f.bytes)
    );
  const queries = byName("query");
  assert.ok(queries.some((q) => q.type === "query" && q.body.filters === null));
  const acks = byName("queryResponse").filter((r) =>
    r.type === "queryResponse" && r.body.flags === QueryFlag.ack
  );
  assert.ok(acks.length > 0);
  for (const a of acks) {
    assert.ok(a.type === "queryResponse" && a.body.payload === null);
  }
  const keyResponses = byName("keyResponse");
  assert.ok(
    keyResponses.some((k) => k.type === "keyResponse" && k.body.keys === null),
  );
  const keyRequests = byName("keyRequest");
  assert.ok(
    keyRequests.some((k) =>
      k.type === "keyRequest" && k.body.key !== null && k.body.key.length === 0
    ),
  );
});

test("conflict response for an unknown node is 06 c0 (serf handleConflict)", () => {
  assert.equal(toHex(encodeConflictResponse({ member: null })), "06c0");
  assert.deepEqual(decodeSerfMessage(fromHex("06c0")), {
    type: "conflictResponse",
    body: { member: null },
  });
});

test("key request and response encodings match SPEC §8.8", () => {
  assert.equal(
    toHex(encodeKeyRequest({ key: new Uint8Array(0) })),
    "0781a34b6579a0",
  );
  assert.equal(toHex(encodeKeyRequest({ key: null })), "0781a34b6579c0");
  // install-key response: 0x08 + {Keys: nil, Message: '', PrimaryKey: '', Result: true}.
  assert.equal(
    toHex(
      encodeKeyResponse({
        result: true,
        message: "",
        keys: null,
        primaryKey: "",
      }),
    ),
    "0884a44b657973c0a74d657373616765a0aa5072696d6172794b6579a0a6526573756c74c3",
  );
});

test("decoders accept keys in any order, unknown keys and signed ints (SPEC §1.3)", () => {
  // {Node: "s2", Extra: [1], LTime: int16 300} — Go skips Extra.
  const bytes = fromHex(
    "0183a44e6f6465a27332a54578747261910" + "1a54c54696d65d1012c",
  );
  assert.deepEqual(decodeSerfMessage(bytes), {
    type: "join",
    body: { ltime: 300, node: "s2" },
  });
  // A go-msgpack v2 query Timeout: int64 3 s as d3.
  const q = fromHex("0481a754696d656f7574d300000000b2d05e00");
  const m = decodeSerfMessage(q);
  assert.ok(m.type === "query" && m.body.timeoutNs === 3_000_000_000);
});

test("decodeSerfMessage rejects empty input and unknown types with DecodeError", () => {
  assert.throws(() => decodeSerfMessage(new Uint8Array(0)), DecodeError);
  assert.throws(
    () => decodeSerfMessage(fromHex("0a80")),
    (e: unknown) => e instanceof DecodeError && e.reason === "unknown-type",
  );
  assert.deepEqual(decodeFilter(fromHex("0780")), {
    type: "unknown",
    filterType: 7,
  });
  assert.throws(() => decodeFilter(new Uint8Array(0)), DecodeError);
});

// ---------------------------------------------------------------------------
// Seeded round-trip properties.

function randomMember(g: Gen): SerfMember {
  return {
    name: g.str(),
    addr: g.bytes(17),
    port: g.uint(16),
    tags: g.strMap(),
    status: g.pick(Object.values(MemberStatus)),
    protocolMin: g.uint(8),
    protocolMax: g.uint(8),
    protocolCur: g.uint(8),
    delegateMin: g.uint(8),
    delegateMax: g.uint(8),
    delegateCur: g.uint(8),
  };
}

function randomRing(g: Gen): (UserEvents | null)[] {
  const size = g.chance(0.3) ? 512 : g.int(20);
  return Array.from({ length: size }, () =>
    g.chance(0.8) ? null : {
      ltime: g.uint(64),
      events: Array.from({ length: 1 + g.int(3) }, () => ({
        name: g.str(),
        payload: g.bytesOrNull(),
      })),
    });
}

function randomMessage(g: Gen, inner: (g: Gen) => SerfMessage): SerfMessage {
  switch (g.int(10)) {
    case 0:
      return {
        type: "leave",
        body: { ltime: g.uint(64), node: g.str(), prune: g.chance(0.5) },
      };
    case 1:
      return { type: "join", body: { ltime: g.uint(64), node: g.str() } };
    case 2:
      return {
        type: "pushPull",
        body: {
          ltime: g.uint(64),
          statusLtimes: new Map(g.strList(20).map((n) => [n, g.uint(64)])),
          leftMembers: g.strList(),
          eventLtime: g.uint(64),
          events: randomRing(g),
          queryLtime: g.uint(64),
        },
      };
    case 3:
      return {
        type: "userEvent",
        body: {
          ltime: g.uint(64),
          name: g.str(),
          payload: g.bytesOrNull(),
          cc: g.chance(0.5),
        },
      };
    case 4:
      return {
        type: "query",
        body: {
          ltime: g.uint(64),
          id: g.uint(32),
          addr: g.bytes(17),
          port: g.uint(16),
          sourceNode: g.str(),
          filters: g.chance(0.4) ? null : [
            encodeNodeFilter(g.strList()),
            encodeTagFilter(g.str(), g.str()),
            g.bytes(10),
          ].slice(0, g.int(4)),
          flags: g.uint(32),
          relayFactor: g.uint(8),
          timeoutNs: g.uint(53),
          name: g.str(),
          payload: g.bytesOrNull(),
        },
      };
    case 5:
      return {
        type: "queryResponse",
        body: {
          ltime: g.uint(64),
          id: g.uint(32),
          from: g.str(),
          flags: g.uint(32),
          payload: g.bytesOrNull(),
        },
      };
    case 6:
      return {
        type: "conflictResponse",
        body: { member: g.chance(0.3) ? null : randomMember(g) },
      };
    case 7:
      return { type: "keyRequest", body: { key: g.bytesOrNull(40) } };
    case 8:
      return {
        type: "keyResponse",
        body: {
          result: g.chance(0.5),
          message: g.str(),
          keys: g.chance(0.3) ? null : g.strList(),
          primaryKey: g.str(),
        },
      };
    default:
      return {
        type: "relay",
        body: {
          destAddr: { ip: g.bytes(17), port: g.uint(16), zone: g.str(8) },
          destName: g.str(),
          message: encodeSerfMessage(inner(g)),
        },
      };
  }
}

const leaf = (g: Gen): SerfMessage => randomMessage(g, leaf);

test("property: random messages of every type round-trip (seed 0x5e4f)", () => {
  const g = new Gen(seeded(0x5e4f));
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const m = randomMessage(g, leaf);
    seen.add(m.type);
    const bytes = encodeSerfMessage(m);
    const back = decodeSerfMessage(bytes);
    assert.deepEqual(back, m, `case ${i} (${m.type})`);
    assert.equal(toHex(encodeSerfMessage(back)), toHex(bytes), `case ${i}`);
  }
  assert.equal(seen.size, 10);
});

test("property: filters round-trip (seed 0xf117)", () => {
  const g = new Gen(seeded(0xf117));
  for (let i = 0; i < 500; i++) {
    const nodes = g.strList(8);
    assert.deepEqual(decodeFilter(encodeNodeFilter(nodes)), {
      type: "node",
      nodes,
    });
    const tag = g.str(), expr = g.str();
    assert.deepEqual(decodeFilter(encodeTagFilter(tag, expr)), {
      type: "tag",
      tag,
      expr,
    });
  }
});

// ---------------------------------------------------------------------------
// Garbage: only DecodeError, never another exception or a hang.

test("garbage: truncations, bit flips and random bytes give only DecodeError (seed 0x6a7b)", () => {
  const prng = seeded(0x6a7b);
  const g = new Gen(prng);
  const samples = findAll().serf.map((f) => f.bytes).filter((b) =>
    b.length < 400
  );
  while (samples.length < 80) {
    const b = encodeSerfMessage(randomMessage(g, leaf));
    if (b.length < 400) samples.push(b);
  }
  let ok = 0, bad = 0;
  for (const b of garbage(samples, prng)) {
    const fine = onlyDecodeError(
      () => {
        const m = decodeSerfMessage(b);
        // Whatever decodes must encode again without throwing.
        encodeSerfMessage(m);
        if (m.type === "query" && m.body.filters) {
          for (const f of m.body.filters) {
            onlyDecodeError(() => decodeFilter(f), "filter");
          }
        }
      },
      "serf",
      b,
    );
    if (fine) {
      ok++;
    } else bad++;
  }
  assert.ok(ok > 0 && bad > 0, `ok ${ok} bad ${bad}`);
});

test("garbage: the large push-pull states survive flips and truncations", () => {
  const prng = seeded(0x99);
  const big = findAll().serf.filter((f) => f.node.serfType === 2).map((f) =>
    f.bytes
  );
  for (const s of big) {
    for (let n = 0; n < s.length; n += 7) {
      onlyDecodeError(
        () => decodeSerfMessage(s.subarray(0, n)),
        "push-pull prefix",
      );
    }
    for (let i = 0; i < 300; i++) {
      const b = s.slice();
      b[Math.floor(prng() * b.length)] = Math.floor(prng() * 256);
      onlyDecodeError(
        () => encodeSerfMessage(decodeSerfMessage(b)),
        "push-pull flip",
      );
    }
  }
});
