/**
 * Live interop of whole members against a real HashiCorp `serf agent` (Debian's Serf 0.9.4 on
 * memberlist 0.2.2), started by each test on loopback and killed by pid.
 *
 * Where `tests/interop/serf_live_codec_test.ts` proves the codec byte by byte with a hand-driven
 * fake, these tests run our full member — driver, transport, seal, memberlist and Serf machines —
 * in this process (`startSerf`) or as `cli.ts join` child processes on Deno and on Bun, and check
 * what both sides *conclude*: who is alive, failed or left, which events arrived, what was
 * refused. Each test owns one address block, so the files may run concurrently:
 *
 * | block      | test                                                                        |
 * | ---------- | --------------------------------------------------------------------------- |
 * | 127.0.82.x | joins both ways, compression on and off, user events, crash detection both ways |
 * | 127.0.83.x | encryption with `serf keygen` keys; a wrong key is refused cleanly          |
 * | 127.0.84.x | a SIGSTOPped process is suspected by serf and refutes on SIGCONT            |
 * | 127.0.85.x | `cli.ts join` on Deno and on Bun joins serf; SIGKILL detection both ways     |
 *
 * Timing: serf and our members run the "lan" profile (probe interval 1 s, probe timeout 500 ms,
 * suspicion multiplier 4). With at most three members in a node list (dead ones count until they
 * are reaped), memberlist expects no confirmations (`k = 0` when `n − 2 < suspicionMult − 2`), so
 * every suspicion lasts exactly its minimum `4 × max(1, log10 n) × 1 s` = 4 s — a fixed window
 * that makes both the crash bounds and the pause test deterministic. See {@linkcode DETECT_MS}.
 *
 * @module
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { type SerfNode, startSerf } from "../../src/serf_node.ts";
import { CliMember } from "../helpers/cli_member.ts";
import {
  pollUntil,
  runSerfCli,
  type SerfAgent,
  serfSkipReason,
  startSerfAgent,
} from "./serf_harness.ts";

const GOSSIP_PORT = 7946;
const RPC_PORT = 7373;
const SKIP = serfSkipReason();

/** The "lan" profile's probe interval, probe timeout and suspicion multiplier. */
const PROBE_INTERVAL_MS = 1000;
const PROBE_TIMEOUT_MS = 500;
const SUSPICION_MS = 4 * PROBE_INTERVAL_MS;

/**
 * How long a crash may take to be marked failed in a node list of at most three: the dead member
 * is probed within two probe intervals (round robin over the two others), that probe fails at the
 * end of its interval, and the suspicion then lasts exactly {@linkcode SUSPICION_MS} — 7 s in
 * all, plus 5 s of slack for a busy machine (late timers, Lifeguard's awareness stretching an
 * interval). Typical is 5–6 s.
 */
const DETECT_MS = 2 * PROBE_INTERVAL_MS + PROBE_INTERVAL_MS + SUSPICION_MS +
  5000;

/** How long joins and gossip may take to show on both sides (a few gossip rounds normally). */
const CONVERGE_MS = 10_000;

// ------------------------------------------------------------------ helpers

