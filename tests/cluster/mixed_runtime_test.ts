/**
 * A mixed-runtime cluster in separate processes: two `deno run -A cli.ts join` members and two
 * `bun cli.ts join` members on 127.0.81.1–4, plus one Serf member in this test process (on the
 * runtime running the tests) on 127.0.81.5 as the observer.
 *
 * It proves that the four processes, two runtimes and their native transports form one cluster
 * (every process logs a join for every member, the observer sees all five alive), that a graceful
 * leave on SIGINT travels across runtimes (one Deno and one Bun member leave; the observer and
 * the two others see them "left"), and that every process exits 0 after SIGINT.
 *
 * ```
 *   d1 (deno, .81.1)   b1 (bun, .81.2)   d2 (deno, .81.3)   b2 (bun, .81.4)   obs (test, .81.5)
 *   started in this order; each joins (`cli.ts join … SEED…`) every member started before it
 * ```
 *
 * Runs in about 3 s (process start-up and the graceful leaves dominate). No serf binary is needed.
 *
 * @module
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { type SerfNode, startSerf } from "../../src/serf_node.ts";
import { CliMember } from "../helpers/cli_member.ts";
import { pollUntil } from "../interop/serf_harness.ts";

const PORT = 7946;
const OBSERVER = "127.0.81.5";

/**
 * How long a membership change may take to reach every member. The processes run the "local"
 * profile: retransmit multiplier 2, so an alive or a leave is gossiped only twice by each member
 * that learns it (`2 × ceil(log10(n + 1))`) and now and then a member misses it; memberlist then
 * repairs it at a push-pull, whose first run comes 15–30 s after start (random stagger plus one
 * interval, as in memberlist). Two things keep this test from waiting on that luck:
 *
 * - every process joins every process started before it, so each pair meets in a join push-pull
 *   and knows the other without gossip;
 * - the in-test observer push-pulls every {@linkcode OBSERVER_PUSH_PULL_MS} with a random member,
 *   so a leave anyone missed reaches the observer and, both ways, the member it syncs with.
 *
 * Typical spread is under a second; the deadline leaves room for a busy machine.
 */
const SPREAD_MS = 20_000;
/** The observer's push-pull interval (the "local" profile says 15 s). */
const OBSERVER_PUSH_PULL_MS = 1_000;

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

/** Wait until the member's memberlist TCP listener is up. */
async function listening(m: CliMember, timeoutMs: number): Promise<void> {
  await pollUntil(
    `${m.name} to listen on ${m.host}:${PORT}`,
    async () => {
      if (m.done) throw new Error(`${m.name} exited early\n${m.log}`);
      return (await accepts(m.host, PORT)) ? true : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

test(
  "mixed runtimes: 2 Deno + 2 Bun cli.ts processes converge, SIGINT leaves, all exit 0",
  { timeout: 60_000 },
  async () => {
    const procs: CliMember[] = [];
    let observer: SerfNode | undefined;
    const logs = (): string => procs.map((p) => p.log).join("\n");
    try {
      // Each process joins every one started before it, so every pair meets in a join push-pull
      // and convergence does not wait on gossip luck (see SPREAD_MS).
      const plan = [
        ["deno", "d1", "127.0.81.1"],
        ["bun", "b1", "127.0.81.2"],
        ["deno", "d2", "127.0.81.3"],
        ["bun", "b2", "127.0.81.4"],
      ] as const;
      for (const [runtime, name, host] of plan) {
        const seeds = procs.map((p) => `${p.host}:${PORT}`);
        const m = new CliMember(runtime, name, host, {
          seeds,
          port: PORT,
          extraArgs: ["--profile", "local"],
        });
        procs.push(m);
        await listening(m, 20_000);
      }
      const [d1, b1, d2, b2] = procs;

      observer = await startSerf({
        name: "obs",
        bind: `${OBSERVER}:${PORT}`,
        profile: "local",
        config: { memberlist: { pushPullIntervalMs: OBSERVER_PUSH_PULL_MS } },
      });
      const obs = observer;
      assert.equal(await obs.join(procs.map((p) => `${p.host}:${PORT}`)), 4);
      const all = ["d1", "d2", "b1", "b2", "obs"];
      await pollUntil(
        "the observer to see all five alive and every process to log five joins",
        () =>
          all.every((n) => obs.memberStatus(n) === "alive") &&
            procs.every((p) =>
              all.every((n) => p.logged(new RegExp(`EventMemberJoin: ${n} `)))
            )
            ? true
            : undefined,
        { timeoutMs: SPREAD_MS },
      ).catch((e) => {
        throw new Error(`${(e as Error).message}\n${logs()}`);
      });

      // One Deno and one Bun member leave gracefully. A member that missed the leave gossip may
      // first see the silent member as failed; Serf's leave intent (gossip, then push-pull) turns
      // that into "left" ("EventMemberLeave (forced)"), so the final status is what is checked.
      const LEFT_D2 = /EventMemberLeave( \(forced\))?: d2 /;
      const LEFT_B2 = /EventMemberLeave( \(forced\))?: b2 /;
      d2.signal("SIGINT");
      b2.signal("SIGINT");
      assert.equal(await d2.exitCode(15_000), 0, d2.log);
      assert.equal(await b2.exitCode(15_000), 0, b2.log);
      await pollUntil(
        "the observer and the two remaining processes to see d2 and b2 left",
        () =>
          obs.memberStatus("d2") === "left" &&
            obs.memberStatus("b2") === "left" &&
            [d1, b1].every((p) => p.logged(LEFT_D2) && p.logged(LEFT_B2))
            ? true
            : undefined,
        { timeoutMs: SPREAD_MS },
      ).catch((e) => {
        throw new Error(`${(e as Error).message}\n${logs()}`);
      });
      assert.equal(obs.memberStatus("d1"), "alive");
      assert.equal(obs.memberStatus("b1"), "alive");

      d1.signal("SIGINT");
      b1.signal("SIGINT");
      assert.equal(await d1.exitCode(15_000), 0, d1.log);
      assert.equal(await b1.exitCode(15_000), 0, b1.log);
    } finally {
      await observer?.shutdown();
      await Promise.all(procs.map((p) => p.stop()));
    }
  },
);
