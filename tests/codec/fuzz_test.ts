import { test } from "node:test";
import assert from "node:assert/strict";
import { corpus, mutate, runDecoders } from "./fuzz.ts";
import { seeded } from "../helpers/prng.ts";
import { openPacket } from "../../src/memberlist/wire.ts";

test(
  "20,000 mutated captures yield only DecodeErrors",
  { timeout: 60_000 },
  () => {
    const pool = corpus();
    const rand = seeded(1);
    let errors = 0;
    for (let i = 0; i < 20_000; i++) {
      const input = mutate(pool[i % pool.length], rand, pool);
      errors += runDecoders(input);
    }
    assert.ok(errors > 20_000, `mutations were rejected ${errors} times`);
  },
);

test("the decompression bomb in the corpus is refused at the limit", () => {
  const bomb = corpus().at(-1)!;
  const reasons: string[] = [];
  assert.deepEqual(
    openPacket(bomb, (_kind, reason) => reasons.push(reason)),
    [],
  );
  assert.deepEqual(reasons, ["too-large"]);
});
