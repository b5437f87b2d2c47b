/**
 * The `--campaign` mode of the VOPR command line (see `vopr_main.ts`):
 * parse flags, run seeds × modes (in this process or spread over child
 * processes of the same runtime), print progress, failures and the
 * comparison table.
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  addResult,
  CAMPAIGN_MODE_CONFIG,
  CAMPAIGN_MODES,
  campaignBounds,
  type CampaignMode,
  type CampaignOptions,
  type CampaignResult,
  type CampaignSummary,
  emptySummary,
  formatCampaignTable,
  formatPlan,
  planCampaign,
  runCampaignSeed,
} from "./campaign.ts";
import { profileConfig } from "../config.ts";
import { wholeNumberFlag } from "./_flags.ts";

/** Prefix of the result lines a child process prints for its parent. */
const JSON_PREFIX = "CAMPAIGN_RESULT ";

/**
 * Run the campaign CLI.
 *
 * @param argv arguments without the program name (with `--campaign`)
 * @returns the exit code: 0 when no seed failed in any mode
 */
export async function campaignMain(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      campaign: { type: "boolean" },
      seeds: { type: "string" },
      seed: { type: "string" },
      first: { type: "string" },
      members: { type: "string" },
      loss: { type: "string" },
      "fault-s": { type: "string" },
      modes: { type: "string" },
      workers: { type: "string" },
      json: { type: "boolean" },
      child: { type: "boolean" },
      aggregate: { type: "string" },
      verbose: { type: "boolean" },
    },
  });
  const options: CampaignOptions = {
    members: wholeNumberFlag("members", values.members ?? "50", 3),
    lossRate: rate(values.loss ?? "0.2"),
    faultMs: wholeNumberFlag("fault-s", values["fault-s"] ?? "180", 1) * 1_000,
  };
  const modes = (values.modes ?? CAMPAIGN_MODES.join(",")).split(",").map(
    (m) => {
      if (!(CAMPAIGN_MODES as readonly string[]).includes(m)) {
        throw new RangeError(
          `Invalid --modes: ${m} (use ${CAMPAIGN_MODES.join(", ")})`,
        );
      }
      return m as CampaignMode;
    },
  );
  if (values.aggregate !== undefined) {
    return aggregate(values.aggregate, modes, options);
  }
  if (values.seed !== undefined) {
    return replay(wholeNumberFlag("seed", values.seed, 0), modes, options);
  }
  const count = wholeNumberFlag("seeds", values.seeds ?? "100", 1);
  const first = wholeNumberFlag("first", values.first ?? "1", 0);
  const workers = Math.min(
    count,
    wholeNumberFlag("workers", values.workers ?? "1", 1),
  );
  const summaries = new Map(modes.map((m) => [m, emptySummary(m)]));
  const started = performance.now();
  const isChild = values.child === true;
  let done = 0;
  const onResult = (r: CampaignResult): void => {
    if (values.json) console.log(JSON_PREFIX + JSON.stringify(r));
    else {
      addResult(summaries.get(r.mode)!, r);
      if (!r.ok) {
        console.log(
          `seed=${r.seed} mode=${r.mode} FAILED: ${r.error}\n` +
            `  replay: deno task vopr --campaign --seed ${r.seed} --modes ${r.mode} ${
              flagsOf(options)
            }`,
        );
      } else if (values.verbose) {
        console.log(
          `seed=${r.seed} mode=${r.mode} ok trace=${r.traceHash} falseDeaths=${r.falseDeaths} shortPauseDeaths=${r.shortPauseDeaths} maxDetectionMs=${r.maxDetectionMs}`,
        );
      }
    }
    // Progress on stderr; child processes (workers > 1 spawns them with
    // --json and one worker each) leave it to their parent.
    if (++done % (10 * modes.length) === 0 && !isChild) {
      const s = (performance.now() - started) / 1000;
      console.error(
        `${done / modes.length}/${count} seeds × ${modes.length} modes, ${
          s.toFixed(0)
        } s (${(s / (done / modes.length)).toFixed(2)} s/seed)`,
      );
    }
  };
  if (workers <= 1) {
    for (let seed = first; seed < first + count; seed++) {
      for (const mode of modes) onResult(runCampaignSeed(seed, mode, options));
    }
  } else {
    await runWorkers(first, count, workers, modes, options, onResult);
  }
  if (values.json) return 0;
  const wallS = (performance.now() - started) / 1000;
  const list = [...summaries.values()];
  printSummary(list, options, first, count, wallS, workers);
  return list.every((s) => s.failed === 0) ? 0 : 1;
}

/**
 * Summarize the result lines a `--json` run wrote to a file (complete or
 * cut short), as if the seeds had run now.
 */
