/**
 * The agent RPC in one process: our server answers the real `serf` CLI's
 * captured conversations (tests/fixtures/vectors/rpc) with the same shapes,
 * our client drives every command, and protocol errors and bounds behave
 * as in Serf's ipc.go. Addresses 127.0.100.x.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { reset } from "@logtape/logtape";
import { Agent } from "../../src/agent/agent.ts";
import { RpcClient, RpcError } from "../../src/agent/client.ts";
import { finishConfig } from "../../src/agent/config.ts";
import { configureAgentLogging, LogHub } from "../../src/agent/logs.ts";
import { MAX_RPC_CLIENTS, RpcServer } from "../../src/agent/rpc.ts";
import { MsgpackReader, type MsgpackValue } from "../../src/codec/msgpack.ts";
import {
  encodeRecordWithHeader,
  encodeRequest,
  encodeRequestHeader,
  encodeResponse,
  splitMsgpackObjects,
} from "../../src/codec/rpc.ts";
import { fromHex, type Json, loadVector } from "../helpers/serf_vectors.ts";
import { pollUntil } from "../interop/serf_harness.ts";

const KEY1 = "LiEU1Yq+7mAz55TkEUTu64O+5rdXQ2EkKzwgqskGesw=";

async function startAgent(
  name: string,
  host: string,
  rpcPort: number,
  extra: Record<string, unknown> = {},
  logs?: LogHub,
): Promise<{ agent: Agent; rpc: RpcServer; addr: string }> {
  const { config } = finishConfig({
    nodeName: name,
    bind: `${host}:7946`,
    profile: "local",
    rpcAddr: "",
    ...extra,
  });
  const agent = await Agent.start(config);
  const rpc = await RpcServer.start(agent, {
    addr: `${host}:${rpcPort}`,
    authKey: (extra.rpcAuth as string | undefined) ?? "",
    logs,
  });
  return { agent, rpc, addr: `${host}:${rpcPort}` };
}

async function stopAll(
  ...xs: Array<{ agent: Agent; rpc: RpcServer } | undefined>
): Promise<void> {
  for (const x of xs) {
    if (x === undefined) continue;
    await x.rpc.close();
    await x.agent.shutdown();
  }
}

/** A raw TCP session that collects whole msgpack objects. */
class Raw {
  readonly objects: Uint8Array[] = [];
  closed = false;
  #buf = new Uint8Array(0);
  readonly socket: net.Socket;

