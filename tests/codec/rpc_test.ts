import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeEventRecord,
  decodeLogRecord,
  decodeQueryRecord,
  decodeRequestBody,
  decodeRequestHeader,
  decodeResponseBody,
  decodeResponseHeader,
  encodeRecord,
  encodeRecordWithHeader,
  encodeRequest,
  encodeRequestBody,
  encodeRequestHeader,
  encodeResponse,
  encodeResponseBody,
  encodeResponseHeader,
  type EventRecord,
  type MemberEventName,
  RPC_MAX_OBJECT_BYTES,
  rpcCommandStreams,
  RpcErrorText,
  type RpcMember,
  type RpcRecord,
  type RpcRequestBody,
  rpcRequestHasBody,
  type RpcResponseBody,
  rpcResponseHasBody,
  splitMsgpackObjects,
} from "../../src/codec/rpc.ts";
import type { Coordinate } from "../../src/codec/coordinate.ts";
import { DecodeError } from "../../src/codec/errors.ts";
import { MsgpackReader, MsgpackWriter } from "../../src/codec/msgpack.ts";
import { seeded } from "../helpers/prng.ts";
import {
  fromHex,
  garbage,
  Gen,
  type Json,
  loadVector,
  onlyDecodeError,
  plainBytes,
  plainMap,
  plainStr,
  toHex,
  vectorIds,
} from "../helpers/serf_vectors.ts";

// ---------------------------------------------------------------------------
// The vectors' "plain" form (vectors README) of decoded RPC objects.

const nullableMap = (m: Map<string, string> | null): Json =>
  m === null ? null : plainMap(m);
const nullableList = (a: string[] | null): Json =>
  a === null ? null : a.map(plainStr);

function plainRequest(b: RpcRequestBody): Json {
  switch (b.command) {
    case "handshake":
      return { Version: b.body.version };
    case "auth":
      return { AuthKey: plainStr(b.body.authKey) };
    case "event":
      return {
        Coalesce: b.body.coalesce,
        Name: plainStr(b.body.name),
        Payload: plainBytes(b.body.payload),
      };
    case "force-leave":
      return { Node: plainStr(b.body.node), Prune: b.body.prune };
    case "join":
      return { Existing: nullableList(b.body.existing), Replay: b.body.replay };
    case "members-filtered":
      return {
        Name: plainStr(b.body.name),
        Status: plainStr(b.body.status),
        Tags: nullableMap(b.body.tags),
      };
    case "tags":
      return {
        DeleteTags: nullableList(b.body.deleteTags),
        Tags: nullableMap(b.body.tags),
      };
    case "install-key":
    case "use-key":
    case "remove-key":
      return { Key: plainStr(b.body.key) };
    case "query":
      return {
        FilterNodes: nullableList(b.body.filterNodes),
        FilterTags: nullableMap(b.body.filterTags),
        Name: plainStr(b.body.name),
        Payload: plainBytes(b.body.payload),
        RelayFactor: b.body.relayFactor,
        RequestAck: b.body.requestAck,
        Timeout: b.body.timeoutNs,
      };
    case "respond":
      return { ID: b.body.id, Payload: plainBytes(b.body.payload) };
    case "stream":
      return { Type: plainStr(b.body.type) };
    case "monitor":
      return { LogLevel: plainStr(b.body.logLevel) };
    case "stop":
      return { Stop: b.body.stop };
    case "get-coordinate":
      return { Node: plainStr(b.body.node) };
  }
  return null;
}

function plainMember(m: RpcMember): Json {
  return {
    Addr: plainBytes(m.addr),
    DelegateCur: m.delegateCur,
    DelegateMax: m.delegateMax,
    DelegateMin: m.delegateMin,
    Name: plainStr(m.name),
    Port: m.port,
    ProtocolCur: m.protocolCur,
    ProtocolMax: m.protocolMax,
    ProtocolMin: m.protocolMin,
    Status: plainStr(m.status),
    Tags: plainMap(m.tags),
  };
}

