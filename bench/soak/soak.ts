/**
 * Issue #7's soak: a mixed cluster of real serf agents and ours (half Deno,
 * half Bun) under seeded churn, then agreement on membership and tags, and
 * zero decode errors on either side. See `soak_lib.ts` for what it does and
 * `README.md` for the last results.
 *
 *   deno task soak [--minutes 10] [--serf 8] [--ours 8] [--seed S] [--max-down 3]
 *     [--no-force-leave] [--log-level info|debug] [--log-dir DIR] [--host-base 1]
 *   deno run -A bench/soak/soak.ts …
 *
 * Serf agents on 127.0.130.1–8, ours on 127.0.131.1–8 (port 7946, RPC 7373
 * on the same address). Exits 0 on PASS, 1 on FAIL, 2 on bad usage; every
 * process it started is killed on every exit path, SIGINT and SIGTERM
 * included.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { SERF_BIN, serfAvailable } from "../../tests/interop/serf_harness.ts";
import {
  DEFAULT_SOAK_OPTIONS,
  formatSummary,
  killAllChildren,
  runSoak,
  type SoakOptions,
} from "./soak_lib.ts";

function usage(message: string): never {
  console.error(
    `${message}\nUsage: deno run -A bench/soak/soak.ts [--minutes 10] [--serf 8] [--ours 8] ` +
      "[--seed S] [--max-down 3] [--no-force-leave] [--log-level info|debug] [--log-dir DIR] " +
      "[--host-base 1]",
  );
  process.exit(2);
}

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    minutes: { type: "string" },
    serf: { type: "string" },
    ours: { type: "string" },
    seed: { type: "string" },
    "max-down": { type: "string" },
    "no-force-leave": { type: "boolean" },
    "log-level": { type: "string" },
    "log-dir": { type: "string" },
    "host-base": { type: "string" },
  },
  strict: true,
});

const num = (v: string | undefined, def: number, name: string): number => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    usage(`--${name} must be a non-negative number`);
  }
  return n;
};

const opts: Partial<SoakOptions> = {
  minutes: num(values.minutes, DEFAULT_SOAK_OPTIONS.minutes, "minutes"),
  serf: num(values.serf, DEFAULT_SOAK_OPTIONS.serf, "serf"),
  ours: num(values.ours, DEFAULT_SOAK_OPTIONS.ours, "ours"),
  seed: num(values.seed, DEFAULT_SOAK_OPTIONS.seed, "seed"),
  maxDown: num(values["max-down"], DEFAULT_SOAK_OPTIONS.maxDown, "max-down"),
  forceLeave: values["no-force-leave"] !== true,
  logLevel: values["log-level"] ?? DEFAULT_SOAK_OPTIONS.logLevel,
  logDir: values["log-dir"] ?? null,
  hostBase: num(
    values["host-base"],
    DEFAULT_SOAK_OPTIONS.hostBase,
    "host-base",
  ),
};
if (opts.serf! < 1 || opts.ours! < 1) {
  usage("--serf and --ours must be at least 1");
}
if (opts.serf! > 100 || opts.ours! > 100) {
  usage("--serf and --ours: at most 100 each");
}
if (!serfAvailable()) {
  console.error(
    `'${SERF_BIN}' is not on PATH: the soak needs HashiCorp serf 0.9.4`,
  );
  process.exit(1);
}

// Every exit path kills the agents: a signal, an uncaught error, the end.
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    console.error(`\nsoak: ${sig}: killing every agent`);
    killAllChildren();
    process.exit(130);
  });
}
process.on("exit", () => killAllChildren());

let code = 1;
try {
  const r = await runSoak(opts);
  console.log(formatSummary(r, opts));
  code = r.ok ? 0 : 1;
} catch (e) {
  console.error(`soak: ${(e as Error).stack ?? e}`);
} finally {
  killAllChildren();
}
process.exit(code);
