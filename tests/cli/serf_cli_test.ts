/**
 * Compatibility both ways: the REAL `serf` CLI drives OUR agent, and OUR
 * CLI drives a REAL serf agent, in one encrypted two-member cluster.
 * Addresses 127.0.102.x.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CliResult,
  pollUntil,
  runSerfCli,
  type SerfAgent,
  serfSkipReason,
  startSerfAgent,
} from "../interop/serf_harness.ts";
import {
  grapevine,
  type Output,
  type Proc,
  rpcFlag,
  spawnGrapevine,
  startAgent,
  statuses,
} from "./_helpers.ts";

const KEY1 = "LiEU1Yq+7mAz55TkEUTu64O+5rdXQ2EkKzwgqskGesw=";
const KEY2 = "IYlJWi8io76yP6Noc/Xo6LRIVT6gJK+0mwcQ+fBHONo=";
const G = { host: "127.0.102.1", port: 7946 };
const G_RPC = { host: "127.0.102.1", port: 17321 };
const S = { host: "127.0.102.2", port: 7946 };
const S_RPC = { host: "127.0.102.2", port: 17322 };

function pongHandler(dir: string): string {
  const script = join(dir, "pong.sh");
  writeFileSync(
    script,
    '#!/bin/sh\n[ "$SERF_EVENT" = query ] && echo "pong from $SERF_SELF_NAME"\nexit 0\n',
  );
  chmodSync(script, 0o755);
  return script;
}

function ok(r: CliResult | Output, what: string): string {
  assert.equal(
    r.code,
    0,
    `${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`,
  );
  return r.stdout;
}

/** Run the real serf CLI against our agent. */
function serf(args: string[], timeoutMs = 10_000): Promise<CliResult> {
  return runSerfCli([args[0], rpcFlag(G_RPC), ...args.slice(1)], { timeoutMs });
}

/** Run our CLI against the real serf agent. */
function ours(args: string[]): Promise<Output> {
  return grapevine([args[0], rpcFlag(S_RPC), ...args.slice(1)]);
}

async function realCliDrivesOurAgent(s: SerfAgent): Promise<void> {
  const text = ok(await serf(["members"]), "serf members");
  assert.match(text, /^g\s+127\.0\.102\.1:7946\s+alive\s+role=web$/m);
  assert.match(text, /^s\s+127\.0\.102\.2:7946\s+alive/m);
  assert.deepEqual(
    statuses(ok(await serf(["members", "-format=json"]), "json")),
    new Map([["g", "alive"], ["s", "alive"]]),
  );
  assert.match(
    ok(
      await serf(["members", "-tag", "role=w.b", "-status=alive"]),
      "filtered",
    ),
    /^g\s/,
  );
  assert.equal(
    ok(await serf(["members", "-name=nobody"]), "no match").trim(),
    "",
  );
  assert.match(
    ok(await serf(["event", "-coalesce=false", "deploy", "v1"]), "serf event"),
    /Event 'deploy' dispatched! Coalescing enabled: false/,
  );
  const q = ok(
    await serf(["query", "-timeout=1500ms", "ping", "x"]),
    "serf query",
  );
  assert.match(q, /Query 'ping' dispatched/);
  assert.match(q, /Response from 'g': pong from g/);
  assert.match(q, /Response from 's': pong from s/);
  assert.match(q, /Total Acks: 2/);
  assert.match(
    ok(await serf(["tags", "-set", "zone=1", "-delete", "role"]), "serf tags"),
    /Successfully updated agent tags/,
  );
  assert.match(
    ok(await serf(["members", "-name=g"]), "members after tags"),
    /\szone=1$/m,
  );
  const info = JSON.parse(
    ok(await serf(["info", "-format=json"]), "serf info"),
  );
  assert.equal(info.agent.name, "g");
  assert.equal(info.serf.encrypted, "true");
  assert.match(
    ok(await serf(["info"]), "serf info text"),
    /^agent:\n\tname = g$/m,
  );
  await pollUntil("serf rtt via our agent", async () => {
    const r = await serf(["rtt", "g", "s"]);
    return r.code === 0 ? r.stdout : undefined;
  }, { timeoutMs: 15_000, intervalMs: 300 }).then((out) =>
    assert.match(out, /Estimated g <-> s rtt: \d+\.\d{3} ms/)
  );
  assert.match(
    ok(await serf(["reachability"], 15_000), "serf reachability"),
    /Successfully contacted all live nodes/,
  );
  ok(await serf(["force-leave", "nosuch"]), "serf force-leave");
  assert.match(
    ok(await serf(["join", "127.0.102.2"]), "serf join"),
    /Successfully joined cluster by contacting 1 nodes\./,
  );
  // Key rotation through our agent, checked on both members.
  assert.match(
    ok(await serf(["keys", "-list"], 15_000), "keys -list"),
    new RegExp(`${KEY1.replace(/[+/]/g, "\\$&")}\\s+\\[2/2\\]`),
  );
  assert.match(
    ok(await serf(["keys", `-install=${KEY2}`], 15_000), "install"),
    /Successfully installed key!/,
  );
  assert.match(
    ok(await serf(["keys", `-use=${KEY2}`], 15_000), "use"),
    /Successfully changed primary key!/,
  );
  assert.match(
    ok(await serf(["keys", `-remove=${KEY1}`], 15_000), "remove"),
    /Successfully removed key!/,
  );
  const list = ok(
    await s.cli("keys", ["-list"], { timeoutMs: 15_000 }),
    "keys on serf",
  );
  assert.match(
    list,
    new RegExp(`${KEY2.replace(/[+/]/g, "\\$&")}\\s+\\[2/2\\]`),
  );
  assert.doesNotMatch(list, /LiEU1/);
  // serf monitor: our log lines and an event.
  const mon = serf(["monitor", "-log-level=debug"], 2_500);
  await new Promise((r) => setTimeout(r, 800));
  ok(
    await serf(["event", "-coalesce=false", "seen-by-monitor"]),
    "event for monitor",
  );
  const m = await mon;
  assert.match(m.stdout, /\[(INFO|DEBUG)\] /);
  assert.match(m.stdout, /Event Info:/);
  assert.match(m.stdout, /seen-by-monitor/);
}

