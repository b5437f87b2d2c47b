/**
 * Live Serf-layer interop: mixed clusters of real `serf agent`s (Debian's serf 0.9.4 on memberlist
 * 0.2.2) and our in-process {@linkcode SerfNode}s on loopback, driven through serf's CLI on one
 * side and our public API on the other (issue #5).
 *
 * Each test builds its own cluster of at least two agents and two of ours and proves one Serf
 * feature works in both directions:
 *
 * | test | serf → ours | ours → serf |
 * |---|---|---|
 * | tags | `serf members -tag`, `serf tags -set/-delete` seen in our `members()` | `startSerf({tags})`, `setTags` seen by `serf members -tag` |
 * | user events | `serf event` (coalesced or not) in our `events()` | `userEvent` runs serf's `user:<name>` handler (env + stdin) |
 * | queries | `serf query` (acks, node and tag filters, relay factor) answered by our `respond` | our `query` answered by serf's `query:<name>` handler, same options |
 * | leave | `serf force-leave` of our killed member → left for us | our `leave` → left for serf; our `forceLeave` of a killed agent → left for serf |
 * | keys | `serf keys -install/-use/-remove` change our keyring | our `installKey/useKey/removeKey/listKeys` change serf's (`serf keys -list`) |
 * | rtt | `serf rtt <agent> <ours>` | our `estimateRttMs(<agent>)` |
 * | conflict | a serf agent reusing our name loses the vote and quits | our member reusing an agent's name loses the vote and shuts down |
 *
 * All members use the `lan` profile (the agent's default), and test queries pass a 1.5 s timeout
 * instead of the 3.2 s default. Not `local`: its RetransmitMult of 2 lets each holder send a
 * broadcast only twice (memberlist counts transmits per target node, not per gossip round), so in
 * a 4-member cluster a query or user event misses a given member about once in 25 tries, in real
 * serf as in ours.
 *
 * Every test has its own /24 (127.0.90.x, 127.0.92.x … 127.0.97.x; 127.0.91.x is the benchmark's),
 * every member uses port 7946 and every agent's RPC 7373 on its own address, so tests and files
 * may run concurrently. Conditions are polled with deadlines; every child and member is released
 * in `finally`.
 *
 * @module
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type QueryEvent,
  type QueryParams,
  type SerfEvent,
  type SerfNode,
  startSerf,
} from "../../mod.ts";
import type { TransportFactory } from "../../src/transport.ts";
import { defaultTransport } from "../../transports/mod.ts";
import { DEFAULT_UNWRAP_LIMITS, unwrapPacket } from "../../src/codec/packet.ts";
import { MessageType } from "../../src/codec/messages.ts";
import { SerfMessageType } from "../../src/codec/serf_messages.ts";
import {
  pollUntil,
  type SerfAgent,
  serfSkipReason,
  startSerfAgent,
} from "./serf_harness.ts";

const SKIP = serfSkipReason();
if (SKIP) console.warn(SKIP);

/** Whole-test budget (each test takes 2–15 s on a quiet machine). */
const TEST_TIMEOUT_MS = 45_000;
/** Deadline for one awaited condition. */
const STEP_MS = 10_000;
/** Deadline for a failure to be detected (lan profile: 1 s probes, suspicion ≥ 4 s). */
const FAILURE_MS = 20_000;
/**
 * Timeout of the test queries: the lan default would be 3.2 s (SPEC §8.7); gossip (200 ms rounds)
 * and serf's handler scripts answer well within this.
 */
const QUERY_TIMEOUT_MS = 1_500;
/** memberlist port of every member, on its own address. */
const GOSSIP_PORT = 7946;
/** RPC port of every agent, on its own address. */
const RPC_PORT = 7373;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A member as `serf members -format=json` prints it. */
interface CliMember {
  name: string;
  addr: string;
  port: number;
  tags: Record<string, string>;
  status: string;
}

/** What `serf query -format=json` prints. */
interface CliQuery {
  acks: string[];
  responses: Map<string, string>;
}

/** What our `query()` yielded. */
interface OurQuery {
  acks: string[];
  responses: Map<string, string>;
  /** Names seen twice (must stay empty: the originator drops duplicates per member). */
  duplicates: string[];
}

/** Every event one of our members emitted, collected in the background; answers queries. */
class Watch {
  readonly events: SerfEvent[] = [];
  readonly done: Promise<void>;

  constructor(
    node: SerfNode,
    answer?: (q: QueryEvent) => Uint8Array | null | undefined,
  ) {
    this.done = (async () => {
      for await (const e of node.events()) {
        this.events.push(e);
        if (e.type !== "query" || answer === undefined) continue;
        const payload = answer(e);
        if (payload === undefined) continue;
        try {
          node.respond(e.id, payload);
        } catch {
          // Past its deadline, or we were shut down: the querier's assertion will say.
        }
      }
    })();
  }