function plainResponse(b: RpcResponseBody): Json {
  switch (b.command) {
    case "join":
      return { Num: b.body.num };
    case "members":
    case "members-filtered":
      return { Members: b.body.members.map(plainMember) };
    case "install-key":
    case "use-key":
    case "remove-key":
    case "list-keys": {
      let keys: Json = null;
      if (b.body.keys !== null) {
        keys = {};
        for (const [k, n] of b.body.keys) keys[k] = n;
      }
      return {
        Keys: keys,
        Messages: plainMap(b.body.messages),
        NumErr: b.body.numErr,
        NumNodes: b.body.numNodes,
        NumResp: b.body.numResp,
      };
    }
    case "stats": {
      const o: Json = {};
      for (const [k, v] of b.body) o[k] = plainMap(v);
      return o;
    }
    case "get-coordinate": {
      const c = b.body.coord;
      return {
        Coord: c === null
          ? { Adjustment: 0, Error: 0, Height: 0, Vec: null }
          : {
            Adjustment: c.adjustment,
            Error: c.error,
            Height: c.height,
            Vec: c.vec,
          },
        Ok: b.body.ok,
      };
    }
  }
}

function plainRecord(rec: RpcRecord): Json {
  switch (rec.kind) {
    case "query":
      return {
        From: plainStr(rec.record.from),
        Payload: plainBytes(rec.record.payload),
        Type: plainStr(rec.record.type),
      };
    case "log":
      return { Log: plainStr(rec.record.log) };
  }
  const e = rec.record;
  if (e.event === "user") {
    return {
      Coalesce: e.coalesce,
      Event: e.event,
      LTime: e.ltime,
      Name: plainStr(e.name),
      Payload: plainBytes(e.payload),
    };
  }
  if (e.event === "query") {
    return {
      Event: e.event,
      ID: e.id,
      LTime: e.ltime,
      Name: plainStr(e.name),
      Payload: plainBytes(e.payload),
    };
  }
  return { Event: e.event, Members: e.members.map(plainMember) };
}

function decodeRecord(command: string, r: MsgpackReader): RpcRecord {
  if (command === "query") {
    return { kind: "query", record: decodeQueryRecord(r) };
  }
  if (command === "monitor") return { kind: "log", record: decodeLogRecord(r) };
  return { kind: "event", record: decodeEventRecord(r) };
}

const reader = (b: Uint8Array): MsgpackReader => new MsgpackReader(b);

// ---------------------------------------------------------------------------
// Captured conversations: every object on both sides decodes to the vector's
// plain form and re-encodes to the captured bytes. Go maps (tags, stats, key
// counts) decode into Maps that keep the wire order, so they compare byte for
// byte as well.

interface Side {
  role: string;
  hex: string;
  objects: Array<{ hex: string; plain: Json }>;
}

function checkSplit(side: Side, id: string): Uint8Array[] {
  const { objects, rest } = splitMsgpackObjects(fromHex(side.hex));
  assert.equal(rest.length, 0, id);
  assert.deepEqual(objects.map(toHex), side.objects.map((o) => o.hex), id);
  return objects;
}

function walkClient(side: Side, id: string): Map<number, string> {
  const objs = checkSplit(side, id);
  const commands = new Map<number, string>();
  for (let i = 0; i < objs.length;) {
    const h = decodeRequestHeader(reader(objs[i]));
    assert.deepEqual(
      { Command: h.command, Seq: h.seq },
      side.objects[i].plain,
      id,
    );
    assert.equal(toHex(encodeRequestHeader(h)), side.objects[i].hex, id);
    commands.set(h.seq, h.command);
    let whole = side.objects[i++].hex;
    let body: RpcRequestBody;
    if (rpcRequestHasBody(h.command)) {
      body = decodeRequestBody(h.command, reader(objs[i]));
      assert.deepEqual(
        plainRequest(body),
        side.objects[i].plain,
        `${id} ${h.command}`,
      );
      assert.equal(toHex(encodeRequestBody(body)!), side.objects[i].hex, id);
      whole += side.objects[i++].hex;
    } else {
      body = decodeRequestBody(h.command, reader(new Uint8Array(0)));
      assert.equal(body.body, null);
    }
    assert.equal(toHex(encodeRequest(h.seq, body)), whole, id);
  }
  return commands;
}

