/**
 * The short CI run of `deno task fuzz-live` (bench/fuzz-live): 50,000
 * mutated packets, 1,000 mutated streams, a flood of 300 held streams, slow
 * streams, oversized push-pulls and an encrypted pair attacked with
 * plaintext, wrong-key and tampered traffic — against a Deno target and a
 * Bun target, each a `cli.ts agent` child beside a healthy Deno peer.
 *
 * The two targets run once, under `deno test` (they are child processes,
 * so the test runner's runtime does not matter to what they prove); under
 * `bun test` a smaller run against a Bun target checks that the fuzzer
 * itself runs on Bun. Addresses: 127.0.140.0/24 (targets) and
 * 127.0.141.0/24 (peers, attackers), slots 1–3.
 *
 * @module
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatRows,
  type FuzzLiveOptions,
  runFuzzLive,
} from "../../bench/fuzz-live/fuzz_live.ts";

const IS_DENO = (globalThis as { Deno?: unknown }).Deno !== undefined;

const SHORT: Partial<FuzzLiveOptions> = {
  packets: 50_000,
  streams: 1_000,
  profile: "local",
  checkEvery: 10_000,
  rssLimitMiB: 768,
  flood: 300,
  slow: 2,
  // Two 19.9 MB push-pulls, not eight: with the local profile's 200 ms probe
  // timeout, eight stall a Bun target long enough for the peer to suspect it
  // on this 2-core machine (the full LAN run pours eight).
  blasts: 2,
  encryptedPackets: 3_000,
  settleMs: 5_000,
  log: () => {},
};

async function run(opts: Partial<FuzzLiveOptions>): Promise<void> {
  const r = await runFuzzLive({ ...SHORT, ...opts });
  console.log(formatRows(r.rows));
  assert.deepEqual(r.failures, []);
}

test(
  "fuzz-live: Deno and Bun targets survive mutated packets, streams, floods and wrong keys",
  { skip: !IS_DENO, timeout: 120_000 },
  async () => {
    // One after the other: at once they would share this machine's two
    // cores with each other's fuzzer, and the figures would mean less.
    await run({ target: "deno", seed: 11, slot: 1 });
    await run({ target: "bun", seed: 12, slot: 2 });
  },
);

test(
  "fuzz-live: the fuzzer runs on Bun (smaller run; the full short run is under deno test)",
  { skip: IS_DENO, timeout: 90_000 },
  async () => {
    await run({
      target: "bun",
      seed: 13,
      slot: 3,
      packets: 10_000,
      streams: 200,
      flood: 200,
      encryptedPackets: 1_000,
    });
  },
);