  /** Wait for the first event matching `pred`. */
  waitFor<T extends SerfEvent>(
    what: string,
    pred: (e: SerfEvent) => e is T,
    timeoutMs = STEP_MS,
  ): Promise<T> {
    return pollUntil(what, () => this.events.find(pred), { timeoutMs });
  }
}

/** One test's mixed cluster; {@linkcode Mixed.close} releases everything. */
class Mixed {
  readonly agents = new Map<string, SerfAgent>();
  readonly ours = new Map<string, SerfNode>();
  readonly watches = new Map<string, Watch>();
  readonly dir: string = mkdtempSync(join(tmpdir(), "grapevine-serf-layer-"));
  readonly #block: number;
  readonly #key: string | undefined;
  #seed: string | undefined;

  constructor(block: number, key?: string) {
    this.#block = block;
    this.#key = key;
  }

  host(i: number): string {
    return `127.0.${this.#block}.${i}`;
  }

  addr(i: number): string {
    return `${this.host(i)}:${GOSSIP_PORT}`;
  }

  /** Start a serf agent at `.i`; all but the first join the first. */
  async agent(
    name: string,
    i: number,
    args: readonly string[] = [],
    joinTo: string | undefined = this.#seed,
  ): Promise<SerfAgent> {
    const a = await startSerfAgent({
      name,
      bind: { host: this.host(i), port: GOSSIP_PORT },
      rpc: { host: this.host(i), port: RPC_PORT },
      encryptKey: this.#key,
      extraArgs: [
        "-profile=lan",
        ...(joinTo === undefined ? [] : [`-join=${joinTo}`]),
        ...args,
      ],
    });
    this.agents.set(`${name}@${i}`, a);
    this.#seed ??= this.addr(i);
    return a;
  }

