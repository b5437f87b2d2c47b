/**
 * End to end on loopback with real processes: our `agent`, our foreground
 * `join` member and a real `serf agent` form one cluster; members, events,
 * queries, `leave` and Ctrl-C work from every side. Addresses 127.0.101.x.
 *
 * ```
 *  serf agent "s" 127.0.101.1 ◄── grapevine join -rpc-addr=A 127.0.101.1 ── grapevine agent "a" 127.0.101.2
 *                                                                               ▲
 *                                        grapevine join --node b 127.0.101.3 ──┘ (foreground member)
 * ```
 */

import { test } from "node:test";
import assert from "node:assert/strict";
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
  pollUntil,
  type SerfAgent,
  serfSkipReason,
  startSerfAgent,
} from "../interop/serf_harness.ts";
import {
  grapevine,
  type Proc,
  rpcFlag,
  spawnGrapevine,
  startAgent,
  statuses,
} from "./_helpers.ts";

const S = { host: "127.0.101.1", port: 7946 };
const S_RPC = { host: "127.0.101.1", port: 17311 };
const A = { host: "127.0.101.2", port: 7946 };
const A_RPC = { host: "127.0.101.2", port: 17312 };

/** A handler that logs each event and answers queries. */
function writeHandler(dir: string): string {
  const script = join(dir, "handler.sh");
  writeFileSync(
    script,
    `#!/bin/sh
out="${dir}/$SERF_SELF_NAME.events"
{ echo "EVENT $SERF_EVENT $SERF_USER_EVENT$SERF_QUERY_NAME"; cat; } >> "$out"
if [ "$SERF_EVENT" = "query" ]; then echo "pong from $SERF_SELF_NAME"; fi
`,
  );
  chmodSync(script, 0o755);
  return script;
}

function events(dir: string, name: string): string {
  try {
    return readFileSync(join(dir, `${name}.events`), "utf8");
  } catch {
    return "";
  }
}

async function membersOf(
  rpc: { host: string; port: number },
): Promise<Map<string, string>> {
  const r = await grapevine(["members", rpcFlag(rpc), "--format", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return statuses(r.stdout);
}

async function waitStatuses(
  rpc: { host: string; port: number },
  want: Record<string, string>,
): Promise<void> {
  await pollUntil(
    `members ${JSON.stringify(want)} at ${rpc.host}`,
    async () => {
      const got = await membersOf(rpc);
      return Object.entries(want).every(([n, s]) => got.get(n) === s) ||
        undefined;
    },
    { timeoutMs: 15_000, intervalMs: 200 },
  );
}

test(
  "two of ours and a serf agent: join, members, event, query, Ctrl-C, leave",
  {
    skip: serfSkipReason(),
    timeout: 90_000,
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "grapevine-cluster-"));
    const handler = writeHandler(dir);
    let s: SerfAgent | undefined;
    let a: Proc | undefined;
    let b: Proc | undefined;
    try {
      s = await startSerfAgent({
        name: "s",
        bind: S,
        rpc: S_RPC,
        extraArgs: ["-profile=local", `-event-handler=${handler}`],
      });
      a = await startAgent({
        name: "a",
        bind: A,
        rpc: A_RPC,
        extra: [`-event-handler=${handler}`],
      });
      b = spawnGrapevine([
        "join",
        "--node",
        "b",
        "--bind",
        "127.0.101.3:7946",
        "--profile",
        "local",
        "127.0.101.2:7946",
      ]);
      await b.waitFor(/Joined 1 of 1 seeds/, 15_000);
      // Ask our agent, through its RPC, to join the serf agent.
      const j = await grapevine(["join", rpcFlag(A_RPC), "127.0.101.1:7946"]);
      assert.equal(j.code, 0, j.stderr);
      assert.match(
        j.stdout,
        /Successfully joined cluster by contacting 1 nodes\./,
      );
      const all = { s: "alive", a: "alive", b: "alive" };
      await waitStatuses(A_RPC, all);
      await waitStatuses(S_RPC, all);
      // The real serf CLI agrees about our agent.
      const real = await s.cli("members", ["-format=json"]);
      assert.deepEqual(statuses(real.stdout), new Map(Object.entries(all)));

      // A user event from our side reaches serf's handler and ours.
      const ev = await grapevine([
        "event",
        rpcFlag(A_RPC),
        "-coalesce=false",
        "deploy",
        "v1",
      ]);
      assert.equal(ev.code, 0, ev.stderr);
      assert.match(
        ev.stdout,
        /Event 'deploy' dispatched! Coalescing enabled: false/,
      );
      for (const name of ["s", "a"]) {
        await pollUntil(
          `${name} ran the deploy handler`,
          () => /EVENT user deploy\nv1\n/.test(events(dir, name)) || undefined,
          { timeoutMs: 10_000 },
        );
      }

      // A query from serf's side is answered by serf's handler and ours; b acks.
      const q = await grapevine([
        "query",
        rpcFlag(S_RPC),
        "-timeout=2s",
        "-format=json",
        "ping",
        "hi",
      ]);
      assert.equal(q.code, 0, q.stderr);
      const res = JSON.parse(q.stdout) as {
        Acks: string[];
        Responses: Record<string, string>;
      };
      assert.deepEqual([...res.Acks].sort(), ["a", "b", "s"]);
      assert.deepEqual(res.Responses, {
        a: "pong from a\n",
        s: "pong from s\n",
      });
      assert.match(events(dir, "a"), /EVENT query ping\nhi\n/);

      // Ctrl-C on the foreground member: it leaves gracefully and exits 0.
      b.signal("SIGINT");
      assert.equal(await b.exitCode(15_000), 0, b.log);
      await waitStatuses(S_RPC, { b: "left" });
      await waitStatuses(A_RPC, { b: "left" });

      // `leave` through our agent's RPC: it leaves, shuts down and exits 0.
      const l = await grapevine(["leave", rpcFlag(A_RPC)]);
      assert.equal(l.code, 0, l.stderr);
      assert.match(l.stdout, /Graceful leave complete/);
      assert.equal(await a.exitCode(15_000), 0, a.log);
      await waitStatuses(S_RPC, { a: "left" });
    } finally {
      await b?.kill();
      await a?.kill();
      await s?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