function walkAgent(
  side: Side,
  id: string,
  commands: Map<number, string>,
): number {
  const objs = checkSplit(side, id);
  const answered = new Set<number>();
  let records = 0;
  for (let i = 0; i < objs.length;) {
    const h = decodeResponseHeader(reader(objs[i]));
    assert.deepEqual({ Error: h.error, Seq: h.seq }, side.objects[i].plain, id);
    assert.equal(toHex(encodeResponseHeader(h)), side.objects[i].hex, id);
    const command = commands.get(h.seq);
    assert.ok(command !== undefined, `${id}: seq ${h.seq}`);
    let whole = side.objects[i++].hex;
    if (!answered.has(h.seq)) {
      answered.add(h.seq);
      let body: RpcResponseBody | null = null;
      if (rpcResponseHasBody(command, h.error)) {
        body = decodeResponseBody(command, reader(objs[i]));
        assert.deepEqual(
          plainResponse(body),
          side.objects[i].plain,
          `${id} ${command}`,
        );
        assert.equal(toHex(encodeResponseBody(body)), side.objects[i].hex, id);
        whole += side.objects[i++].hex;
      }
      assert.equal(toHex(encodeResponse(h, body)), whole, id);
      continue;
    }
    // A later header with the same Seq introduces a streamed record.
    assert.ok(rpcCommandStreams(command), `${id}: ${command} streams`);
    const rec = decodeRecord(command, reader(objs[i]));
    assert.deepEqual(plainRecord(rec), side.objects[i].plain, `${id} record`);
    assert.equal(toHex(encodeRecord(rec)), side.objects[i].hex, id);
    whole += side.objects[i++].hex;
    assert.equal(toHex(encodeRecordWithHeader(h.seq, rec)), whole, id);
    records++;
  }
  return records;
}

const RPC_IDS = vectorIds("rpc");

test("vectors: 16 RPC conversations are captured", () => {
  assert.equal(RPC_IDS.length, 16);
});

for (const id of RPC_IDS) {
  test(`vectors: ${id} decodes and re-encodes byte for byte on both sides`, () => {
    const v = loadVector("rpc", id);
    const client = v.messages.find((m: Side) => m.role === "client->agent");
    const agent = v.messages.find((m: Side) => m.role === "agent->client");
    assert.ok(client && agent, id);
    const commands = walkClient(client, id);
    const records = walkAgent(agent, id, commands);
    if (id === "rpc-query") assert.equal(records, 7);
    if (id === "rpc-stream") assert.equal(records, 2);
    if (id === "rpc-monitor-and-stream") assert.equal(records, 11);
  });
}

test("vectors: conversations split right when received in random chunks (seed 0x5917)", () => {
  const prng = seeded(0x5917);
  for (const id of RPC_IDS) {
    for (const side of loadVector("rpc", id).messages as Side[]) {
      const all = fromHex(side.hex);
      const got: string[] = [];
      let pending = new Uint8Array(0);
      for (let o = 0; o < all.length;) {
        const n = 1 + Math.floor(prng() * 40);
        const next = new Uint8Array(
          pending.length + Math.min(n, all.length - o),
        );
        next.set(pending);
        next.set(all.subarray(o, o + n), pending.length);
        o += n;
        const { objects, rest } = splitMsgpackObjects(next);
        for (const obj of objects) got.push(toHex(obj));
        pending = rest.slice();
      }
      assert.equal(pending.length, 0, id);
      assert.deepEqual(got, side.objects.map((x) => x.hex), id);
    }
  }
});

test("RPC strings use str8 and []byte uses bin (SPEC §1.4)", () => {
  const err =
    "encoded user event exceeds configured limit of 512 bytes after encoding";
  assert.equal(
    toHex(encodeResponseHeader({ error: err, seq: 2 })).slice(0, 16),
    "82a54572726f72d9",
  );
  const ev = encodeRequestBody({
    command: "event",
    body: {
      name: "deploy",
      payload: new TextEncoder().encode("payload"),
      coalesce: true,
    },
  });
  assert.ok(toHex(ev!).includes("a75061796c6f6164c407"));
});