  /** Start one of ours at `.i` and join the first agent. */
  async our(
    name: string,
    i: number,
    options: {
      tags?: Record<string, string>;
      answer?: (q: QueryEvent) => Uint8Array | null | undefined;
      transport?: TransportFactory;
      join?: boolean;
    } = {},
  ): Promise<SerfNode> {
    const node = await startSerf({
      name,
      bind: this.addr(i),
      profile: "lan",
      tags: options.tags,
      keys: this.#key === undefined ? undefined : [this.#key],
      transport: options.transport,
    });
    this.ours.set(`${name}@${i}`, node);
    this.watches.set(`${name}@${i}`, new Watch(node, options.answer));
    if (options.join !== false && this.#seed !== undefined) {
      assert.equal(await node.join([this.#seed]), 1);
    }
    return node;
  }

  /** Wait until every running member (ours and serf's) sees `names` alive. */
  async converge(names: readonly string[]): Promise<void> {
    const want = [...names].sort().join(",");
    for (const node of this.ours.values()) {
      if (node.machine.state() === "shutdown") continue;
      await pollUntil(
        `${node.localMember().name} to see ${want} alive`,
        () => aliveNames(node) === want ? true : undefined,
        { timeoutMs: STEP_MS },
      );
    }
    for (const a of this.agents.values()) {
      if (a.exited) continue;
      await pollUntil(`${a.options.name} to see ${want} alive`, async () => {
        const ms = await serfMembers(a);
        const alive = ms.filter((m) => m.status === "alive").map((m) => m.name);
        return alive.sort().join(",") === want ? true : undefined;
      }, { timeoutMs: STEP_MS });
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.ours.values()].map((n) => n.shutdown()));
    await Promise.allSettled([...this.watches.values()].map((w) => w.done));
    await Promise.allSettled([...this.agents.values()].map((a) => a.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Write an executable shell script into the test's temp dir. */
  script(name: string, body: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }
}

function aliveNames(node: SerfNode): string {
  return node.members().filter((m) => m.status === "alive").map((m) => m.name)
    .sort().join(",");
}

async function serfMembers(
  a: SerfAgent,
  args: readonly string[] = [],
): Promise<CliMember[]> {
  const r = await a.cli("members", ["-format=json", ...args]);
  assert.equal(r.code, 0, `serf members failed: ${r.stdout}${r.stderr}`);
  // serf prints `"members": null` when the filter matches nobody.
  return (JSON.parse(r.stdout) as { members: CliMember[] | null }).members ??
    [];
}

async function serfQuery(
  a: SerfAgent,
  name: string,
  payload: string,
  args: readonly string[] = [],
): Promise<CliQuery> {
  const r = await a.cli("query", [
    "-format=json",
    `-timeout=${QUERY_TIMEOUT_MS}ms`,
    ...args,
    name,
    payload,
  ]);
  assert.equal(r.code, 0, `serf query failed: ${r.stdout}${r.stderr}`);
  const out = JSON.parse(r.stdout) as {
    Acks: string[] | null;
    Responses: Record<string, string> | null;
  };
  return {
    acks: [...out.Acks ?? []].sort(),
    responses: new Map(Object.entries(out.Responses ?? {})),
  };
}

async function ourQuery(
  node: SerfNode,
  name: string,
  payload: string,
  params: QueryParams = {},
): Promise<OurQuery> {
  const out: OurQuery = { acks: [], responses: new Map(), duplicates: [] };
  const it = node.query(name, enc.encode(payload), {
    timeoutMs: QUERY_TIMEOUT_MS,
    ...params,
  });
  for await (const r of it) {
    if (r.type === "ack") {
      if (out.acks.includes(r.from)) out.duplicates.push(`ack ${r.from}`);
      out.acks.push(r.from);
    } else {
      if (out.responses.has(r.from)) out.duplicates.push(`response ${r.from}`);
      out.responses.set(
        r.from,
        r.payload === null ? "" : dec.decode(r.payload),
      );
    }
  }
  out.acks.sort();
  return out;
}

/** `serf keys -list`: key → [holders, total]. */
async function serfKeys(a: SerfAgent): Promise<Map<string, [number, number]>> {
  const r = await a.cli("keys", ["-list"]);
  assert.equal(r.code, 0, `serf keys -list failed: ${r.stdout}${r.stderr}`);
  const keys = new Map<string, [number, number]>();
  for (const line of r.stdout.split("\n")) {
    const m = /^(\S+=)\s+\[(\d+)\/(\d+)\]\s*$/.exec(line.trim());
    if (m !== null) keys.set(m[1], [Number(m[2]), Number(m[3])]);
  }
  return keys;
}

function newKey(): string {
  return randomBytes(32).toString("base64");
}

function sorted(xs: Iterable<string>): string[] {
  return [...xs].sort();
}

/**
 * Counts the Serf relay messages (`0x08 0x09 …`) a member receives from `count.from` hosts, by
 * peeling its packets.
 */
function relaySpy(
  count: { relays: number; from: ReadonlySet<string> },
): TransportFactory {
  return (opts) =>
    defaultTransport({
      ...opts,
      handlers: {
        packet(bytes, from): void {
          const u = unwrapPacket(bytes, DEFAULT_UNWRAP_LIMITS, () => {});
          for (const m of u.messages) {
            const relay = m[0] === MessageType.user &&
              m[1] === SerfMessageType.relay;
            if (relay && count.from.has(from.host)) count.relays++;
          }
          opts.handlers.packet(bytes, from);
        },
        stream: (conn) => opts.handlers.stream(conn),
      },
    });
}

test("tags: set on either side are seen by the other", {
  skip: SKIP,
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  const c = new Mixed(90);
  try {
    const s1 = await c.agent("s1", 1, ["-tag", "role=db", "-tag", "dc=east"]);
    const s2 = await c.agent("s2", 2);
    const o1 = await c.our("o1", 3, { tags: { role: "web", dc: "west" } });
    const o2 = await c.our("o2", 4);
    await c.converge(["s1", "s2", "o1", "o2"]);

    // Our start tags reach serf: `serf members -tag role=web` lists exactly ours.
    const web = await serfMembers(s2, ["-tag", "role=web"]);
    assert.deepEqual(web.map((m) => m.name), ["o1"]);
    assert.deepEqual(web[0].tags, { role: "web", dc: "west" });
    assert.equal(web[0].addr, c.addr(3));

    // serf's start tags reach us.
    const s1Seen = o2.members().find((m) => m.name === "s1");
    assert.deepEqual(Object.fromEntries(s1Seen?.tags ?? []), {
      role: "db",
      dc: "east",
    });

    // `serf tags -set/-delete` is an update (alive with a higher incarnation) we apply.
    const r = await s2.cli("tags", ["-set", "zone=a", "-set", "rack=7"]);
    assert.equal(r.code, 0, r.stderr);
    for (const node of c.ours.values()) {
      await pollUntil("s2's new tags on our side", () => {
        const t = node.members().find((m) => m.name === "s2")?.tags;
        return t?.get("zone") === "a" && t.get("rack") === "7"
          ? true
          : undefined;
      }, { timeoutMs: STEP_MS });
    }
    assert.equal((await s1.cli("tags", ["-delete", "dc"])).code, 0);
    await pollUntil("s1's dc tag deleted on our side", () => {
      const t = o1.members().find((m) => m.name === "s1")?.tags;
      return t !== undefined && !t.has("dc") && t.get("role") === "db"
        ? true
        : undefined;
    }, { timeoutMs: STEP_MS });
    await c.watches.get("o1@3")!.waitFor(
      "a memberUpdate for s1 on o1",
      (e): e is SerfEvent =>
        e.type === "memberUpdate" && e.members.some((m) => m.name === "s1"),
    );

    // Our setTags reaches both agents.
    o2.setTags({ role: "cache", zone: "b" });
    assert.deepEqual(Object.fromEntries(o2.tags()), {
      role: "cache",
      zone: "b",
    });
    for (const a of [s1, s2]) {
      await pollUntil(
        `${a.options.name} to list o2 with role=cache`,
        async () => {
          const ms = await serfMembers(a, [
            "-tag",
            "role=cache",
            "-tag",
            "zone=b",
          ]);
          return ms.length === 1 && ms[0].name === "o2" ? ms[0] : undefined;
        },
        { timeoutMs: STEP_MS },
      );
    }
    // Tag filters are anchored regexps on serf's side.
    const byRegexp = await serfMembers(s1, ["-tag", "role=web|cache"]);
    assert.deepEqual(sorted(byRegexp.map((m) => m.name)), ["o1", "o2"]);
    // And the other of ours sees o2's tags too (our update travelled through the mixed cluster).
    await pollUntil("o1 to see o2's new tags", () => {
      const t = o1.members().find((m) => m.name === "o2")?.tags;
      return t?.get("role") === "cache" ? true : undefined;
    }, { timeoutMs: STEP_MS });
  } finally {
    await c.close();
  }
});

test(
  "user events: `serf event` reaches ours; our userEvent runs serf's handler",
  {
    skip: SKIP,
    timeout: TEST_TIMEOUT_MS,
  },
  async () => {
    const c = new Mixed(92);
    try {
      // The handler appends one line per event: serf's env and the payload from stdin.
      const handler = c.script(
        "user_handler.sh",
        'p=$(cat); printf "event=%s name=%s self=%s payload=%s\\n" ' +
          '"$SERF_EVENT" "$SERF_USER_EVENT" "$SERF_SELF_NAME" "$p" >> "$1"',
      );
      const logs = [join(c.dir, "s1.log"), join(c.dir, "s2.log")];
      const s1 = await c.agent("s1", 1, [
        `-event-handler=user:deploy=${handler} ${logs[0]}`,
      ]);
      await c.agent("s2", 2, [
        `-event-handler=user:deploy=${handler} ${logs[1]}`,
      ]);
      await c.our("o1", 3);
      const o2 = await c.our("o2", 4);
      await c.converge(["s1", "s2", "o1", "o2"]);

      // serf → ours, not coalescable: delivered at once with its payload and CC flag.
      const r = await s1.cli("event", [
        "-coalesce=false",
        "greet",
        "hello from serf",
      ]);
      assert.equal(r.code, 0, r.stderr);
      for (const w of c.watches.values()) {
        const e = await w.waitFor(
          "the greet user event",
          (e): e is Extract<SerfEvent, { type: "user" }> =>
            e.type === "user" && e.name === "greet",
        );
        assert.equal(
          dec.decode(e.payload ?? new Uint8Array()),
          "hello from serf",
        );
        assert.equal(e.coalesce, false);
      }
      // serf → ours, coalescable (the CLI's default): our agent-style coalescer still delivers it.
      assert.equal((await s1.cli("event", ["batch", "b1"])).code, 0);
      const batch = await c.watches.get("o2@4")!.waitFor(
        "the coalesced batch event",
        (e): e is Extract<SerfEvent, { type: "user" }> =>
          e.type === "user" && e.name === "batch",
      );
      assert.equal(dec.decode(batch.payload ?? new Uint8Array()), "b1");
      assert.equal(batch.coalesce, true);

      // ours → serf: both agents run the user:deploy handler with the env and the payload.
      o2.userEvent("deploy", enc.encode("v2-from-ours"), false);
      for (const [i, log] of logs.entries()) {
        const line = await pollUntil(`the deploy handler on s${i + 1}`, () => {
          try {
            return readFileSync(log, "utf8").split("\n").find((l) =>
              l.includes("v2-from-ours")
            );
          } catch {
            return undefined;
          }
        }, { timeoutMs: STEP_MS });
        assert.equal(
          line,
          `event=user name=deploy self=s${i + 1} payload=v2-from-ours`,
        );
      }
      // Our own members get it too (the originator delivers locally, the other via gossip).
      for (const w of c.watches.values()) {
        await w.waitFor(
          "our deploy event",
          (e): e is SerfEvent => e.type === "user" && e.name === "deploy",
        );
      }
      // A name the handler does not subscribe to does not run it.
      o2.userEvent("other", enc.encode("not-for-deploy"), false);
      await c.watches.get("o1@3")!.waitFor(
        "the other event on o1",
        (e): e is SerfEvent => e.type === "user" && e.name === "other",
      );
      for (const log of logs) {
        assert.equal(
          readFileSync(log, "utf8").includes("not-for-deploy"),
          false,
        );
      }
    } finally {
      await c.close();
    }
  },
);

test(
  "queries: serf's answered by ours and ours by serf (ack, node/tag filters, relays)",
  {
    skip: SKIP,
    timeout: TEST_TIMEOUT_MS,
  },
  async () => {
    const c = new Mixed(93);
    try {
      const echo = c.script(
        "echo.sh",
        'p=$(cat); printf "serf-%s:%s" "$SERF_SELF_NAME" "$p"',
      );
      const args = (role: string): string[] => [
        "-tag",
        `role=${role}`,
        `-event-handler=query:ping=${echo}`,
      ];
      const s1 = await c.agent("s1", 1, args("db"));
      const s2 = await c.agent("s2", 2, args("api"));
      // Relays that reach ours from the agents' addresses.
      const spied = { relays: 0, from: new Set([c.host(1), c.host(2)]) };
      const answer = (q: QueryEvent): Uint8Array | undefined =>
        q.name === "ping"
          ? enc.encode(
            `ours-${q.name}:${dec.decode(q.payload ?? new Uint8Array())}`,
          )
          : undefined;
      const o1 = await c.our("o1", 3, {
        tags: { role: "web" },
        answer,
        transport: relaySpy(spied),
      });
      const o2 = await c.our("o2", 4, {
        tags: { role: "web" },
        answer,
        transport: relaySpy(spied),
      });
      const all = ["o1", "o2", "s1", "s2"];
      await c.converge(all);

      const serfAll = (who: string[], payload: string): Map<string, string> =>
        new Map(
          who.map((
            n,
          ) => [
            n,
            n.startsWith("s") ? `serf-${n}:${payload}` : `ours-ping:${payload}`,
          ]),
        );

      // 1. No filter: serf's query (acks on by the CLI's default) vs ours with requestAck.
      const [sq, oq] = await Promise.all([
        serfQuery(s1, "ping", "p1"),
        ourQuery(o1, "ping", "p1", { requestAck: true }),
      ]);
      assert.deepEqual(sq.acks, all);
      assert.deepEqual(new Map([...sq.responses].sort()), serfAll(all, "p1"));
      assert.deepEqual(oq.acks, all);
      assert.deepEqual(new Map([...oq.responses].sort()), serfAll(all, "p1"));
      assert.deepEqual(oq.duplicates, []);

      // 2. Node filter: only the named members process it (mixed: one of each side).
      const [sqn, oqn] = await Promise.all([
        serfQuery(s2, "ping", "p2", ["-node=o2", "-node=s1"]),
        ourQuery(o2, "ping", "p2", {
          requestAck: true,
          filterNodes: ["o1", "s2"],
        }),
      ]);
      assert.deepEqual(sqn.acks, ["o2", "s1"]);
      assert.deepEqual(
        new Map([...sqn.responses].sort()),
        serfAll(["o2", "s1"], "p2"),
      );
      assert.deepEqual(oqn.acks, ["o1", "s2"]);
      assert.deepEqual(
        new Map([...oqn.responses].sort()),
        serfAll(["o1", "s2"], "p2"),
      );

      // 3. Tag filter (an unanchored Go regexp): serf picks ours by tag, we pick serf's.
      const [sqt, oqt] = await Promise.all([
        serfQuery(s1, "ping", "p3", ["-tag", "role=^we"]),
        ourQuery(o1, "ping", "p3", {
          requestAck: true,
          filterTags: new Map([["role", "db|api"]]),
        }),
      ]);
      assert.deepEqual(sqt.acks, ["o1", "o2"]);
      assert.deepEqual(
        new Map([...sqt.responses].sort()),
        serfAll(["o1", "o2"], "p3"),
      );
      assert.deepEqual(oqt.acks, ["s1", "s2"]);
      assert.deepEqual(
        new Map([...oqt.responses].sort()),
        serfAll(["s1", "s2"], "p3"),
      );
      // Without an ack request nobody acks, responses still come.
      const noAck = await ourQuery(o1, "ping", "p4", {
        filterTags: new Map([["role", "^db$"]]),
      });
      assert.deepEqual(noAck.acks, []);
      assert.deepEqual([...noAck.responses.keys()], ["s1"]);

      // 4. Relay factor 2. serf's query: each of ours sends its ack and response directly and through
      //    2 of its 3 peers, at least one of them an agent, which logs the relay. Ours: each agent
      //    relays through 2 of its 3 peers, at least one of them ours, which our spy counts.
      const relayLogs = (to: string): number =>
        [...c.agents.values()].reduce(
          (n, a) =>
            n +
            a.logLines.filter((l) =>
              l.includes(`Relaying response to addr: ${to}`)
            ).length,
          0,
        );
      assert.equal(relayLogs(c.addr(1)), 0);
      spied.relays = 0;
      const [sqr, oqr] = await Promise.all([
        serfQuery(s1, "ping", "p5", ["-relay-factor=2", "-tag", "role=web"]),
        ourQuery(o1, "ping", "p5", {
          requestAck: true,
          relayFactor: 2,
          filterTags: new Map([["role", "db|api"]]),
        }),
      ]);
      assert.deepEqual(sqr.acks, ["o1", "o2"]);
      assert.deepEqual(
        new Map([...sqr.responses].sort()),
        serfAll(["o1", "o2"], "p5"),
      );
      assert.deepEqual(oqr.acks, ["s1", "s2"]);
      assert.deepEqual(
        new Map([...oqr.responses].sort()),
        serfAll(["s1", "s2"], "p5"),
      );
      assert.deepEqual(oqr.duplicates, []);
      // Only ours answered s1's query, so relays to s1 that serf logged carry our responses.
      assert.ok(
        relayLogs(c.addr(1)) >= 1,
        "serf relayed none of our responses to s1",
      );
      assert.ok(spied.relays >= 1, "none of ours received a relay from serf");
      for (const node of c.ours.values()) {
        const st = node.stats();
        assert.equal(
          st.decodeErrors.size,
          0,
          `decode errors: ${[...st.decodeErrors]}`,
        );
      }
    } finally {
      await c.close();
    }
  },
);

test("leave: graceful and forced, in both directions", {
  skip: SKIP,
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  const c = new Mixed(94);
  try {
    const s1 = await c.agent("s1", 1);
    const s2 = await c.agent("s2", 2);
    const o1 = await c.our("o1", 3);
    const o2 = await c.our("o2", 4);
    const o3 = await c.our("o3", 5);
    await c.converge(["s1", "s2", "o1", "o2", "o3"]);
    const statusOn = async (
      a: SerfAgent,
      name: string,
    ): Promise<string | undefined> =>
      (await serfMembers(a)).find((m) => m.name === name)?.status;

    // 1. Our graceful leave: serf sees "left" (the leave intent, then memberlist's dead-by-self).
    await o1.leave();
    await o1.shutdown();
    for (const a of [s1, s2]) {
      await pollUntil(
        `${a.options.name} to see o1 left`,
        async () => await statusOn(a, "o1") === "left" ? true : undefined,
        { timeoutMs: STEP_MS },
      );
    }
    await pollUntil(
      "o3 to see o1 left",
      () => o3.memberStatus("o1") === "left" ? true : undefined,
      {
        timeoutMs: STEP_MS,
      },
    );
    await c.watches.get("o3@5")!.waitFor(
      "a memberLeave for o1 on o3",
      (e): e is SerfEvent =>
        e.type === "memberLeave" && e.members.some((m) => m.name === "o1"),
    );

    // 2. One of ours dies without leaving; serf sees it failed; `serf force-leave` → left for us.
    await o2.shutdown();
    await pollUntil(
      "s1 to see o2 failed",
      async () => await statusOn(s1, "o2") === "failed" ? true : undefined,
      { timeoutMs: FAILURE_MS, intervalMs: 200 },
    );
    const fl = await s1.cli("force-leave", ["o2"]);
    assert.equal(fl.code, 0, fl.stderr);
    await pollUntil(
      "o3 to see o2 left",
      () => o3.memberStatus("o2") === "left" ? true : undefined,
      {
        timeoutMs: STEP_MS,
      },
    );
    await pollUntil(
      "s2 to see o2 left",
      async () => await statusOn(s2, "o2") === "left" ? true : undefined,
      { timeoutMs: STEP_MS },
    );

    // 3. An agent dies (SIGKILL, no leave); we see it failed; our forceLeave → left for serf.
    await s2.stop();
    await pollUntil(
      "o3 to see s2 failed",
      () => o3.memberStatus("s2") === "failed" ? true : undefined,
      {
        timeoutMs: FAILURE_MS,
        intervalMs: 200,
      },
    );
    // Only o3 and s1 are alive now, and o3 still gossips to the dead s2 (GossipToTheDeadTime):
    // the intent must reach s1 on packets sent right after packets to a closed port.
    await o3.forceLeave("s2");
    await pollUntil(
      "s1 to see s2 left",
      async () => await statusOn(s1, "s2") === "left" ? true : undefined,
      { timeoutMs: STEP_MS },
    ).catch((e: Error) => {
      const about = s1.logLines.filter((l) => l.includes("s2")).slice(-12);
      throw new Error(
        `${e.message}; s1's last log lines about s2:\n${about.join("\n")}`,
      );
    });
    assert.equal(o3.memberStatus("s2"), "left");
    // The survivors still agree on who is alive.
    await c.converge(["s1", "o3"]);
  } finally {
    await c.close();
  }
});

test(
  "keys: serf's key commands and ours rotate the keyring across the mixed cluster",
  {
    skip: SKIP,
    timeout: TEST_TIMEOUT_MS,
  },
  async () => {
    const k1 = newKey();
    const c = new Mixed(95, k1);
    try {
      const echo = c.script(
        "echo.sh",
        'p=$(cat); printf "serf-%s:%s" "$SERF_SELF_NAME" "$p"',
      );
      const s1 = await c.agent("s1", 1, [`-event-handler=query:ping=${echo}`]);
      const s2 = await c.agent("s2", 2, [`-event-handler=query:ping=${echo}`]);
      const answer = (q: QueryEvent): Uint8Array | undefined =>
        q.name === "ping" ? enc.encode("ours") : undefined;
      const o1 = await c.our("o1", 3, { answer });
      const o2 = await c.our("o2", 4, { answer });
      const all = ["o1", "o2", "s1", "s2"];
      await c.converge(all);

      /** Traffic still flows: a query each way is answered by every member. */
      const traffic = async (tag: string): Promise<void> => {
        const [sq, oq] = await Promise.all([
          serfQuery(s2, "ping", tag),
          ourQuery(o2, "ping", tag, { requestAck: true }),
        ]);
        assert.deepEqual(
          sorted(sq.responses.keys()),
          all,
          `serf's query after ${tag}`,
        );
        assert.deepEqual(
          sorted(oq.responses.keys()),
          all,
          `our query after ${tag}`,
        );
      };
      const ourList = async (
        want: Record<string, number>,
        primary: string,
      ): Promise<void> => {
        const l = await o1.listKeys();
        assert.equal(l.error, null, `listKeys: ${l.error}`);
        assert.equal(l.numNodes, 4);
        assert.equal(l.numResp, 4);
        assert.deepEqual(Object.fromEntries(l.keys), want);
        assert.deepEqual(Object.fromEntries(l.primaryKeys), { [primary]: 4 });
      };
      const serfList = async (want: string[]): Promise<void> => {
        const keys = await serfKeys(s1);
        assert.deepEqual(sorted(keys.keys()), sorted(want));
        for (const [k, v] of keys) {
          assert.deepEqual(
            v,
            [4, 4],
            `serf keys -list: ${k}`,
          );
        }
      };

      // 1. serf's commands, checked with our listKeys.
      const k2 = newKey();
      const inst = await s1.cli("keys", ["-install", k2]);
      assert.equal(inst.code, 0, inst.stdout + inst.stderr);
      await ourList({ [k1]: 4, [k2]: 4 }, k1);
      const use = await s2.cli("keys", ["-use", k2]);
      assert.equal(use.code, 0, use.stdout + use.stderr);
      await ourList({ [k1]: 4, [k2]: 4 }, k2);
      const rm = await s1.cli("keys", ["-remove", k1]);
      assert.equal(rm.code, 0, rm.stdout + rm.stderr);
      await ourList({ [k2]: 4 }, k2);
      await traffic("after-serf-rotation");

      // 2. Our commands, checked with `serf keys -list`.
      const k3 = newKey();
      const i3 = await o1.installKey(k3);
      assert.equal(i3.error, null, `installKey: ${i3.error}`);
      assert.deepEqual([i3.numNodes, i3.numResp, i3.numErr], [4, 4, 0]);
      await serfList([k2, k3]);
      const u3 = await o2.useKey(k3);
      assert.equal(u3.error, null, `useKey: ${u3.error}`);
      assert.deepEqual([u3.numNodes, u3.numResp, u3.numErr], [4, 4, 0]);
      // Serf refuses to remove the primary key: on every member, ours and serf's alike.
      const bad = await o1.removeKey(k3);
      assert.deepEqual([bad.numNodes, bad.numResp, bad.numErr], [4, 4, 4]);
      assert.equal(
        bad.messages.get("s1"),
        "Removing the primary key is not allowed",
      );
      assert.equal(
        bad.messages.get("o2"),
        "Removing the primary key is not allowed",
      );
      const r2 = await o1.removeKey(k2);
      assert.equal(r2.error, null, `removeKey: ${r2.error}`);
      assert.deepEqual([r2.numNodes, r2.numResp, r2.numErr], [4, 4, 0]);
      await serfList([k3]);
      await ourList({ [k3]: 4 }, k3);
      await traffic("after-our-rotation");
      // The same refusal through serf's CLI (exit 1, every member reports the error).
      const serfBad = await s1.cli("keys", ["-remove", k3]);
      assert.equal(serfBad.code, 1);
      assert.match(
        serfBad.stdout + serfBad.stderr,
        /failed:\s+o1\s+Removing the primary key is not allowed/,
      );
    } finally {
      await c.close();
    }
  },
);

test("rtt: serf estimates the round trip to ours, and we to serf's", {
  skip: SKIP,
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  const c = new Mixed(96);
  try {
    const s1 = await c.agent("s1", 1);
    await c.agent("s2", 2);
    const o1 = await c.our("o1", 3);
    await c.our("o2", 4);
    await c.converge(["s1", "s2", "o1", "o2"]);

    // serf caches our coordinate once it has probed us (our acks carry it, SPEC §8.10).
    const parse = (out: string): number | undefined => {
      const m = /rtt: ([0-9.]+) ms/.exec(out);
      return m === null ? undefined : Number(m[1]);
    };
    for (const [a, b] of [["s1", "o1"], ["o1", "o2"]]) {
      const ms = await pollUntil(`serf rtt ${a} ${b}`, async () => {
        const r = await s1.cli("rtt", [a, b]);
        return r.code === 0 ? parse(r.stdout) : undefined;
      }, { timeoutMs: STEP_MS, intervalMs: 200 });
      assert.ok(ms > 0 && ms < 1000, `serf rtt ${a} ${b} = ${ms} ms`);
    }
    // We cache serf's coordinate from its acks and move our own (Vivaldi updated: error < 1.5).
    const ours = await pollUntil(
      "o1 to have s1's coordinate and a moved coordinate of its own",
      () => {
        const own = o1.coordinate();
        const rtt = o1.estimateRttMs("s1");
        return own !== null && own.error < 1.5 && rtt !== null
          ? rtt
          : undefined;
      },
      { timeoutMs: STEP_MS, intervalMs: 200 },
    );
    assert.ok(ours > 0 && ours < 1000, `o1 → s1 = ${ours} ms`);
    const between = await pollUntil(
      "o1 to estimate s1 ↔ s2",
      () => o1.estimateRttMs("s1", "s2") ?? undefined,
      { timeoutMs: STEP_MS, intervalMs: 200 },
    );
    assert.ok(between > 0 && between < 1000, `s1 ↔ s2 on o1 = ${between} ms`);
    assert.notEqual(o1.cachedCoordinate("s2"), null);
  } finally {
    await c.close();
  }
});

test(
  "name conflict: the newcomer is the minority and shuts down, on either side",
  {
    skip: SKIP,
    timeout: TEST_TIMEOUT_MS,
  },
  async () => {
    const c = new Mixed(97);
    try {
      const s1 = await c.agent("s1", 1);
      await c.agent("s2", 2);
      const o1 = await c.our("o1", 3);
      const o2 = await c.our("o2", 4);
      await c.converge(["s1", "s2", "o1", "o2"]);

      // 1. Ours claims "s2" from another address: it runs the _serf_conflict vote, loses it 0/3
      //    (s1, o1, o2 know s2 at .2) and shuts down. serf logs the conflict it saw.
      const dup = await c.our("s2", 10);
      const w = c.watches.get("s2@10")!;
      const conflict = await w.waitFor(
        "our newcomer's conflict event",
        (e): e is Extract<SerfEvent, { type: "conflict" }> =>
          e.type === "conflict",
      );
      assert.equal(conflict.name, "s2");
      assert.equal(conflict.resolving, true);
      assert.equal(conflict.existing.host, c.host(10));
      assert.equal(conflict.other.host, c.host(2));
      const down = await w.waitFor(
        "our newcomer's shutdown",
        (e): e is Extract<SerfEvent, { type: "shutdown" }> =>
          e.type === "shutdown",
      );
      assert.equal(down.reason, "nameConflict");
      await s1.waitForLog(
        /Name conflict for 's2'|Conflicting address for s2/,
        STEP_MS,
      );
      await dup.shutdown();
      const s2View = (await serfMembers(s1)).find((m) => m.name === "s2");
      assert.equal(s2View?.addr, c.addr(2));
      assert.equal(s2View?.status, "alive");
      assert.deepEqual(o1.members().find((m) => m.name === "s2")?.addr, {
        host: c.host(2),
        port: GOSSIP_PORT,
      });

      // 2. An agent claims "o1" from another address: serf runs the vote, loses it (s1, s2 and o2
      //    answer with o1 at .3) and quits; our o1 stays.
      const impostor = await c.agent("o1", 11);
      await impostor.waitForLog(
        /minority in name conflict resolution/,
        STEP_MS,
      );
      await pollUntil(
        "the impostor agent to quit",
        () => impostor.exited ? true : undefined,
        {
          timeoutMs: STEP_MS,
        },
      );
      assert.equal(o1.machine.state(), "alive");
      await c.converge(["s1", "s2", "o1", "o2"]);
      const o1View = (await serfMembers(s1)).find((m) => m.name === "o1");
      assert.equal(o1View?.addr, c.addr(3));
      assert.deepEqual(o2.members().find((m) => m.name === "o1")?.addr, {
        host: c.host(3),
        port: GOSSIP_PORT,
      });
    } finally {
      await c.close();
    }
  },
);