function aggregate(
  file: string,
  modes: readonly CampaignMode[],
  options: CampaignOptions,
): number {
  const summaries = new Map(modes.map((m) => [m, emptySummary(m)]));
  const seeds = new Set<number>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.startsWith(JSON_PREFIX)) continue;
    const r = {
      wokenDeaths: 0, // lines written before this field existed
      ...JSON.parse(line.slice(JSON_PREFIX.length)),
    } as CampaignResult;
    const s = summaries.get(r.mode);
    if (s === undefined) continue;
    addResult(s, r);
    seeds.add(r.seed);
  }
  const list = [...summaries.values()];
  const first = Math.min(...seeds);
  console.log(`aggregated from ${file}: ${seeds.size} distinct seeds`);
  printSummary(list, options, first, Math.max(...seeds) - first + 1, NaN, 0);
  return list.every((s) => s.failed === 0) ? 0 : 1;
}

function flagsOf(o: CampaignOptions): string {
  return `--members ${o.members} --loss ${o.lossRate} --fault-s ${
    (o.faultMs ?? 180_000) / 1000
  }`;
}

function printSummary(
  list: readonly CampaignSummary[],
  options: CampaignOptions,
  first: number,
  count: number,
  wallS: number,
  workers: number,
): void {
  const n = options.members ?? 50;
  const runtime = "Bun" in globalThis
    ? `bun ${process.versions.bun}`
    : "Deno" in globalThis
    ? `deno ${process.versions.deno}`
    : `node ${process.versions.node}`;
  console.log(
    `campaign: seeds ${first}…${first + count - 1}, ${n} members, ${
      Math.round((options.lossRate ?? 0.2) * 100)
    }% loss, ${(options.faultMs ?? 180_000) / 1000} s of faults per seed; ${
      Number.isNaN(wallS)
        ? "aggregated (pass the run's --members/--loss/--fault-s)"
        : `${runtime}, ${workers} worker(s), ${wallS.toFixed(1)} s wall`
    }`,
  );
  for (const s of list) {
    const b = campaignBounds(
      profileConfig("lan", CAMPAIGN_MODE_CONFIG[s.mode]),
      n,
    );
    console.log(
      `  ${s.mode}: detection bound ${b.formula}; ${
        (s.virtualMs / 1000).toFixed(0)
      } virtual s, ${s.steps} steps` +
        (s.failed > 0
          ? `; FAILED seeds ${s.failures.map((f) => f.seed).join(", ")}`
          : ""),
    );
  }
  console.log(formatCampaignTable(list));
}

function replay(
  seed: number,
  modes: readonly CampaignMode[],
  options: CampaignOptions,
): number {
  console.log(formatPlan(planCampaign(seed, options)));
  let code = 0;
  for (const mode of modes) {
    const r = runCampaignSeed(seed, mode, { ...options, traceLines: 400 });
    console.log(
      `seed=${seed} mode=${mode} ${
        r.ok ? "ok" : "FAILED"
      } trace=${r.traceHash} ` +
        `crashes=${r.crashes} detections=${r.detections} maxDetection=${r.maxDetectionMs}ms ` +
        `(bound ${r.detectionBoundMs}ms) falseDeaths=${r.falseDeaths} ` +
        `shortPauseDeaths=${r.shortPauseDeaths} explainedDeaths=${r.explainedDeaths} ` +
        `failedProbes=${r.suspicions} refutes=${r.refutes} vetoes=${r.vetoes} ` +
        `virtual=${(r.virtualMs / 1000).toFixed(1)}s steps=${r.steps}`,
    );
    if (!r.ok) {
      code = 1;
      console.log(
        `  ${r.error}\n--- trace (last lines) ---\n${r.trace.join("\n")}`,
      );
    }
  }
  return code;
}

async function runWorkers(
  first: number,
  count: number,
  workers: number,
  modes: readonly CampaignMode[],
  options: CampaignOptions,
  onResult: (r: CampaignResult) => void,
): Promise<void> {
  const script = fileURLToPath(new URL("./vopr_main.ts", import.meta.url));
  const prefix = "Deno" in globalThis && !("Bun" in globalThis)
    ? ["run", "-A", script]
    : [script];
  const jobs: Promise<void>[] = [];
  let start = first;
  for (let w = 0; w < workers; w++) {
    // Contiguous chunks; the last ones take the remainder.
    const size = Math.floor(count / workers) + (w < count % workers ? 1 : 0);
    const args = [
      ...prefix,
      "--campaign",
      "--json",
      "--child",
      "--first",
      String(start),
      "--seeds",
      String(size),
      "--modes",
      modes.join(","),
      ...flagsOf(options).split(" "),
    ];
    start += size;
    jobs.push(
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, args, {
          stdio: ["ignore", "pipe", "inherit"],
        });
        const lines = createInterface({ input: child.stdout! });
        lines.on("line", (line: string) => {
          if (line.startsWith(JSON_PREFIX)) {
            onResult(JSON.parse(line.slice(JSON_PREFIX.length)));
          } else if (line.length > 0) console.log(line);
        });
        child.on("error", reject);
        child.on("close", (code: number | null) => {
          if (code === 0) resolve();
          else reject(new Error(`campaign worker exited with ${code}`));
        });
      }),
    );
  }
  await Promise.all(jobs);
}

function rate(text: string): number {
  const r = Number(text);
  if (!(r >= 0 && r < 1)) {
    throw new RangeError(
      `Invalid --loss: ${JSON.stringify(text)} must be a fraction in [0, 1)`,
    );
  }
  return r;
}