async function ourCliDrivesSerf(): Promise<void> {
  const text = ok(await ours(["members"]), "members");
  assert.match(text, /^s\s+127\.0\.102\.2:7946\s+alive/m);
  assert.deepEqual(
    statuses(ok(await ours(["members", "--format", "json"]), "json")),
    new Map([["g", "alive"], ["s", "alive"]]),
  );
  assert.match(
    ok(await ours(["members", "-detailed", "-name=s"]), "detailed"),
    /Protocol Version: 5\s+Available Protocol Range: \[2, 5\]/,
  );
  assert.match(
    ok(await ours(["event", "hello", "world"]), "event"),
    /Event 'hello' dispatched! Coalescing enabled: true/,
  );
  const q = JSON.parse(
    ok(
      await ours(["query", "--timeout", "1500ms", "--format", "json", "ping"]),
      "query",
    ),
  );
  assert.deepEqual([...q.Acks].sort(), ["g", "s"]);
  assert.deepEqual(q.Responses, { g: "pong from g\n", s: "pong from s\n" });
  assert.match(
    ok(await ours(["tags", "-set", "color=blue"]), "tags"),
    /Successfully updated agent tags/,
  );
  const info = JSON.parse(ok(await ours(["info", "-format=json"]), "info"));
  assert.equal(info.agent.name, "s");
  assert.equal(info.tags.color, "blue");
  assert.match(
    ok(await ours(["rtt", "s", "g"]), "rtt"),
    /Estimated s <-> g rtt: \d+\.\d{3} ms/,
  );
  assert.match(ok(await ours(["keys", "-list"]), "keys"), /\[2\/2\]/);
  assert.match(
    ok(await ours(["reachability", "-verbose"]), "reachability"),
    /Successfully contacted all live nodes/,
  );
  const fl = await ours(["force-leave", "nosuch"]);
  assert.equal(fl.code, 1);
  assert.match(fl.stderr, /Node 'nosuch' not found in cluster/);
  assert.match(
    ok(await ours(["join", "127.0.102.1"]), "join"),
    /Successfully joined cluster by contacting 1 nodes\./,
  );
  const wan = await ours(["members", "--wan"]);
  assert.equal(wan.code, 1);
  assert.match(wan.stderr, /a Serf agent has no WAN pool/);
  // Our monitor against serf: log lines until Ctrl-C, exit 0.
  const mon: Proc = spawnGrapevine([
    "monitor",
    rpcFlag(S_RPC),
    "--log-level",
    "debug",
  ]);
  try {
    await mon.waitFor(/\[(INFO|DEBUG)\] /, 10_000);
    ok(await ours(["event", "-coalesce=false", "via-serf"]), "event");
    await mon.waitFor(/Name: "via-serf"/, 10_000);
    mon.signal("SIGINT");
    assert.equal(await mon.exitCode(10_000), 0, mon.log);
  } finally {
    await mon.kill();
  }
}

test(
  "the real serf CLI drives our agent, and our CLI drives a real serf agent",
  {
    skip: serfSkipReason(),
    timeout: 110_000,
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "grapevine-serfcli-"));
    const handler = pongHandler(dir);
    let s: SerfAgent | undefined;
    let g: Proc | undefined;
    try {
      s = await startSerfAgent({
        name: "s",
        bind: S,
        rpc: S_RPC,
        encryptKey: KEY1,
        extraArgs: ["-profile=local", `-event-handler=${handler}`],
      });
      g = await startAgent({
        name: "g",
        bind: G,
        rpc: G_RPC,
        extra: [
          `-encrypt=${KEY1}`,
          "-tag",
          "role=web",
          `-event-handler=${handler}`,
          "-join=127.0.102.2",
        ],
      });
      await pollUntil("both members", async () => {
        const r = await serf(["members"]);
        return (r.stdout.match(/alive/g) ?? []).length === 2 || undefined;
      }, { timeoutMs: 15_000, intervalMs: 200 });
      await realCliDrivesOurAgent(s);
      await ourCliDrivesSerf();
      // Leave both ways: ours tells serf, serf's tells ours.
      assert.match(
        ok(await ours(["leave"]), "our leave"),
        /Graceful leave complete/,
      );
      assert.match(
        ok(await serf(["leave"]), "serf leave"),
        /Graceful leave complete/,
      );
      assert.equal(await g.exitCode(15_000), 0, g.log);
    } finally {
      await g?.kill();
      await s?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
