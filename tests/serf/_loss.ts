// Delivery ratios of events and queries under loss (used by loss_test.ts;
// run directly to print the figures for several seeds).
import { recordEvents, serfCluster } from "./_harness.ts";
import { derivePrng } from "../../src/testing/prng.ts";

export function lossRun(
  seed: number,
  loss: number,
  n = 10,
  events = 30,
  queries = 20,
  relayFactor = 0,
) {
  const c = serfCluster({
    seed,
    network: { lossRate: loss },
    config: { protocolVersion: 5 },
  });
  c.start(n);
  const log = recordEvents(c);
  c.joinAll();
  c.run(20_000);
  const names = c.names();
  const r = derivePrng(seed, "test").fn();
  const qids: Array<[string, number]> = [];
  for (let i = 0; i < events; i++) {
    const from = names[Math.floor(r() * n)];
    c.invoke(from, (s, now) => s.userEvent(`ev${i}`, null, false, now));
    c.run(200);
  }
  for (let i = 0; i < queries; i++) {
    const from = names[Math.floor(r() * n)];
    c.invoke(
      from,
      (s, now) =>
        qids.push([
          from,
          s.query(`q${i}`, null, { requestAck: true, relayFactor }, now),
        ]),
    );
    c.run(100);
    // every member answers as soon as it sees a query
    for (const m of names) {
      const list = log.get(m) ?? [];
      for (const x of list) {
        if (x.e.type === "query" && !(x as { done?: boolean }).done) {
          (x as { done?: boolean }).done = true;
          try {
            c.invoke(
              m,
              (s, now) => s.respond((x.e as { id: number }).id, null, now),
            );
          } catch { /* late */ }
        }
      }
    }
  }
  // answer queries seen later
  for (let k = 0; k < 40; k++) {
    c.run(100);
    for (const m of names) {
      for (const x of log.get(m) ?? []) {
        if (x.e.type === "query" && !(x as { done?: boolean }).done) {
          (x as { done?: boolean }).done = true;
          try {
            c.invoke(
              m,
              (s, now) => s.respond((x.e as { id: number }).id, null, now),
            );
          } catch { /* late */ }
        }
      }
    }
  }
  const gossipAt = c.nowMs;
  c.run(60_000);
  let delivered = 0;
  let deliveredByGossip = 0;
  for (const m of names) {
    const seen = new Set<string>();
    for (const x of log.get(m) ?? []) {
      if (x.e.type === "user" && x.e.name.startsWith("ev")) {
        if (!seen.has(x.e.name)) {
          seen.add(x.e.name);
          delivered++;
          if (x.at <= gossipAt) deliveredByGossip++;
        }
      }
    }
  }
  let responses = 0, acks = 0, queriesSeen = 0;
  for (const [from, qid] of qids) {
    for (const x of log.get(from) ?? []) {
      if (x.e.type === "queryResponse" && x.e.queryId === qid) responses++;
      if (x.e.type === "queryAck" && x.e.queryId === qid) acks++;
    }
  }
  for (const m of names) {
    for (const x of log.get(m) ?? []) if (x.e.type === "query") queriesSeen++;
  }
  return {
    eventRatio: delivered / (events * n),
    eventRatioGossipOnly: deliveredByGossip / (events * n),
    queryReach: queriesSeen / (queries * n),
    ackRatio: acks / (queries * n),
    responseRatio: responses / (queries * n),
  };
}

if (import.meta.main) {
  for (const rf of [0, 2]) {
    for (const seed of [1, 2, 3, 4, 5]) {
      console.log(
        `rf=${rf} seed=${seed}`,
        JSON.stringify(lossRun(seed, 0.1, 10, 30, 20, rf)),
      );
    }
  }
}