test("which commands carry bodies, and which stream records (ipc.go)", () => {
  for (const c of ["members", "leave", "list-keys", "stats"]) {
    assert.equal(rpcRequestHasBody(c), false);
  }
  for (const c of ["handshake", "event", "query", "stop", "get-coordinate"]) {
    assert.equal(rpcRequestHasBody(c), true);
  }
  assert.equal(rpcResponseHasBody("join"), true);
  assert.equal(rpcResponseHasBody("join", "some join error"), true);
  assert.equal(
    rpcResponseHasBody("stats", RpcErrorText.handshakeRequired),
    false,
  );
  assert.equal(rpcResponseHasBody("members", RpcErrorText.authRequired), false);
  assert.equal(rpcResponseHasBody("event"), false);
  assert.equal(rpcResponseHasBody("force-leave"), false);
  assert.deepEqual(
    ["query", "stream", "monitor", "members"].map(rpcCommandStreams),
    [true, true, true, false],
  );
});

test("get-coordinate for an unknown node sends Go's zero Coordinate (Vec nil)", () => {
  const b: RpcResponseBody = {
    command: "get-coordinate",
    body: { coord: null, ok: false },
  };
  const bytes = encodeResponseBody(b);
  const expected = new MsgpackWriter("rpc").map(2).str("Coord").map(4)
    .str("Adjustment").float64(0).str("Error").float64(0).str("Height").float64(
      0,
    )
    .str("Vec").nil().str("Ok").bool(false).finish();
  assert.equal(toHex(bytes), toHex(expected));
  assert.deepEqual(decodeResponseBody("get-coordinate", reader(bytes)), b);
});

test("unknown commands and body-less responses are DecodeErrors", () => {
  assert.throws(
    () => decodeRequestBody("nope", reader(fromHex("80"))),
    (e: unknown) => e instanceof DecodeError && e.reason === "unknown-command",
  );
  assert.throws(
    () => decodeResponseBody("event", reader(fromHex("80"))),
    (e: unknown) => e instanceof DecodeError && e.reason === "no-body",
  );
  assert.throws(
    () => decodeEventRecord(reader(fromHex("81a54576656e74a3666f6f"))),
    (e: unknown) => e instanceof DecodeError && e.reason === "unknown-event",
  );
});

test("splitMsgpackObjects bounds object size (RPC_MAX_OBJECT_BYTES)", () => {
  assert.equal(RPC_MAX_OBJECT_BYTES, 1024 * 1024);
  // A partial str32 that declares 2 MiB: waits while small...
  const head = fromHex("db00200000");
  assert.deepEqual(splitMsgpackObjects(head).objects, []);
  assert.equal(splitMsgpackObjects(head).rest.length, 5);
  // ...and is cut off once it has grown past the bound.
  const tooLarge = (e: unknown): boolean =>
    e instanceof DecodeError && e.reason === "too-large";
  assert.throws(
    () =>
      splitMsgpackObjects(new Uint8Array(40).fill(0xa0).fill(0xdb, 0, 1), 16),
    tooLarge,
  );
  // A complete object above the bound is refused too.
  const big = new MsgpackWriter("rpc").str("x".repeat(100)).finish();
  assert.throws(() => splitMsgpackObjects(big, 64), tooLarge);
  assert.equal(splitMsgpackObjects(big, 102).objects.length, 1);
  // A corrupt stream (reserved 0xc1) cannot be resynchronised.
  assert.throws(() => splitMsgpackObjects(fromHex("c1")), DecodeError);
});

// ---------------------------------------------------------------------------
// Seeded round trips of every request, response and record.

function randomMember(g: Gen): RpcMember {
  return {
    name: g.str(),
    addr: g.bytes(17),
    port: g.uint(16),
    tags: g.strMap(),
    status: g.pick(["alive", "leaving", "left", "failed", "none"]),
    protocolMin: g.uint(8),
    protocolMax: g.uint(8),
    protocolCur: g.uint(8),
    delegateMin: g.uint(8),
    delegateMax: g.uint(8),
    delegateCur: g.uint(8),
  };
}

const maybeMap = (g: Gen): Map<string, string> | null =>
  g.chance(0.2) ? null : g.strMap();
const maybeList = (g: Gen): string[] | null =>
  g.chance(0.2) ? null : g.strList();

