/**
 * Event handler scripts keep Serf's contract: the same script run by a
 * real serf agent and by ours sees the same environment and stdin for the
 * same events, a query handler's output is the response, and failing or
 * hanging scripts are logged, never fatal. Addresses 127.0.103.x.
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
import process from "node:process";
import {
  HANDLER_OUTPUT_LIMIT_BYTES,
  runScript,
  ScriptRunner,
} from "../../src/agent/handlers.ts";
import type { SerfMemberInfo } from "../../src/serf/events.ts";
import {
  pollUntil,
  type SerfAgent,
  serfSkipReason,
  startSerfAgent,
} from "../interop/serf_harness.ts";
import { grapevine, type Proc, rpcFlag, startAgent } from "./_helpers.ts";

const G = { host: "127.0.103.1", port: 7946 };
const G_RPC = { host: "127.0.103.1", port: 17331 };
const S = { host: "127.0.103.2", port: 7946 };
const S_RPC = { host: "127.0.103.2", port: 17332 };

function dumpHandler(dir: string): string {
  const script = join(dir, "dump.sh");
  writeFileSync(
    script,
    `#!/bin/sh
{
  echo "=== $SERF_EVENT"
  env | grep '^SERF_' | sort
  echo "--- stdin"
  cat
  echo "--- end"
} >> "${dir}/$SERF_SELF_NAME.log"
if [ "$SERF_EVENT" = query ]; then printf 'answer from %s' "$SERF_SELF_NAME"; fi
exit 0
`,
  );
  chmodSync(script, 0o755);
  return script;
}

interface Block {
  event: string;
  env: Map<string, string>;
  stdin: string;
}

function blocks(dir: string, name: string): Block[] {
  let text = "";
  try {
    text = readFileSync(join(dir, `${name}.log`), "utf8");
  } catch {
    return [];
  }
  // Only whole blocks: a script still running has written its header but
  // not yet its stdin and end marker.
  return text.split("=== ").slice(1).filter((b) => b.endsWith("--- end\n")).map(
    (b) => {
      const [head, rest] = b.split("--- stdin\n");
      const [event, ...envLines] = head.trim().split("\n");
      const env = new Map(
        envLines.map((
          l,
        ) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      return { event, env, stdin: (rest ?? "").replace(/--- end\n$/, "") };
    },
  );
}

function find(
  dir: string,
  name: string,
  pred: (b: Block) => boolean,
): Block | undefined {
  return blocks(dir, name).find(pred);
}

/** A member line of stdin with the varying parts named, tags sorted. */
function memberLine(line: string): string {
  const [, , role, tags] = line.split("\t");
  return ["NAME", "ADDR", role, tags.split(",").sort().join(",")].join("\t");
}

function sameExceptSelf(ours: Block, theirs: Block): void {
  const norm = (b: Block) => {
    const env = new Map(b.env);
    env.delete("SERF_SELF_NAME");
    return {
      event: b.event,
      env: Object.fromEntries([...env].sort()),
      stdin: b.stdin,
    };
  };
  assert.deepEqual(norm(ours), norm(theirs));
}