/** Resolves true once `host:port` accepts a TCP connection. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean): void => {
      s.removeAllListeners();
      s.on("error", () => {});
      s.destroy();
      resolve(ok);
    };
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

/** Wait until a child's memberlist TCP listener is up. */
async function listening(m: CliMember, timeoutMs: number): Promise<void> {
  await pollUntil(
    `${m.name} to listen on ${m.host}:${GOSSIP_PORT}`,
    async () => {
      if (m.done) throw new Error(`${m.name} exited early\n${m.log}`);
      return (await accepts(m.host, GOSSIP_PORT)) ? true : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Start a serf agent with gossip on `host:7946` and RPC on `host:7373`. */
function serfAgent(
  name: string,
  host: string,
  extra: { encryptKey?: string; extraArgs?: string[] } = {},
): Promise<SerfAgent> {
  return startSerfAgent({
    name,
    bind: { host, port: GOSSIP_PORT },
    rpc: { host, port: RPC_PORT },
    ...extra,
  });
}

/** `name → status` as `serf members` prints it. */
async function serfMembers(agent: SerfAgent): Promise<Map<string, string>> {
  const r = await agent.cli("members");
  assert.equal(r.code, 0, `serf members failed: ${r.stdout}${r.stderr}`);
  const out = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const [name, , status] = line.trim().split(/\s+/);
    if (name && status) out.set(name, status);
  }
  return out;
}

/** Poll until serf lists every `name → status` of `want`. */
async function serfShows(
  agent: SerfAgent,
  want: Record<string, string>,
  timeoutMs: number,
  extraLog: () => string = () => "",
): Promise<void> {
  let last = new Map<string, string>();
  await pollUntil(
    `serf ${agent.options.name} to list ${JSON.stringify(want)}`,
    async () => {
      last = await serfMembers(agent);
      return Object.entries(want).every(([n, s]) => last.get(n) === s)
        ? true
        : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  ).catch((e) => {
    throw new Error(
      `${(e as Error).message}; last: ${
        JSON.stringify([...last])
      }\n${extraLog()}\nserf log:\n${agent.log}`,
    );
  });
}

/**
 * Wait until a line at or after index `from` of a growing log matches `re`.
 *
 * @param lines The log (appended to as output arrives).
 * @param from First index to look at.
 * @param re The pattern.
 * @param timeoutMs Deadline.
 * @returns The matching line.
 */
function lineAfter(
  lines: readonly string[],
  from: number,
  re: RegExp,
  timeoutMs: number,
): Promise<string> {
  return pollUntil(
    `a log line ${re}`,
    () => lines.slice(from).find((l) => re.test(l)),
    { timeoutMs },
  ).catch((e) => {
    throw new Error(`${(e as Error).message}; log:\n${lines.join("\n")}`);
  });
}

/** A fresh key from `serf keygen`. */
async function keygen(): Promise<string> {
  const r = await runSerfCli(["keygen"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

// -------------------------------------------------------------------- tests

test(
  "serf interop: our member and serf agents join each other both ways, with and without compression, and see each other's crash",
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const H = "127.0.82";
    let s1: SerfAgent | undefined;
    let s2: SerfAgent | undefined;
    let g1: SerfNode | undefined;
    const userEvents: string[] = [];
    let consuming: Promise<void> | undefined;
    try {
      // Our member joins a serf agent (compression on: serf's default).
      s1 = await serfAgent("s1", `${H}.1`);
      const a1 = s1;
      g1 = await startSerf({ name: "g1", bind: `${H}.2:${GOSSIP_PORT}` });
      const g = g1;
      consuming = (async () => {
        for await (const e of g.events()) {
          if (e.type === "user") {
            userEvents.push(
              `${e.name}=${new TextDecoder().decode(e.payload ?? undefined)}`,
            );
          }
        }
      })();
      assert.equal(await g.join([`${H}.1:${GOSSIP_PORT}`]), 1);
      await serfShows(a1, { s1: "alive", g1: "alive" }, CONVERGE_MS);
      assert.equal(g.memberStatus("s1"), "alive");

      // A serf agent with compression off joins *our* member through its CLI.
      s2 = await serfAgent("s2", `${H}.3`, {
        extraArgs: ["-disable-compression"],
      });
      const a2 = s2;
      const joined = await a2.cli("join", [`${H}.2:${GOSSIP_PORT}`]);
      assert.equal(joined.code, 0, joined.stdout + joined.stderr);
      assert.match(joined.stdout, /Successfully joined cluster/);
      const three = { s1: "alive", s2: "alive", g1: "alive" };
      await serfShows(a2, three, CONVERGE_MS);
      await serfShows(a1, three, CONVERGE_MS);
      await pollUntil(
        "g1 to see s2 alive",
        () => (g.memberStatus("s2") === "alive" ? true : undefined),
        { timeoutMs: CONVERGE_MS },
      );

      // User events: compressed gossip from s1, plain from s2, ours to both.
      for (
        const [agent, name] of [[a1, "packed"], [a2, "plain"]] as const
      ) {
        const r = await agent.cli("event", [
          "-coalesce=false",
          name,
          `from-${agent.options.name}`,
        ]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
      }
      await pollUntil(
        `g1 to receive both user events (got ${userEvents.join(", ")})`,
        () =>
          userEvents.includes("packed=from-s1") &&
            userEvents.includes("plain=from-s2")
            ? true
            : undefined,
        { timeoutMs: CONVERGE_MS },
      );
      g.userEvent("ours", text("from-g1"), false);
      await a1.waitForLog(/Received event: user-event: ours/, CONVERGE_MS);
      await a2.waitForLog(/Received event: user-event: ours/, CONVERGE_MS);

      // serf dies without a leave: our member marks it failed.
      assert.deepEqual(a2.logLines.filter((l) => /\[ERR\]/.test(l)), []);
      await a2.stop();
      await pollUntil(
        `g1 to mark s2 failed within ${DETECT_MS} ms`,
        () => (g.memberStatus("s2") === "failed" ? true : undefined),
        { timeoutMs: DETECT_MS },
      );
      // Our member dies without a leave: serf marks it failed.
      await g.shutdown();
      await serfShows(a1, { g1: "failed", s1: "alive" }, DETECT_MS);
      // serf rejected none of our bytes (a refused dial to a crashed member would be benign).
      const errors = a1.logLines.filter((l) =>
        /\[ERR\]/.test(l) && !/connection refused/.test(l)
      );
      assert.deepEqual(errors, [], a1.log);
    } finally {
      await g1?.shutdown();
      await consuming;
      await s2?.stop();
      await s1?.stop();
    }
  },
);

test(
  "serf interop: encryption with a serf keygen key admits Deno and Bun members; a wrong key is refused cleanly",
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const H = "127.0.83";
    let s: SerfAgent | undefined;
    const procs: CliMember[] = [];
    try {
      const key = await keygen();
      const wrong = await keygen();
      assert.notEqual(key, wrong);
      s = await serfAgent("s", `${H}.1`, { encryptKey: key });
      const agent = s;
      const seed = `${H}.1:${GOSSIP_PORT}`;
      const ed = new CliMember("deno", "ed", `${H}.2`, {
        seeds: [seed],
        encrypt: key,
      });
      const eb = new CliMember("bun", "eb", `${H}.3`, {
        seeds: [seed],
        encrypt: key,
      });
      procs.push(ed, eb);
      await serfShows(
        agent,
        { s: "alive", ed: "alive", eb: "alive" },
        CONVERGE_MS + 10_000,
        () => ed.log + eb.log,
      );
      // Encrypted gossip is read both ways: a serf user event reaches both processes.
      const ev = await agent.cli("event", [
        "-coalesce=false",
        "secret",
        "hush",
      ]);
      assert.equal(ev.code, 0, ev.stdout + ev.stderr);
      for (const p of [ed, eb]) {
        await p.waitForLog(/Received event: user-event: secret/, CONVERGE_MS);
      }

      // A member with another key: its join fails and nobody lists it.
      const bad = new CliMember("bun", "bad", `${H}.4`, {
        seeds: [seed],
        encrypt: wrong,
      });
      procs.push(bad);
      await bad.waitForLog(/\[ERR\].*join/i, 15_000);
      await agent.waitForLog(/No installed keys could decrypt/, CONVERGE_MS);
      const members = await serfMembers(agent);
      assert.equal(members.get("bad"), undefined, JSON.stringify([...members]));
      assert.equal(members.get("ed"), "alive");
      assert.equal(members.get("eb"), "alive");
      assert.ok(!bad.logged(/EventMemberJoin: (s|ed|eb) /), bad.log);
      // Nothing crashed: serf answers RPC (above), every process still runs and leaves on SIGINT.
      assert.ok(!agent.exited, "serf agent still runs");
      assert.ok(!bad.done && !ed.done && !eb.done, "our processes still run");
      for (const p of procs) p.signal("SIGINT");
      for (const p of procs) assert.equal(await p.exitCode(15_000), 0, p.log);
      await serfShows(agent, { ed: "left", eb: "left" }, CONVERGE_MS);
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
      await s?.stop();
    }
  },
);

test(
  "serf interop: a SIGSTOPped process is suspected by serf and refutes on SIGCONT (Deno and Bun)",
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const H = "127.0.84";
    let s: SerfAgent | undefined;
    const procs: CliMember[] = [];
    try {
      s = await serfAgent("s", `${H}.1`);
      const agent = s;
      const seed = `${H}.1:${GOSSIP_PORT}`;
      procs.push(
        new CliMember("deno", "pd", `${H}.2`, { seeds: [seed] }),
        new CliMember("bun", "pb", `${H}.3`, { seeds: [seed] }),
      );
      await serfShows(
        agent,
        { s: "alive", pd: "alive", pb: "alive" },
        CONVERGE_MS + 10_000,
        () => procs.map((p) => p.log).join("\n"),
      );
      // One at a time, so that the suspicion window is the only clock that matters: serf's
      // suspicion of a member lasts exactly SUSPICION_MS (k = 0 with three members), and the
      // process is resumed the moment serf logs it, after at least one probe timeout. Serf's
      // status stays "alive" while it suspects, so the proof is the refutation plus no failure
      // once the suspicion would have run out.
      for (const p of procs) {
        const serfFrom = agent.logLines.length;
        const ourFrom = p.lines.length;
        p.signal("SIGSTOP");
        const stoppedAt = Date.now();
        await lineAfter(
          agent.logLines,
          serfFrom,
          new RegExp(`Suspect ${p.name} has failed, no acks received`),
          DETECT_MS,
        );
        const suspectedAt = Date.now();
        p.signal("SIGCONT");
        assert.ok(
          suspectedAt - stoppedAt > PROBE_TIMEOUT_MS,
          `paused ${suspectedAt - stoppedAt} ms`,
        );
        await lineAfter(
          p.lines,
          ourFrom,
          /\[WARN\] memberlist: Refuting a suspect message \(from: /,
          SUSPICION_MS,
        );
        // Serf's suspicion began at the latest when it logged it, so it would have expired by
        // suspectedAt + SUSPICION_MS; watching past that shows it was cleared, not run out.
        const failed = new RegExp(
          `Marking ${p.name} as failed|EventMemberFailed: ${p.name} `,
        );
        await pollUntil(
          `serf's suspicion of ${p.name} to be over`,
          () => {
            const bad = agent.logLines.slice(serfFrom).find((l) =>
              failed.test(l)
            );
            assert.equal(bad, undefined, `${p.log}\nserf log:\n${agent.log}`);
            return Date.now() > suspectedAt + SUSPICION_MS + 1000
              ? true
              : undefined;
          },
          { timeoutMs: SUSPICION_MS + 5000, intervalMs: 100 },
        );
        assert.equal((await serfMembers(agent)).get(p.name), "alive");
      }
      // Still healthy members: both leave on SIGINT.
      for (const p of procs) p.signal("SIGINT");
      for (const p of procs) assert.equal(await p.exitCode(15_000), 0, p.log);
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
      await s?.stop();
    }
  },
);

test(
  "serf interop: cli.ts join on Deno and on Bun joins a serf agent; SIGKILL on either side is marked failed",
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const H = "127.0.85";
    let s: SerfAgent | undefined;
    const procs: CliMember[] = [];
    try {
      s = await serfAgent("s", `${H}.1`);
      const agent = s;
      const seed = `${H}.1:${GOSSIP_PORT}`;
      const jd = new CliMember("deno", "jd", `${H}.2`, { seeds: [seed] });
      const jb = new CliMember("bun", "jb", `${H}.3`, { seeds: [seed] });
      procs.push(jd, jb);
      await Promise.all(procs.map((p) => listening(p, 20_000)));
      await serfShows(
        agent,
        { s: "alive", jd: "alive", jb: "alive" },
        CONVERGE_MS,
        () => jd.log + jb.log,
      );
      for (const p of procs) {
        for (const n of ["s", "jd", "jb"]) {
          await p.waitForLog(new RegExp(`EventMemberJoin: ${n} `), CONVERGE_MS);
        }
      }

      // Our Bun process is killed: serf (and our Deno process) mark it failed.
      jb.signal("SIGKILL");
      await serfShows(agent, { jb: "failed", jd: "alive" }, DETECT_MS);
      await jd.waitForLog(/EventMemberFailed: jb /, DETECT_MS);

      // serf is killed: our Deno process marks it failed.
      await agent.stop();
      await jd.waitForLog(/EventMemberFailed: s /, DETECT_MS);
      jd.signal("SIGINT");
      assert.equal(await jd.exitCode(15_000), 0, jd.log);
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
      await s?.stop();
    }
  },
);