function randomRequest(g: Gen): RpcRequestBody {
  const cases: Array<() => RpcRequestBody> = [
    () => ({ command: "handshake", body: { version: g.uint(31) } }),
    () => ({ command: "auth", body: { authKey: g.str() } }),
    () => ({
      command: "event",
      body: {
        name: g.str(),
        payload: g.bytesOrNull(),
        coalesce: g.chance(0.5),
      },
    }),
    () => ({
      command: "force-leave",
      body: { node: g.str(), prune: g.chance(0.5) },
    }),
    () => ({
      command: "join",
      body: { existing: maybeList(g), replay: g.chance(0.5) },
    }),
    () => ({
      command: "members-filtered",
      body: { tags: maybeMap(g), status: g.str(), name: g.str() },
    }),
    () => ({
      command: "tags",
      body: { tags: maybeMap(g), deleteTags: maybeList(g) },
    }),
    () => ({
      command: g.pick(["install-key", "use-key", "remove-key"] as const),
      body: { key: g.str() },
    }),
    () => ({
      command: "query",
      body: {
        filterNodes: maybeList(g),
        filterTags: maybeMap(g),
        requestAck: g.chance(0.5),
        relayFactor: g.uint(8),
        timeoutNs: g.uint(53),
        name: g.str(),
        payload: g.bytesOrNull(),
      },
    }),
    () => ({
      command: "respond",
      body: { id: g.uint(64), payload: g.bytesOrNull() },
    }),
    () => ({ command: "stream", body: { type: g.str() } }),
    () => ({ command: "monitor", body: { logLevel: g.str() } }),
    () => ({ command: "stop", body: { stop: g.uint(64) } }),
    () => ({ command: "get-coordinate", body: { node: g.str() } }),
    () => ({
      command: g.pick(["members", "leave", "list-keys", "stats"] as const),
      body: null,
    }),
  ];
  return g.pick(cases)();
}

function randomCoordinate(g: Gen): Coordinate {
  return {
    vec: Array.from({ length: g.int(10) }, () => g.float()),
    error: g.float(),
    adjustment: g.float(),
    height: g.float(),
  };
}

function randomResponse(g: Gen): RpcResponseBody {
  const members = (): RpcMember[] =>
    Array.from({ length: g.int(5) }, () => randomMember(g));
  const cases: Array<() => RpcResponseBody> = [
    () => ({ command: "join", body: { num: g.uint(31) } }),
    () => ({
      command: g.pick(["members", "members-filtered"] as const),
      body: { members: members() },
    }),
    () => ({
      command: g.pick(
        ["install-key", "use-key", "remove-key", "list-keys"] as const,
      ),
      body: {
        messages: g.strMap(),
        keys: g.chance(0.4)
          ? null
          : new Map(g.strList().map((k) => [k, g.uint(31)])),
        numNodes: g.uint(31),
        numErr: g.uint(31),
        numResp: g.uint(31),
      },
    }),
    () => ({
      command: "stats",
      body: new Map(g.strList(6).map((s) => [s, g.strMap(8)])),
    }),
    () => ({
      command: "get-coordinate",
      body: g.chance(0.3)
        ? { coord: null, ok: false }
        : { coord: randomCoordinate(g), ok: true },
    }),
  ];
  return g.pick(cases)();
}

function randomEvent(g: Gen): EventRecord {
  switch (g.int(3)) {
    case 0:
      return {
        event: g.pick<MemberEventName>([
          "member-join",
          "member-leave",
          "member-failed",
          "member-update",
          "member-reap",
        ]),
        members: Array.from({ length: g.int(4) }, () => randomMember(g)),
      };
    case 1:
      return {
        event: "user",
        ltime: g.uint(64),
        name: g.str(),
        payload: g.bytesOrNull(),
        coalesce: g.chance(0.5),
      };
    default:
      return {
        event: "query",
        id: g.uint(64),
        ltime: g.uint(64),
        name: g.str(),
        payload: g.bytesOrNull(),
      };
  }
}

function randomRecord(g: Gen): RpcRecord {
  switch (g.int(3)) {
    case 0:
      return {
        kind: "query",
        record: {
          type: g.pick(["ack", "response", "done"]),
          from: g.str(),
          payload: g.bytesOrNull(),
        },
      };
    case 1:
      return { kind: "log", record: { log: g.str(200) } };
    default:
      return { kind: "event", record: randomEvent(g) };
  }
}

