// Lifeguard (Dadgar et al., 2018) against CPU starvation: a third of the
// members are SIGSTOPped in bursts, and we count the members declared dead
// with Lifeguard on (memberlist's defaults) and off (awarenessMaxMultiplier
// 1: no local health; suspicionMaxTimeoutMult 1: every suspicion runs the
// minimum timeout, confirmations change nothing), on the same seeds. Both
// run as memberlist 0.2.2 does, without our liveness veto
// (`suspicionLivenessVeto: false`) and with its gossip timing
// (`eagerGossip: false`); a third run shows our default, Lifeguard plus the
// veto and eager gossip, on the same seeds.
//
// Why bursts of 1–3 s and not shorter: memberlist's prober waits for any ack
// until the end of its 1 s probe interval, and a paused member answers at
// resume, so pauses under ~1 s make neither configuration suspect anyone
// (measured: 300–800 ms bursts gave 0 deaths either way). Bursts of 1–3 s are
// still far below the 6.8 s minimum suspicion timeout for 50 members, so no
// death here is justified. Starved members also wake with overdue timers
// before reading their socket (the network's "timersFirst" resume order), so
// they falsely accuse healthy members — the case Lifeguard targets. 10%
// background loss makes refutations miss a few members, as on a busy LAN.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lanConfig } from "../../src/config.ts";
import { suspicionTimeoutMs } from "../../src/memberlist/formulas.ts";
import { memberlistCluster } from "../../src/testing/memberlist_sim.ts";

const N = 50;
const STARVED = 0.3;
const RUN_MS = 300_000;

interface Outcome {
  deaths: number;
  healthyDeaths: number;
  suspicions: number;
  vetoes: number;
}

type Mode = "lifeguard" | "swim" | "default";

function trial(seed: number, mode: Mode): Outcome {
  const c = memberlistCluster({
    seed,
    expectedSize: N,
    checkers: "light",
    failFast: true,
    traceLines: 0,
    config: mode === "default"
      ? {}
      : mode === "lifeguard"
      ? { suspicionLivenessVeto: false, eagerGossip: false }
      : {
        awarenessMaxMultiplier: 1,
        suspicionMaxTimeoutMult: 1,
        suspicionLivenessVeto: false,
        eagerGossip: false,
      },
  });
  c.start(N);
  c.joinAll();
  assert.notEqual(
    c.runUntil(() => c.convergence().length === 0, 120_000, 1_000),
    null,
  );
  c.setLink({ lossRate: 0.1 });
  // The fault schedule comes from the cluster's fault PRNG, so both
  // configurations see exactly the same pauses.
  const rng = c.faults;
  const starved = rng.shuffle(c.names()).slice(0, Math.round(N * STARVED));
  const end = c.nowMs + RUN_MS;
  for (const name of starved) {
    let t = c.nowMs + rng.range(0, 2_000);
    while (t < end) {
      const ms = rng.range(1_000, 3_000);
      c.at(t, () => c.pause(name, ms));
      t += ms + rng.range(20, 300);
    }
  }
  const isStarved = new Set(starved);
  const out: Outcome = {
    deaths: 0,
    healthyDeaths: 0,
    suspicions: 0,
    vetoes: 0,
  };
  c.onEvent((_observer, e) => {
    if (e.type !== "leave" || e.member.state !== "dead") return;
    out.deaths++;
    if (!isStarved.has(e.member.name)) out.healthyDeaths++;
  });
  c.run(RUN_MS);
  c.finish();
  assert.equal(c.violationCount, 0);
  for (const n of c.names()) {
    const stats = c.machine(n)!.stats();
    out.suspicions += stats.probeFailures;
    out.vetoes += stats.livenessVetoes;
  }
  return out;
}

test(
  "Lifeguard: with 30% of members starved in 1–3 s bursts, healthy members are declared dead far less often",
  { timeout: 60_000 },
  () => {
    const lan = lanConfig();
    assert.ok(
      3_000 < suspicionTimeoutMs(lan.suspicionMult, N, lan.probeIntervalMs),
      "no pause outlasts a suspicion",
    );
    const zero = (): Outcome => ({
      deaths: 0,
      healthyDeaths: 0,
      suspicions: 0,
      vetoes: 0,
    });
    const on = zero();
    const off = zero();
    const veto = zero();
    for (const seed of [1, 2]) {
      const a = trial(seed, "lifeguard");
      const b = trial(seed, "swim");
      const d = trial(seed, "default");
      for (const k of Object.keys(on) as (keyof Outcome)[]) {
        on[k] += a[k];
        off[k] += b[k];
        veto[k] += d[k];
      }
    }
    const ratio = (
      x: number,
      y: number,
    ): string => (y === 0 ? "n/a" : (x / y).toFixed(2));
    console.log(
      `Lifeguard on/off, 50 members, 2 seeds × ${RUN_MS / 1000} s: ` +
        `healthy members declared dead ${on.healthyDeaths}/${off.healthyDeaths} (ratio ${
          ratio(on.healthyDeaths, off.healthyDeaths)
        }), ` +
        `all dead declarations ${on.deaths}/${off.deaths} (ratio ${
          ratio(on.deaths, off.deaths)
        }), ` +
        `failed probes ${on.suspicions}/${off.suspicions} (ratio ${
          ratio(on.suspicions, off.suspicions)
        }); ` +
        `with the liveness veto (our default): healthy ${veto.healthyDeaths}, all ${veto.deaths}, ` +
        `failed probes ${veto.suspicions}, ${veto.vetoes} deaths vetoed`,
    );
    // Without Lifeguard the scenario does produce false positives …
    assert.ok(
      off.healthyDeaths >= 10,
      `without Lifeguard: ${off.healthyDeaths} healthy members declared dead`,
    );
    // … and Lifeguard removes most of them.
    assert.ok(
      on.healthyDeaths <= 0.5 * off.healthyDeaths,
      `healthy deaths ${on.healthyDeaths} vs ${off.healthyDeaths}`,
    );
    assert.ok(
      on.deaths <= 0.75 * off.deaths,
      `all deaths ${on.deaths} vs ${off.deaths}`,
    );
    // Local health: starved members probe less eagerly, so fewer probes fail.
    assert.ok(on.suspicions < off.suspicions);
    // The liveness veto on top: no healthy member is declared dead, and no
    // more starved ones than with Lifeguard alone.
    assert.equal(veto.healthyDeaths, 0);
    assert.ok(veto.deaths <= on.deaths, `${veto.deaths} vs ${on.deaths}`);
  },
);
