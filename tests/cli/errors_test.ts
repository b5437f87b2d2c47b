/**
 * Bad input gets a clear message and Serf's exit code (1 for bad usage or
 * a failure, 127 for an unknown command), and the agent's signal handling
 * follows Serf: SIGTERM shuts down (exit 1) unless leave_on_terminate, a
 * second Ctrl-C during the leave exits 1 at once, a start join or
 * retry-join that cannot work exits 1. Addresses 127.0.104.x.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  grapevine,
  type Proc,
  spawnGrapevine,
  startAgent,
} from "./_helpers.ts";

test(
  "usage errors say what to fix and exit like serf",
  { timeout: 60_000 },
  async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [[], 127, /Usage: grapevine/],
      [["explode"], 127, /unknown command "explode"/],
      [["members", "-bogus"], 1, /flag provided but not defined: -bogus/],
      [
        ["members", "-format=xml"],
        1,
        /Invalid -format "xml": use text or json/,
      ],
      [["members", "-name=["], 1, /Invalid -name regexp "\["/],
      [
        ["members", "-rpc-addr=127.0.104.9:1"],
        1,
        /Error connecting to Serf agent: dial tcp 127\.0\.104\.9:1: connect: connection refused/,
      ],
      [["event"], 1, /An event name must be specified/],
      [["event", "a", "b", "c"], 1, /Too many command line arguments/],
      [
        ["query", "-relay-factor=300", "q"],
        1,
        /Relay factor must be between 0 and 255/,
      ],
      [
        ["query", "-timeout=soon", "q"],
        1,
        /Invalid -timeout "soon": use a duration like 500ms/,
      ],
      [
        ["keys", "-list", "-install=x"],
        1,
        /Only one of -install, -use, -remove, or -list allowed/,
      ],
      [["keys"], 1, /Give one of -install, -use, -remove or -list/],
      [["tags"], 1, /Give at least one -set key=value or -delete key/],
      [
        ["tags", "-set", "novalue"],
        1,
        /Invalid tag: 'novalue' \(-set wants key=value/,
      ],
      [["force-leave"], 1, /A node name must be specified to force leave/],
      [["rtt"], 1, /One or two node names must be specified/],
      [
        ["join"],
        1,
        /Missing --node: give this member a unique name \(or give -rpc-addr/,
      ],
      [["join", "--node", "x"], 1, /Missing --bind/],
      [
        ["join", "-rpc-addr=127.0.0.1:1", "--node", "x", "y"],
        1,
        /Invalid -node with -rpc-addr/,
      ],
      [
        ["agent", "-probe-interval=1s", "-probe-timeout=1s"],
        1,
        /Invalid -probe-timeout=1s: the probe timeout must be shorter than -probe-interval=1s/,
      ],
      [
        ["agent", "-protocol=9"],
        1,
        /Invalid -protocol=9: Serf speaks protocols 2 to 5/,
      ],
      [["agent", "-log-level=chatty"], 1, /Invalid -log-level "chatty"/],
      [
        ["agent", "-datacenter=dc1"],
        1,
        /-datacenter and -wan-bind go together/,
      ],
      [
        ["agent", "-event-handler=member-explode=x.sh"],
        1,
        /Invalid event script/,
      ],
      [["agent", "extra"], 1, /Unexpected argument "extra"/],
    ];
    for (const [args, code, re] of cases) {
      const r = await grapevine(args);
      assert.equal(
        r.code,
        code,
        `grapevine ${args.join(" ")}: ${r.stdout}${r.stderr}`,
      );
      assert.match(r.stderr, re, `grapevine ${args.join(" ")}`);
    }
  },
);

test("help and keygen exit 0", { timeout: 30_000 }, async () => {
  for (const cmd of ["agent", "members", "query", "join", "keys", "monitor"]) {
    const r = await grapevine([cmd, "-h"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`Usage: grapevine ${cmd}`));
  }
  const v = await grapevine(["--help"]);
  assert.equal(v.code, 0);
  assert.match(v.stderr, /Available commands are:\n {4}agent/);
  const k = await grapevine(["keygen"]);
  assert.equal(k.code, 0);
  assert.equal(Buffer.from(k.stdout.trim(), "base64").length, 32);
  const ver = await grapevine(["version"]);
  assert.match(ver.stdout, /Agent Protocol: 5 \(Understands back to: 2\)/);
});

test("agent: config file errors, failed start join, retry-join limit", {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "grapevine-errors-"));
  try {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ node_nme: "typo" }));
    const r1 = await grapevine(["agent", `-config-file=${bad}`]);
    assert.equal(r1.code, 1);
    assert.match(
      r1.stderr,
      /Error decoding '.*bad\.json': unknown key 'node_nme'/,
    );
    const r2 = await grapevine([
      "agent",
      "-node=j",
      "-bind=127.0.104.1:7946",
      "-rpc-addr=127.0.104.1:17341",
      "-profile=local",
      "-join=127.0.104.250:7946",
    ]);
    assert.equal(r2.code, 1, r2.stdout + r2.stderr);
    assert.match(r2.stdout, /==> Joining cluster\.\.\.\(replay: false\)/);
    assert.match(r2.stdout, /==> Cannot join cluster/);
    const t0 = Date.now();
    const r3 = await grapevine([
      "agent",
      "-node=r",
      "-bind=127.0.104.2:7946",
      "-rpc-addr=127.0.104.2:17342",
      "-profile=local",
      "-retry-join=127.0.104.250:7946",
      "-retry-max=1",
      "-retry-interval=1s",
    ]);
    assert.equal(r3.code, 1, r3.stdout + r3.stderr);
    assert.match(r3.stderr, /Join failed: .*retrying in 1s/);
    assert.match(r3.stderr, /maximum retry join attempts made, exiting/);
    assert.ok(Date.now() - t0 < 20_000);
    const r4 = await grapevine([
      "agent",
      "-node=k",
      "-bind=127.0.104.3:7946",
      "-rpc-addr=127.0.104.3:17343",
      "-keyring-file=/nonexistent/keyring",
    ]);
    assert.equal(r4.code, 1);
    assert.match(
      r4.stdout,
      /Failed to setup the agent: Keyring file \/nonexistent\/keyring does not exist/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  "agent signals: SIGTERM per leave_on_terminate, a second Ctrl-C forces the exit",
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "grapevine-signals-"));
    const procs: Proc[] = [];
    try {
      // SIGTERM by default: shut down without leaving, exit 1 (as serf).
      const t = await startAgent({
        name: "t",
        bind: { host: "127.0.104.4", port: 7946 },
        rpc: { host: "127.0.104.4", port: 17344 },
      });
      procs.push(t);
      t.signal("SIGTERM");
      assert.equal(await t.exitCode(10_000), 1);
      assert.doesNotMatch(t.log, /Gracefully shutting down/);
      // leave_on_terminate from a config file: SIGTERM leaves, exit 0.
      const cfg = join(dir, "leave.json");
      writeFileSync(cfg, JSON.stringify({ leave_on_terminate: true }));
      const l = await startAgent({
        name: "l",
        bind: { host: "127.0.104.5", port: 7946 },
        rpc: { host: "127.0.104.5", port: 17345 },
        extra: [`-config-file=${cfg}`],
      });
      procs.push(l);
      l.signal("SIGTERM");
      assert.equal(await l.exitCode(10_000), 0, l.log);
      assert.match(l.log, /Gracefully shutting down agent/);
      // A second Ctrl-C while leaving a cluster (the leave waits ≥ 1 s for
      // the news to spread) exits 1 at once.
      const peer = spawnGrapevine([
        "join",
        "--node",
        "p",
        "--bind",
        "127.0.104.7:7946",
        "--profile",
        "local",
      ]);
      procs.push(peer);
      await peer.waitFor(/listening|EventMemberJoin: p/, 15_000);
      const d = await startAgent({
        name: "d",
        bind: { host: "127.0.104.6", port: 7946 },
        rpc: { host: "127.0.104.6", port: 17346 },
        extra: ["-join=127.0.104.7:7946"],
      });
      procs.push(d);
      await d.waitFor(/Join completed/, 10_000);
      d.signal("SIGINT");
      await d.waitFor(/Gracefully shutting down agent/, 10_000);
      d.signal("SIGINT");
      assert.equal(await d.exitCode(10_000), 1, d.log);
    } finally {
      for (const p of procs) await p.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
