/**
 * Packaging: `bun build --compile cli.ts` makes one executable that runs
 * `keygen`, `members`, and an agent that joins a cluster (a real serf agent
 * when one is installed, else one of ours); `scripts/compile.sh` either
 * builds with `deno compile` or explains why it cannot and points to Bun.
 * Addresses 127.0.105.x.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import {
  pollUntil,
  type SerfAgent,
  serfAvailable,
  startSerfAgent,
} from "../interop/serf_harness.ts";
import {
  type Proc,
  Proc as ProcClass,
  ROOT,
  runProgram,
  RUNTIME,
  startAgent,
  statuses,
  waitForPort,
} from "./_helpers.ts";
import { spawn } from "node:child_process";

const BIN_AGENT = { host: "127.0.105.1", port: 7946 };
const BIN_RPC = { host: "127.0.105.1", port: 17351 };
const PEER = { host: "127.0.105.2", port: 7946 };
const PEER_RPC = { host: "127.0.105.2", port: 17352 };

function bunPath(): string {
  if (RUNTIME === "bun") return process.execPath;
  const local = join(ROOT, "node_modules", ".bin", "bun");
  return existsSync(local) ? local : "bun";
}

test(
  "bun build --compile: the binary runs keygen and members and joins a cluster",
  { timeout: 90_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "grapevine-compile-"));
    const bin = join(dir, "grapevine");
    let agent: Proc | undefined;
    let serf: SerfAgent | undefined;
    let ours: Proc | undefined;
    try {
      const build = await runProgram(bunPath(), [
        "build",
        "--compile",
        "cli.ts",
        "--outfile",
        bin,
      ], { timeoutMs: 60_000 });
      assert.equal(build.code, 0, build.stdout + build.stderr);
      const key = await runProgram(bin, ["keygen"]);
      assert.equal(key.code, 0, key.stderr);
      assert.equal(Buffer.from(key.stdout.trim(), "base64").length, 32);
      agent = new ProcClass(spawn(bin, [
        "agent",
        "-node=bin",
        `-bind=${BIN_AGENT.host}:${BIN_AGENT.port}`,
        `-rpc-addr=${BIN_RPC.host}:${BIN_RPC.port}`,
        "-profile=local",
      ], { stdio: ["ignore", "pipe", "pipe"] }));
      await waitForPort(BIN_RPC, 20_000, agent);
      // The peer: a real serf agent when installed, else one of ours.
      let peerRpcMembers: () => Promise<string>;
      if (serfAvailable()) {
        serf = await startSerfAgent({
          name: "peer",
          bind: PEER,
          rpc: PEER_RPC,
          extraArgs: ["-profile=local"],
        });
        const s = serf;
        peerRpcMembers = async () =>
          (await s.cli("members", ["-format=json"])).stdout;
      } else {
        ours = await startAgent({ name: "peer", bind: PEER, rpc: PEER_RPC });
        peerRpcMembers = async () =>
          (await runProgram(bin, [
            "members",
            `-rpc-addr=${PEER_RPC.host}:${PEER_RPC.port}`,
            "-format=json",
          ])).stdout;
      }
      const j = await runProgram(bin, [
        "join",
        `-rpc-addr=${BIN_RPC.host}:${BIN_RPC.port}`,
        `${PEER.host}:${PEER.port}`,
      ]);
      assert.equal(j.code, 0, j.stdout + j.stderr);
      await pollUntil("both members on both sides", async () => {
        const mine = await runProgram(bin, [
          "members",
          `-rpc-addr=${BIN_RPC.host}:${BIN_RPC.port}`,
          "-format=json",
        ]);
        const a = statuses(mine.stdout);
        const b = statuses(await peerRpcMembers());
        return a.get("peer") === "alive" && b.get("bin") === "alive" ||
          undefined;
      }, { timeoutMs: 15_000, intervalMs: 200 });
      const l = await runProgram(bin, [
        "leave",
        `-rpc-addr=${BIN_RPC.host}:${BIN_RPC.port}`,
      ]);
      assert.equal(l.code, 0, l.stdout + l.stderr);
      assert.equal(await agent.exitCode(15_000), 0, agent.log);
    } finally {
      await agent?.kill();
      await serf?.stop();
      await ours?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "scripts/compile.sh builds with deno compile or says how to build offline",
  { timeout: 90_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "grapevine-denocompile-"));
    try {
      // A dead proxy makes the denort download fail even on a networked CI
      // machine (a denort already cached needs no download: then it builds).
      const r = await runProgram("bash", [
        "scripts/compile.sh",
        join(dir, "grapevine"),
      ], {
        timeoutMs: 80_000,
        env: {
          HTTPS_PROXY: "http://127.0.105.9:9",
          HTTP_PROXY: "http://127.0.105.9:9",
          NO_COLOR: "1",
        },
      });
      if (r.code === 0) {
        assert.ok(existsSync(join(dir, "grapevine")));
        const v = await runProgram(join(dir, "grapevine"), ["version"]);
        assert.match(v.stdout, /grapevine/);
      } else {
        assert.equal(r.code, 1);
        assert.match(
          r.stderr,
          /deno compile could not get its runtime \(denort\)/,
        );
        assert.match(r.stderr, /bun build --compile cli\.ts --outfile /);
        assert.match(r.stderr, /DENORT_BIN=/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
