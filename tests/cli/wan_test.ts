/**
 * Two datacenters: each agent runs its LAN member and a WAN member named
 * `<node>.<datacenter>` on its own port with the WAN profile and its own
 * key; `members --wan` groups the WAN pool by datacenter while `members`
 * stays per datacenter. Addresses 127.0.106.x.
 *
 * ```
 *  dc1: a1 (LAN 127.0.106.1:7946, WAN :7947) ── LAN ── a2 (127.0.106.2)
 *        │ WAN (key W, profile wan)
 *  dc2: b1 (LAN 127.0.106.3:7946, WAN :7947)
 * ```
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { pollUntil } from "../interop/serf_harness.ts";
import {
  grapevine,
  type Proc,
  rpcFlag,
  startAgent,
  statuses,
} from "./_helpers.ts";

const WAN_KEY = "IYlJWi8io76yP6Noc/Xo6LRIVT6gJK+0mwcQ+fBHONo=";
const A1_RPC = { host: "127.0.106.1", port: 17361 };
const A2_RPC = { host: "127.0.106.2", port: 17362 };
const B1_RPC = { host: "127.0.106.3", port: 17363 };

interface WanJson {
  datacenters: Record<
    string,
    {
      members: Array<
        { name: string; status: string; tags: Record<string, string> }
      >;
    }
  >;
}

test("WAN pool: two datacenters, members grouped by datacenter", {
  timeout: 60_000,
}, async () => {
  const procs: Proc[] = [];
  try {
    const a1 = await startAgent({
      name: "a1",
      bind: { host: "127.0.106.1", port: 7946 },
      rpc: A1_RPC,
      extra: [
        "-datacenter=dc1",
        "-wan-bind=127.0.106.1:7947",
        `-wan-encrypt=${WAN_KEY}`,
        "-wan-gossip-interval=200ms",
      ],
    });
    procs.push(a1);
    procs.push(
      await startAgent({
        name: "a2",
        bind: { host: "127.0.106.2", port: 7946 },
        rpc: A2_RPC,
        extra: ["-join=127.0.106.1:7946"],
      }),
    );
    const b1 = await startAgent({
      name: "b1",
      bind: { host: "127.0.106.3", port: 7946 },
      rpc: B1_RPC,
      extra: [
        "-datacenter=dc2",
        "-wan-bind=127.0.106.3:7947",
        `-wan-encrypt=${WAN_KEY}`,
      ],
    });
    procs.push(b1);
    await b1.waitFor(/WAN node name: 'b1\.dc2'/, 10_000);
    // Join the WAN pools through the RPC (grapevine's wan-join).
    const j = await grapevine([
      "join",
      rpcFlag(B1_RPC),
      "-wan",
      "127.0.106.1:7947",
    ]);
    assert.equal(j.code, 0, j.stderr);
    assert.match(
      j.stdout,
      /Successfully joined cluster by contacting 1 nodes\./,
    );
    for (const rpc of [A1_RPC, B1_RPC]) {
      const wan = await pollUntil(`the WAN pool at ${rpc.host}`, async () => {
        const r = await grapevine([
          "members",
          rpcFlag(rpc),
          "--wan",
          "--format",
          "json",
        ]);
        assert.equal(r.code, 0, r.stderr);
        const json = JSON.parse(r.stdout) as WanJson;
        return Object.keys(json.datacenters).length === 2 ? json : undefined;
      }, { timeoutMs: 15_000, intervalMs: 200 });
      assert.deepEqual(
        wan.datacenters.dc1.members.map((m) => [m.name, m.status, m.tags.dc]),
        [["a1.dc1", "alive", "dc1"]],
      );
      assert.deepEqual(
        wan.datacenters.dc2.members.map((m) => [m.name, m.status, m.tags.dc]),
        [["b1.dc2", "alive", "dc2"]],
      );
    }
    const text = await grapevine(["members", rpcFlag(A1_RPC), "-wan"]);
    assert.match(
      text.stdout,
      /^dc1:\n {2}a1\.dc1\s+127\.0\.106\.1:7947\s+alive\s+dc=dc1\ndc2:\n {2}b1\.dc2\s+127\.0\.106\.3:7947\s+alive\s+dc=dc2$/m,
    );
    // The LAN pools stay apart.
    await pollUntil("dc1's LAN", async () => {
      const r = await grapevine(["members", rpcFlag(A1_RPC), "-format=json"]);
      const s = statuses(r.stdout);
      return s.size === 2 && s.get("a2") === "alive" ? true : undefined;
    }, { timeoutMs: 15_000, intervalMs: 200 });
    const lanB = statuses(
      (await grapevine(["members", rpcFlag(B1_RPC), "-format=json"])).stdout,
    );
    assert.deepEqual([...lanB.keys()], ["b1"]);
    // info shows the WAN member; an agent without a WAN pool says so.
    const info = JSON.parse(
      (await grapevine(["info", rpcFlag(A1_RPC), "-format=json"])).stdout,
    );
    assert.equal(info.wan.name, "a1.dc1");
    assert.equal(info.wan.datacenter, "dc1");
    assert.equal(info.wan.encrypted, "true");
    const none = await grapevine(["members", rpcFlag(A2_RPC), "-wan"]);
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      /This agent has no WAN pool: start it with -datacenter and -wan-bind/,
    );
    // Ctrl-C leaves both pools.
    b1.signal("SIGINT");
    assert.equal(await b1.exitCode(15_000), 0, b1.log);
    await pollUntil("b1.dc2 left the WAN pool", async () => {
      const r = await grapevine([
        "members",
        rpcFlag(A1_RPC),
        "-wan",
        "-format=json",
      ]);
      const json = JSON.parse(r.stdout) as WanJson;
      return json.datacenters.dc2?.members[0].status === "left" || undefined;
    }, { timeoutMs: 15_000, intervalMs: 200 });
  } finally {
    for (const p of procs) await p.kill();
  }
});
