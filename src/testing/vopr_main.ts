/**
 * VOPR command line: `deno task vopr --seeds N [--seed S] [--members M]
 * [--profile lan|local|wan] [--first F] [--verbose]`, or the same with
 * `bun src/testing/vopr_main.ts`.
 *
 * `--seed S` replays one seed and prints its scenario and trace hash;
 * `--seeds N` sweeps seeds F … F + N − 1 (F defaults to 1) and prints every
 * failure with its seed, script and trace tail. Exits 1 on any failure.
 *
 * `--campaign` runs fault campaigns instead (`./campaign.ts`, issue #7):
 * `deno task vopr --campaign --seeds 1000 --members 50 --loss 0.2
 * [--fault-s 180] [--modes default,no-veto,no-lifeguard,swim] [--workers 2]`
 * runs every seed in every mode and prints the comparison table; with
 * `--seed S` it replays one seed (plan, per-mode outcome, trace tail on
 * failure). `--workers W` splits the seeds over W child processes of the
 * same runtime.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import type { ProfileName } from "../config.ts";
import { campaignMain } from "./campaign_main.ts";
import {
  formatFailure,
  runVopr,
  runVoprSeed,
  type VoprOptions,
} from "./vopr.ts";
import { wholeNumberFlag } from "./_flags.ts";

/**
 * Run the CLI.
 *
 * @param argv arguments without the program name
 * @returns the exit code
 */
export function main(argv: string[]): number | Promise<number> {
  if (argv.includes("--campaign")) return campaignMain(argv);
  const { values } = parseArgs({
    args: argv,
    options: {
      seeds: { type: "string" },
      seed: { type: "string" },
      first: { type: "string" },
      members: { type: "string" },
      profile: { type: "string" },
      verbose: { type: "boolean" },
    },
  });
  const options: VoprOptions = {};
  if (values.members !== undefined) {
    options.members = wholeNumberFlag("members", values.members, 2);
  }
  if (values.profile !== undefined) {
    if (!["lan", "local", "wan"].includes(values.profile)) {
      throw new RangeError(
        `Invalid --profile: ${values.profile} (use lan, local or wan)`,
      );
    }
    options.profile = values.profile as ProfileName;
  }
  if (values.seed !== undefined) {
    const r = runVoprSeed(wholeNumberFlag("seed", values.seed, 0), {
      ...options,
      traceLines: 400,
    });
    if (!r.ok) {
      console.log(formatFailure(r));
      return 1;
    }
    console.log(r.script);
    console.log(
      `seed=${r.seed} ok trace=${r.traceHash} virtual=${
        (r.virtualMs / 1000).toFixed(1)
      }s steps=${r.steps} falsePositives=${r.falsePositives}`,
    );
    return 0;
  }
  const count = wholeNumberFlag("seeds", values.seeds ?? "100", 1);
  const first = wholeNumberFlag("first", values.first ?? "1", 0);
  const started = performance.now();
  let done = 0;
  const summary = runVopr(first, count, {
    ...options,
    onResult: (r) => {
      done++;
      if (!r.ok) console.log(formatFailure(r));
      else if (values.verbose) {
        console.log(`seed=${r.seed} ok trace=${r.traceHash}`);
      }
      if (done % 100 === 0) {
        console.error(
          `${done}/${count} seeds, ${
            ((performance.now() - started) / 1000).toFixed(1)
          } s`,
        );
      }
    },
  });
  const wallS = (performance.now() - started) / 1000;
  console.log(
    `vopr: ${summary.runs} seeds from ${first}, ${summary.failures.length} failed` +
      (summary.failures.length > 0
        ? ` (seeds ${summary.failures.map((f) => f.seed).join(", ")})`
        : "") +
      `, ${summary.falsePositives} false positives, ${
        (summary.virtualMs / 1000).toFixed(0)
      } virtual s in ${wallS.toFixed(1)} s`,
  );
  return summary.failures.length === 0 ? 0 : 1;
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (e) {
    // Bad flags: say what to fix, no stack trace (the usage is in the
    // module doc above and in bench/campaign/README.md).
    console.error(`vopr: ${(e as Error).message}`);
    console.error(
      "usage: vopr [--seeds N] [--seed S] [--first F] [--members M] [--profile lan|local|wan] [--verbose]\n" +
        "       vopr --campaign [--seeds N | --seed S] [--members M] [--loss P] [--fault-s S] [--modes default,no-veto,no-lifeguard,swim] [--workers W] [--json] [--aggregate FILE]",
    );
    process.exitCode = 2;
  }
}
