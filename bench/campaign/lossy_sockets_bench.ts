/**
 * Real sockets at 20 % datagram loss, Lifeguard on and off: repeats
 * `runLossySockets` (16 memberlist members on 127.0.116.1–16, 20 % end-to-end
 * datagram loss, a 2 s and a
 * 15 s isolation, two crashes) for each mode and seed and prints the counts.
 *
 * ```sh
 * npx deno run -A bench/campaign/lossy_sockets_bench.ts [rounds]
 * npx bun bench/campaign/lossy_sockets_bench.ts [rounds]
 * ```
 *
 * @module
 */

import process from "node:process";
import {
  CAMPAIGN_MODE_CONFIG,
  type CampaignMode,
} from "../../src/testing/campaign.ts";
import { runLossySockets } from "../../src/testing/campaign_sockets.ts";

const rounds = Number(process.argv[2] ?? 3);
const hosts = Array.from({ length: 16 }, (_, i) => `127.0.116.${i + 1}`);
const modes: CampaignMode[] = ["default", "no-veto", "swim"];
const rows: string[] = [
  "| mode | rounds | false deaths (healthy) | of them the 2 s-paused member | long-pause deaths | deaths declared by the isolated member | missed detections | detection p50 / max (s) | failed probes | refutations | long pause recovered |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
];
const runtime = "Bun" in globalThis
  ? `bun ${process.versions.bun}`
  : `deno ${process.versions.deno}`;
for (const mode of modes) {
  let fd = 0, sp = 0, lp = 0, iso = 0, miss = 0, sus = 0, ref = 0, rec = 0;
  const det: number[] = [];
  for (let r = 1; r <= rounds; r++) {
    const x = await runLossySockets({
      hosts,
      port: 7946,
      seed: r,
      config: { ...CAMPAIGN_MODE_CONFIG[mode], pushPullIntervalMs: 5_000 },
    });
    fd += x.falseDeaths.length;
    sp += x.shortPauseDeaths;
    lp += x.longPauseDeaths;
    iso += x.isolatedDeaths;
    miss += x.missedDetections.length;
    sus += x.suspicions;
    ref += x.refutes;
    rec += x.longPauseRecovered ? 1 : 0;
    det.push(...x.detectionsMs);
    console.error(
      `${mode} round ${r}: ${x.falseDeaths.length} false deaths, ${
        (x.wallMs / 1000).toFixed(1)
      } s`,
    );
  }
  det.sort((a, b) => a - b);
  const q = (p: number): string =>
    det.length === 0
      ? "–"
      : (det[Math.min(det.length - 1, Math.floor(p * det.length))] / 1000)
        .toFixed(1);
  rows.push(
    `| ${mode} | ${rounds} | ${fd} | ${sp} | ${lp} | ${iso} | ${miss} | ${
      q(0.5)
    } / ${q(1)} | ${sus} | ${ref} | ${rec}/${rounds} |`,
  );
}
console.log(
  `lossy sockets, 16 members, 20% datagram loss end to end, ${runtime}`,
);
console.log(rows.join("\n"));