  constructor(addr: string) {
    const [host, port] = addr.split(":");
    this.socket = net.connect({ host, port: Number(port) });
    this.socket.on("data", (c: Uint8Array) => {
      const b = new Uint8Array(this.#buf.length + c.length);
      b.set(this.#buf);
      b.set(c, this.#buf.length);
      const { objects, rest } = splitMsgpackObjects(b);
      this.objects.push(...objects.map((o) => o.slice()));
      this.#buf = rest.slice();
    });
    this.socket.on("error", () => {});
    this.socket.on("close", () => (this.closed = true));
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  async values(n: number, timeoutMs = 5_000): Promise<MsgpackValue[]> {
    await pollUntil(
      `${n} objects`,
      () => this.objects.length >= n ? true : undefined,
      {
        timeoutMs,
        intervalMs: 10,
      },
    );
    return this.objects.slice(0, n).map((o) => new MsgpackReader(o).value());
  }

  close(): void {
    this.socket.destroy();
  }
}

function keysOf(v: MsgpackValue): string[] {
  assert.ok(v instanceof Map, `a map expected, got ${String(v)}`);
  return [...v.keys()].map(String).sort();
}

function vectorAgentObjects(id: string): Json[] {
  const v = loadVector("rpc", id);
  return v.messages.filter((m: Json) => m.role === "agent->client").flatMap((
    m: Json,
  ) => m.objects.map((o: Json) => o.plain));
}

function vectorClientBytes(id: string): Uint8Array {
  const v = loadVector("rpc", id);
  const parts = v.messages.filter((m: Json) => m.role === "client->agent").map((
    m: Json,
  ) => fromHex(m.hex));
  const out = new Uint8Array(
    parts.reduce((n: number, p: Uint8Array) => n + p.length, 0),
  );
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Replay the serf CLI's bytes of a vector and check that the first `n`
 * objects we answer have the agent's shapes: same keys, same header Seq
 * and Error.
 */
async function replay(
  addr: string,
  id: string,
  n: number,
  during?: () => void,
): Promise<MsgpackValue[]> {
  const raw = new Raw(addr);
  try {
    raw.send(vectorClientBytes(id));
    during?.();
    const got = await raw.values(n, 8_000);
    const want = vectorAgentObjects(id).slice(0, n);
    got.forEach((g, i) => {
      assert.deepEqual(
        keysOf(g),
        Object.keys(want[i]).sort(),
        `${id} object ${i}`,
      );
      const m = g as Map<string, MsgpackValue>;
      if (m.has("Seq")) {
        assert.equal(m.get("Seq"), want[i].Seq, `${id} object ${i} Seq`);
        assert.equal(m.get("Error"), want[i].Error, `${id} object ${i} Error`);
      }
    });
    return got;
  } finally {
    raw.close();
  }
}

// `stream *`: the two headers, then records; the user event record has the
// keys of serf's (other events, e.g. member-update, may come first).
async function streamReplay(addr: string, agent: Agent): Promise<void> {
  const raw = new Raw(addr);
  try {
    raw.send(vectorClientBytes("rpc-stream"));
    await raw.values(2);
    agent.userEvent("hello", new TextEncoder().encode("world"), false);
    const want = vectorAgentObjects("rpc-stream").find((o) =>
      o.Event === "user"
    );
    const rec = await pollUntil(
      "the user event record",
      () =>
        raw.objects.map((o) => new MsgpackReader(o).value()).find((v) =>
          v instanceof Map && v.get("Event") === "user"
        ),
      { timeoutMs: 5_000 },
    );
    assert.deepEqual(keysOf(rec), Object.keys(want).sort());
    assert.deepEqual(
      (rec as Map<string, MsgpackValue>).get("Payload"),
      new TextEncoder().encode("world"),
    );
  } finally {
    raw.close();
  }
}

test("RPC answers the serf CLI's captured conversations like a Serf agent", {
  timeout: 30_000,
}, async () => {
  const hub = new LogHub();
  await configureAgentLogging(hub, { level: "err", write: () => {} });
  let a;
  try {
    a = await startAgent("s1", "127.0.100.1", 17301, { encryptKey: KEY1 }, hub);
    for (
      const [id, n] of [
        ["rpc-members", 3],
        ["rpc-event", 2],
        ["rpc-event-too-large", 2],
        ["rpc-tags", 2],
        ["rpc-force-leave", 2],
        ["rpc-stats", 3],
        ["rpc-get-coordinate", 5],
      ] as const
    ) {
      await replay(a.addr, id, n).catch((e) => {
        throw new Error(`${id}: ${e.message}`);
      });
    }
    // The keyring conversation in capture order: list, install, use, remove.
    for (
      const id of [
        "rpc-list-keys",
        "rpc-install-key",
        "rpc-use-key",
        "rpc-remove-key",
      ]
    ) {
      const got = await replay(a.addr, id, 3);
      assert.equal((got[2] as Map<string, MsgpackValue>).get("NumErr"), 0, id);
    }
    await streamReplay(a.addr, a.agent);
    const mon = await replay(a.addr, "rpc-monitor-and-stream", 5);
    assert.match(
      String((mon[4] as Map<string, MsgpackValue>).get("Log")),
      /\[INFO\] /,
    );
    // serf query -timeout=3s: the header, then an ack record from us.
    await replay(a.addr, "rpc-query", 4);
    await replay(a.addr, "rpc-leave", 2);
    await pollUntil(
      "the agent to shut down after leave",
      () => a!.agent.isShutdown || undefined,
      {
        timeoutMs: 5_000,
      },
    );
  } finally {
    await stopAll(a);
    await reset();
  }
});

test(
  "RPC client drives every command of our agent",
  { timeout: 30_000 },
  async () => {
    const hub = new LogHub();
    await configureAgentLogging(hub, { level: "err", write: () => {} });
    let a, b;
    const clients: RpcClient[] = [];
    try {
      a = await startAgent("a", "127.0.100.2", 17302, {
        tags: new Map([["role", "web"]]),
      }, hub);
      b = await startAgent("b", "127.0.100.3", 17303, {
        tags: new Map([["role", "db"]]),
      }, hub);
      const ca = await RpcClient.connect(a.addr);
      const cb = await RpcClient.connect(b.addr);
      clients.push(ca, cb);
      assert.equal(await cb.join(["127.0.100.2:7946"], false), 1);
      await pollUntil(
        "a sees b",
        async () => (await ca.members()).length === 2 || undefined,
        {
          timeoutMs: 5_000,
        },
      );
      const filtered = await ca.membersFiltered(
        new Map([["role", "d.*"]]),
        "alive",
        "",
      );
      assert.deepEqual(filtered.map((m) => m.name), ["b"]);
      assert.deepEqual([...filtered[0].addr], [127, 0, 100, 3]);
      await assert.rejects(
        ca.membersFiltered(null, "", "["),
        /Failed to compile regex/,
      );
      // A user event reaches b's event stream.
      const events = await cb.stream("user:deploy");
      await ca.userEvent("deploy", new TextEncoder().encode("v2"), false);
      const first = await events.records.next();
      assert.equal(first.value?.event, "user");
      assert.equal(
        first.value?.event === "user" &&
          new TextDecoder().decode(first.value.payload!),
        "v2",
      );
      await events.stop();
      await assert.rejects(
        ca.userEvent("big", new Uint8Array(600), false),
        /exceeds/,
      );
      // A query answered through b's event stream with `respond`.
      const queries = await cb.stream("query");
      const q = await ca.query({
        name: "uptime",
        payload: null,
        requestAck: true,
        timeoutNs: 1.5e9,
      });
      const qe = await queries.records.next();
      assert.equal(qe.value?.event, "query");
      if (qe.value?.event === "query") {
        await cb.respond(
          qe.value.id,
          new TextEncoder().encode("up 5s"),
        );
      }
      await assert.rejects(
        cb.respond(999, null),
        /No pending queries matching ID/,
      );
      const got = new Map<string, string>();
      const acks = new Set<string>();
      for await (const r of q.records) {
        if (r.type === "ack") acks.add(r.from);
        if (r.type === "response") {
          got.set(
            r.from,
            new TextDecoder().decode(r.payload!),
          );
        }
      }
      assert.deepEqual([...acks].sort(), ["a", "b"]);
      assert.equal(got.get("b"), "up 5s");
      await queries.stop();
      await assert.rejects(
        ca.query({ name: "_serf_x", payload: null }),
        /cannot contain the '_serf_' prefix/,
      );
      // Monitor: the backlog first, filtered by level.
      const mon = await ca.monitor("info");
      const line = await mon.records.next();
      assert.match(line.value ?? "", /\[(INFO|WARN|ERR)\]/);
      await mon.stop();
      await assert.rejects(ca.monitor("loud"), /Unknown log level: LOUD/);
      // Tags, stats, coordinates.
      await ca.updateTags(new Map([["zone", "1"]]), ["role"]);
      assert.deepEqual(Object.fromEntries(a.agent.lan.tags()), { zone: "1" });
      const stats = await ca.stats();
      assert.equal(stats.get("agent")?.get("name"), "a");
      assert.equal(stats.get("serf")?.get("members"), "2");
      assert.equal(stats.get("tags")?.get("zone"), "1");
      await pollUntil(
        "a coordinate for b",
        async () => (await ca.getCoordinate("b")) ?? undefined,
        {
          timeoutMs: 8_000,
        },
      );
      assert.equal(await ca.getCoordinate("nobody"), null);
      // Keys without encryption: Serf's error and per-node messages.
      const k = await ca.keys("list");
      assert.match(k.error, /2\/2 nodes reported failure/);
      assert.equal(
        k.response.messages.get("a"),
        "Keyring is empty (encryption not enabled)",
      );
      await assert.rejects(ca.wanMembers(), /no WAN pool/);
      await ca.forceLeave("nobody");
      // Leave: b answers, then shuts down.
      await cb.leave();
      await pollUntil(
        "b to shut down",
        () => b!.agent.isShutdown || undefined,
        { timeoutMs: 8_000 },
      );
      await pollUntil(
        "a to see b left",
        async () =>
          (await ca.members()).find((m) => m.name === "b")?.status === "left" ||
          undefined,
        {
          timeoutMs: 8_000,
        },
      );
    } finally {
      for (const c of clients) c.close();
      await stopAll(a, b);
      await reset();
    }
  },
);

test("RPC protocol errors: handshake, auth, unknown commands", {
  timeout: 20_000,
}, async () => {
  let a;
  try {
    a = await startAgent("p", "127.0.100.4", 17304, { rpcAuth: "s3cret" });
    // No handshake: "Handshake required", then the agent hangs up.
    const r1 = new Raw(a.addr);
    r1.send(encodeRequest(1, { command: "stats", body: null }));
    const [h1] = await r1.values(1);
    assert.equal(
      (h1 as Map<string, MsgpackValue>).get("Error"),
      "Handshake required",
    );
    await pollUntil("the close", () => r1.closed || undefined, {
      timeoutMs: 5_000,
    });
    // Wrong version, duplicate handshake, commands before auth, a bad token.
    const r2 = new Raw(a.addr);
    r2.send(encodeRequest(1, { command: "handshake", body: { version: 2 } }));
    r2.send(encodeRequest(2, { command: "handshake", body: { version: 1 } }));
    r2.send(encodeRequest(3, { command: "handshake", body: { version: 1 } }));
    r2.send(encodeRequest(4, { command: "members", body: null }));
    r2.send(encodeRequest(5, { command: "auth", body: { authKey: "nope" } }));
    r2.send(encodeRequest(6, { command: "auth", body: { authKey: "s3cret" } }));
    r2.send(
      encodeRequest(7, { command: "stream", body: { type: "member-explode" } }),
    );
    r2.send(encodeRequest(8, { command: "stop", body: { stop: 42 } }));
    const errs = (await r2.values(8)).map((v) =>
      (v as Map<string, MsgpackValue>).get("Error")
    );
    assert.deepEqual(errs, [
      "Unsupported IPC version",
      "",
      "Handshake already performed",
      "Authentication required",
      "Invalid authentication token",
      "",
      "Invalid event filter",
      "",
    ]);
    // An unknown command: "Unsupported command", then the agent hangs up.
    const unknown = encodeRequestHeader({ command: "nope", seq: 9 });
    r2.send(unknown);
    const all = await r2.values(9);
    assert.equal(
      (all[8] as Map<string, MsgpackValue>).get("Error"),
      "Unsupported command",
    );
    await pollUntil("the close", () => r2.closed || undefined, {
      timeoutMs: 5_000,
    });
    r1.close();
    r2.close();
    // Our client: a missing or wrong token fails clearly.
    await assert.rejects(
      RpcClient.connect(a.addr, { authKey: "nope" }),
      (e: unknown) =>
        e instanceof RpcError && /Invalid authentication token/.test(e.message),
    );
    const c = await RpcClient.connect(a.addr, { authKey: "s3cret" });
    assert.equal((await c.members()).length, 1);
    c.close();
    await assert.rejects(
      RpcClient.connect("127.0.100.4:1"),
      /connection refused/,
    );
  } finally {
    await stopAll(a);
  }
});

test("RPC bounds: connections past the cap are closed at once", {
  timeout: 20_000,
}, async () => {
  let a;
  const socks: net.Socket[] = [];
  try {
    a = await startAgent("cap", "127.0.100.5", 17305);
    const open = (): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const s = net.connect({ host: "127.0.100.5", port: 17305 });
        s.once("connect", () => resolve(s));
        s.once("error", reject);
      });
    for (let i = 0; i < MAX_RPC_CLIENTS; i++) socks.push(await open());
    // Every slot is taken once the server has seen them all.
    await pollUntil("the server to count the clients", async () => {
      const extra = await open();
      socks.push(extra);
      const closed = await new Promise<boolean>((resolve) => {
        extra.once("close", () => resolve(true));
        setTimeout(() => resolve(false), 500);
      });
      return closed || undefined;
    }, { timeoutMs: 10_000 });
    for (const s of socks.splice(0)) s.destroy();
    // Slots free up again.
    await pollUntil("a client to be served", async () => {
      try {
        const c = await RpcClient.connect(a!.addr, { timeoutMs: 1000 });
        c.close();
        return true;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 10_000 });
  } finally {
    for (const s of socks) s.destroy();
    await stopAll(a);
  }
});

test(
  "RPC client: a Serf agent's burst of empty acks ends the query, the connection stays usable",
  {
    timeout: 10_000,
  },
  async () => {
    // serf 0.9.4's queryResponseStream reads the closed ack channel until its
    // own timer fires: records with an empty From, then "done".
    const server = net.createServer((sock) => {
      let buf = new Uint8Array(0);
      sock.on("data", (c: Uint8Array) => {
        const b = new Uint8Array(buf.length + c.length);
        b.set(buf);
        b.set(c, buf.length);
        const { objects, rest } = splitMsgpackObjects(b);
        buf = rest.slice();
        for (const o of objects) {
          const v = new MsgpackReader(o).value();
          if (!(v instanceof Map) || !v.has("Command")) continue;
          const seq = v.get("Seq") as number;
          const cmd = v.get("Command");
          if (cmd === "handshake") {
            sock.write(encodeResponse({ error: "", seq }, null));
          }
          if (cmd === "query") {
            const rec = (from: string, type = "ack") =>
              encodeRecordWithHeader(seq, {
                kind: "query",
                record: { type, from, payload: null },
              });
            sock.write(encodeResponse({ error: "", seq }, null));
            sock.write(rec("s1"));
            for (let i = 0; i < 50; i++) sock.write(rec(""));
            sock.write(rec("", "done"));
          }
          if (cmd === "stats") {
            sock.write(encodeResponse({ error: "", seq }, {
              command: "stats",
              body: new Map([["agent", new Map([["name", "fake"]])]]),
            }));
          }
        }
      });
    });
    await new Promise<void>((r) =>
      server.listen(17306, "127.0.100.6", () => r())
    );
    const c = await RpcClient.connect("127.0.100.6:17306");
    try {
      const q = await c.query({ name: "x", payload: null, requestAck: true });
      const got: string[] = [];
      for await (const r of q.records) got.push(`${r.type}:${r.from}`);
      assert.deepEqual(got, ["ack:s1"]);
      // Every record of the burst is skipped whole: the next answer parses.
      const stats = await c.stats();
      assert.equal(stats.get("agent")?.get("name"), "fake");
    } finally {
      c.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  },
);