const commandOfRecord = (rec: RpcRecord): string =>
  rec.kind === "query" ? "query" : rec.kind === "log" ? "monitor" : "stream";

test("property: random requests round-trip through encodeRequest and split (seed 0x4e01)", () => {
  const g = new Gen(seeded(0x4e01));
  const seen = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const req = randomRequest(g);
    seen.add(req.command);
    const seq = g.uint(64);
    const { objects, rest } = splitMsgpackObjects(encodeRequest(seq, req));
    assert.equal(rest.length, 0);
    assert.equal(objects.length, req.body === null ? 1 : 2, `case ${i}`);
    assert.deepEqual(decodeRequestHeader(reader(objects[0])), {
      command: req.command,
      seq,
    });
    const back = decodeRequestBody(
      req.command,
      reader(objects[1] ?? new Uint8Array(0)),
    );
    assert.deepEqual(back, req, `case ${i} (${req.command})`);
  }
  assert.equal(seen.size, 20);
});

test("property: random responses and records round-trip (seed 0x4e02)", () => {
  const g = new Gen(seeded(0x4e02));
  for (let i = 0; i < 2000; i++) {
    const body = randomResponse(g);
    const seq = g.uint(64), error = g.chance(0.3) ? g.str() : "";
    const { objects } = splitMsgpackObjects(
      encodeResponse({ error, seq }, body),
    );
    assert.deepEqual(decodeResponseHeader(reader(objects[0])), { error, seq });
    assert.deepEqual(
      decodeResponseBody(body.command, reader(objects[1])),
      body,
      `case ${i}`,
    );
    const rec = randomRecord(g);
    const parts = splitMsgpackObjects(encodeRecordWithHeader(seq, rec)).objects;
    assert.deepEqual(decodeResponseHeader(reader(parts[0])), {
      error: "",
      seq,
    });
    assert.deepEqual(
      decodeRecord(commandOfRecord(rec), reader(parts[1])),
      rec,
      `record ${i}`,
    );
  }
});

// ---------------------------------------------------------------------------
// Garbage: only DecodeError from every decoder, never another exception.

test("garbage: every RPC decoder gives only DecodeError (seed 0x6a7c)", () => {
  const prng = seeded(0x6a7c);
  const g = new Gen(prng);
  const samples: Uint8Array[] = [];
  for (const id of RPC_IDS) {
    for (const side of loadVector("rpc", id).messages as Side[]) {
      for (const o of side.objects) {
        if (o.hex.length < 400) samples.push(fromHex(o.hex));
      }
    }
  }
  for (let i = 0; i < 20; i++) {
    samples.push(encodeRequestBody(randomRequest(g)) ?? new Uint8Array(0));
    samples.push(encodeResponseBody(randomResponse(g)));
    samples.push(encodeRecord(randomRecord(g)));
  }
  const requestCommands = [
    "handshake",
    "auth",
    "event",
    "force-leave",
    "join",
    "members-filtered",
    "tags",
    "install-key",
    "query",
    "respond",
    "stream",
    "monitor",
    "stop",
    "get-coordinate",
  ];
  const responseCommands = [
    "join",
    "members",
    "list-keys",
    "stats",
    "get-coordinate",
  ];
  const decoders: Array<[string, (r: MsgpackReader) => unknown]> = [
    ["request header", decodeRequestHeader],
    ["response header", decodeResponseHeader],
    ["query record", decodeQueryRecord],
    ["log record", decodeLogRecord],
    ["event record", decodeEventRecord],
    ...requestCommands.map((c): [string, (r: MsgpackReader) => unknown] => [
      c,
      (r) => decodeRequestBody(c, r),
    ]),
    ...responseCommands.map((c): [string, (r: MsgpackReader) => unknown] => [
      `${c} response`,
      (r) => decodeResponseBody(c, r),
    ]),
  ];
  let ok = 0, bad = 0;
  for (const b of garbage(samples, prng, 24, 300)) {
    for (const [name, decode] of decoders) {
      if (onlyDecodeError(() => decode(reader(b)), name, b)) ok++;
      else bad++;
    }
    onlyDecodeError(() => splitMsgpackObjects(b, 256), "split", b);
  }
  assert.ok(ok > 0 && bad > 0, `ok ${ok} bad ${bad}`);
});
