/**
 * A/B idle bench: several 3-member grapevine clusters, each launched its own
 * way, measured over the same window (as `idle_bench.ts`, whose sampling it
 * reuses), so a change's effect is read beside its baseline despite the
 * shared machine's noise.
 *
 * A variant is one string: `deno`, `deno-lean`, `bun` or `bun-lean`, then
 * any `NAME=value` (environment of its members) and any other word (a
 * runtime flag, before the script); `script=path` swaps `cli.ts` for another
 * entry point (relative to the repository, or absolute: e.g. a copy of an
 * older commit, or a bundle).
 *
 *   deno run -A bench/idle/ab_bench.ts --seconds 120 bun "bun MIMALLOC_PURGE_DELAY=1000"
 *   # options: --seconds 60 --warmup 15 --repeat 1
 *
 * Loopback addresses 127.0.87.100 and up (4 per variant).
 *
 * @module
 */

import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  cluster,
  converge,
  delay,
  type Group,
  measure,
  type Row,
  stopAll,
} from "./idle_bench.ts";
import { runtimeArgv } from "./lean.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A parsed variant. */
interface Variant {
  label: string;
  runtime: "deno" | "bun";
  lean: boolean;
  env: Record<string, string>;
  flags: string[];
  script: string;
}

function parseVariant(spec: string): Variant {
  const [head, ...rest] = spec.trim().split(/\s+/);
  const m = /^(deno|bun)(-lean)?$/.exec(head);
  if (m === null) throw new TypeError(`Bad variant ${spec}`);
  const v: Variant = {
    label: spec,
    runtime: m[1] as "deno" | "bun",
    lean: m[2] !== undefined,
    env: {},
    flags: [],
    script: `${ROOT}cli.ts`,
  };
  for (const t of rest) {
    const eq = t.indexOf("=");
    if (t.startsWith("script=")) {
      const path = t.slice(7);
      v.script = path.startsWith("/") ? path : `${ROOT}${path}`;
    } else if (eq > 0 && /^[A-Z_][A-Z0-9_]*$/.test(t.slice(0, eq))) {
      v.env[t.slice(0, eq)] = t.slice(eq + 1);
    } else v.flags.push(t);
  }
  return v;
}

function argvOf(v: Variant, args: string[]): string[] {
  const argv = runtimeArgv(v.runtime, v.script, ["agent", ...args], {
    lean: v.lean,
  });
  // Runtime flags go right before the script.
  const at = argv.indexOf(v.script);
  argv.splice(at, 0, ...v.flags);
  return argv;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let seconds = 60, warmup = 15, repeat = 1;
  const specs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--seconds") seconds = Number(argv[++i]);
    else if (argv[i] === "--warmup") warmup = Number(argv[++i]);
    else if (argv[i] === "--repeat") repeat = Number(argv[++i]);
    else specs.push(argv[i]);
  }
  const variants = specs.map(parseVariant);
  if (variants.length === 0 || variants.length > 38) {
    throw new RangeError("Want 1 to 38 variants");
  }
  let all: Group[] = [];
  try {
    all = variants.map((v, i) =>
      cluster(
        `${v.runtime}${i} ${v.label}`,
        100 + 4 * i,
        v.runtime === "bun" ? "bun.exe" : "deno",
        (a) => argvOf(v, a),
        v.env,
      )
    );
    await converge(all, 180_000);
    await delay(warmup * 1000);
    const runs: Row[][] = [];
    for (let r = 0; r < repeat; r++) runs.push(await measure(all, seconds));
    console.log(
      `${repeat} × ${seconds} s after ${warmup} s warm-up; mean of 3 members`,
    );
    console.log(
      "| variant | CPU ms/s (each run) | RSS MiB | wake-ups/s | threads |",
    );
    console.log("| --- | ---: | ---: | ---: | ---: |");
    all.forEach((g, i) => {
      const rows = runs.map((run) => run[i]);
      const last = rows[rows.length - 1];
      console.log(
        `| ${variants[i].label} | ${
          rows.map((r) => r.cpuMsPerS.toFixed(2)).join(" / ")
        } | ${last.rssMiB.toFixed(1)} | ${last.wakeupsPerS.toFixed(1)} | ${
          last.threads.toFixed(0)
        } |`,
      );
      void g;
    });
  } finally {
    await stopAll(all);
  }
}

if (import.meta.main) await main();
