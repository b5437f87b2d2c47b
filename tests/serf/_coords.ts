// A known latency matrix and how well Vivaldi learns it (used by
// coordinates_test.ts; run directly to print the figures).
import { serfCluster, serfOf } from "./_harness.ts";

/** Positions in ms: RTT between two members = 2 × round(distance / 2). */
export const POSITIONS: Array<[number, number]> = [
  [0, 0],
  [30, 0],
  [0, 40],
  [30, 40],
  [60, 0],
  [90, 40],
  [15, 80],
  [120, 10],
];

export function trueRtt(i: number, j: number): number {
  const [x1, y1] = POSITIONS[i], [x2, y2] = POSITIONS[j];
  return 2 * Math.round(Math.hypot(x1 - x2, y1 - y2) / 2);
}

export function coordinateRun(seed: number, runMs: number) {
  const c = serfCluster({ seed, network: { jitterMs: 0, latencyMs: 1 } });
  const names = c.start(POSITIONS.length);
  for (let i = 0; i < names.length; i++) {
    for (let j = 0; j < names.length; j++) {
      if (i !== j) {
        c.network.setLink(i, j, { latencyMs: trueRtt(i, j) / 2, jitterMs: 0 });
      }
    }
  }
  c.joinAll();
  c.run(runMs);
  const errors: number[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      // serf rtt a b, asked of a third member's cache (as the CLI asks one agent).
      const observer = names[(j + 1) % names.length];
      const est = serfOf(c, observer).estimateRttMs(names[i], names[j]);
      if (est === null) {
        throw new Error(
          `no coordinate for ${names[i]} or ${names[j]} at ${observer}`,
        );
      }
      errors.push(Math.abs(est - trueRtt(i, j)) / trueRtt(i, j));
    }
  }
  errors.sort((a, b) => a - b);
  const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
  const resets = names.reduce(
    (n, x) => n + (serfOf(c, x).stats().coordinateResets ?? 0),
    0,
  );
  return {
    mean,
    median: errors[Math.floor(errors.length / 2)],
    p90: errors[Math.floor(errors.length * 0.9)],
    max: errors[errors.length - 1],
    resets,
  };
}

if (import.meta.main) {
  for (const seed of [1, 2, 3]) {
    for (const t of [60_000, 180_000, 600_000]) {
      console.log(seed, t, JSON.stringify(coordinateRun(seed, t)));
    }
  }
}