test(
  "handlers see Serf's environment and stdin, compared with a real serf agent",
  {
    skip: serfSkipReason(),
    timeout: 60_000,
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "grapevine-handlers-"));
    const dump = dumpHandler(dir);
    const tags = ["-tag", "role=web", "-tag", "zone-name=east"];
    let s: SerfAgent | undefined;
    let g: Proc | undefined;
    try {
      s = await startSerfAgent({
        name: "s",
        bind: S,
        rpc: S_RPC,
        extraArgs: ["-profile=local", `-event-handler=${dump}`, ...tags],
      });
      g = await startAgent({
        name: "g",
        bind: G,
        rpc: G_RPC,
        extra: [
          `-event-handler=${dump}`,
          "-event-handler=user:boom=echo failing; exit 3",
          "-event-handler=user:slow=sleep 30",
          "-handler-timeout=3s",
          "-join=127.0.103.2",
          ...tags,
        ],
      });
      // Member joins: each side sees the other with the same line shape.
      // (Serf coalesces joins: a block may list several members, one a line.)
      const seen = async (name: string, other: string): Promise<Block> => {
        const b = await pollUntil(
          `${name} ran member-join for ${other}`,
          () =>
            find(
              dir,
              name,
              (b) =>
                b.event === "member-join" &&
                b.stdin.split("\n").some((l) => l.startsWith(`${other}\t`)),
            ),
          {
            timeoutMs: 15_000,
          },
        );
        return {
          ...b,
          stdin: b.stdin.split("\n").find((l) => l.startsWith(`${other}\t`))! +
            "\n",
        };
      };
      const [gj, sj] = [await seen("g", "s"), await seen("s", "g")];
      sameExceptSelf({ ...gj, stdin: memberLine(gj.stdin.trim()) }, {
        ...sj,
        stdin: memberLine(sj.stdin.trim()),
      });
      assert.equal(gj.env.get("SERF_TAG_ZONE_NAME"), "east");
      assert.match(gj.stdin, /^s\t127\.0\.103\.2\tweb\t.*\n$/);
      assert.match(sj.stdin, /^g\t127\.0\.103\.1\tweb\t.*\n$/);

      // A user event, sent from serf's side: identical blocks.
      assert.equal(
        (await s.cli("event", ["-coalesce=false", "deploy", "v1 no newline"]))
          .code,
        0,
      );
      const ue = (name: string) =>
        pollUntil(
          `${name} ran the deploy handler`,
          () =>
            find(dir, name, (b) => b.env.get("SERF_USER_EVENT") === "deploy"),
          {
            timeoutMs: 10_000,
          },
        );
      const [gu, su] = [await ue("g"), await ue("s")];
      sameExceptSelf(gu, su);
      assert.equal(gu.stdin, "v1 no newline\n");

      // A query, sent from our side: identical blocks; the output is the answer.
      const q = await grapevine([
        "query",
        rpcFlag(G_RPC),
        "-timeout=2s",
        "-format=json",
        "uptime",
        "x",
      ]);
      assert.equal(q.code, 0, q.stderr);
      assert.deepEqual(JSON.parse(q.stdout).Responses, {
        g: "answer from g",
        s: "answer from s",
      });
      const qb = (name: string) =>
        find(dir, name, (b) => b.env.get("SERF_QUERY_NAME") === "uptime");
      sameExceptSelf(qb("g")!, qb("s")!);
      assert.equal(qb("g")!.stdin, "x\n");

      // A failing script and a hanging one are logged; the agent carries on.
      assert.equal(
        (await grapevine(["event", rpcFlag(G_RPC), "-coalesce=false", "boom"]))
          .code,
        0,
      );
      await g.waitFor(
        /Error invoking script 'echo failing; exit 3': exit status 3/,
        10_000,
      );
      assert.equal(
        (await grapevine(["event", rpcFlag(G_RPC), "-coalesce=false", "slow"]))
          .code,
        0,
      );
      await g.waitFor(
        /Error invoking script 'sleep 30': killed after the time limit of 3000 ms/,
        15_000,
      );
      const after = await grapevine(["members", rpcFlag(G_RPC)]);
      assert.equal(after.code, 0);
      assert.match(after.stdout, /^g\s.*alive/m);
    } finally {
      await g?.kill();
      await s?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "runScript: output capped at 8 KiB, exit codes, process group killed at the limit",
  { timeout: 15_000 },
  async () => {
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
    const big = await runScript(
      "head -c 20000 /dev/zero | tr '\\0' x; echo tail-end >&2",
      env,
      new Uint8Array(0),
      5_000,
    );
    assert.equal(big.code, 0);
    assert.equal(big.totalBytes, 20_009);
    assert.equal(big.output.length, HANDLER_OUTPUT_LIMIT_BYTES);
    assert.match(
      new TextDecoder().decode(big.output),
      /tail-end\n$/,
      "the last bytes are kept, stderr too",
    );
    const fail = await runScript(
      "cat >/dev/null; exit 7",
      env,
      new TextEncoder().encode("in\n"),
      5_000,
    );
    assert.equal(fail.code, 7);
    const t0 = Date.now();
    const hung = await runScript(
      "sleep 20 & sleep 20; wait",
      env,
      new Uint8Array(0),
      300,
    );
    assert.ok(hung.timedOut);
    assert.equal(hung.code, null);
    assert.ok(
      Date.now() - t0 < 5_000,
      "the whole group is killed, so the pipes close",
    );
  },
);

test("ScriptRunner: one script at a time, in order; query output answers", {
  timeout: 15_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "grapevine-runner-"));
  try {
    const self: SerfMemberInfo = {
      name: "me",
      addr: { host: "127.0.0.1", port: 1 },
      tags: new Map([["role", "r"]]),
      status: "alive",
      protocolMin: 1,
      protocolMax: 5,
      protocolCur: 2,
      delegateMin: 2,
      delegateMax: 5,
      delegateCur: 5,
    };
    const answers: Array<[number, string]> = [];
    const out = join(dir, "order");
    const runner = new ScriptRunner({
      scripts: [
        {
          event: "user",
          name: "",
          script: `sleep 0.1; echo "$SERF_USER_EVENT" >> ${out}`,
        },
        {
          event: "query",
          name: "q",
          script: "printf 'hello %s' \"$SERF_SELF_ROLE\"",
        },
      ],
      self: () => self,
      respond: (id, p) => answers.push([id, new TextDecoder().decode(p)]),
      timeoutMs: 5_000,
    });
    for (const name of ["one", "two", "three"]) {
      runner.handle({
        type: "user",
        ltime: 1,
        name,
        payload: null,
        coalesce: false,
      });
    }
    runner.handle({
      type: "query",
      id: 9,
      ltime: 1,
      name: "q",
      payload: null,
      sourceNode: "x",
      deadlineMs: 0,
    });
    runner.handle({
      type: "query",
      id: 10,
      ltime: 1,
      name: "other",
      payload: null,
      sourceNode: "x",
      deadlineMs: 0,
    });
    await runner.idle();
    assert.equal(readFileSync(out, "utf8"), "one\ntwo\nthree\n");
    assert.deepEqual(answers, [[9, "hello r"]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
