import { test } from "node:test";
import assert from "node:assert/strict";
import {
  conflictAnswer,
  type ConflictTally,
  conflictVerdict,
  countConflictAnswer,
} from "../../src/serf/conflict.ts";
import { toHex } from "../helpers/serf_vectors.ts";

test("conflict majority: survive with matching ≥ responses/2 + 1", {
  timeout: 5_000,
}, () => {
  const rows: Array<[number, number, boolean]> = [
    // [matching, responses, survive]
    [0, 0, false], // nobody answered: Serf quits too
    [0, 1, false], // the captured impostor: [0 / 1]
    [1, 1, true],
    [1, 2, false],
    [2, 2, true],
    [2, 3, true],
    [2, 4, false],
    [3, 4, true],
    [50, 99, true],
    [49, 99, false],
  ];
  for (const [matching, responses, survive] of rows) {
    assert.equal(
      conflictVerdict({ matching, responses }).survive,
      survive,
      `${matching}/${responses}`,
    );
  }
});

test(
  "conflict answers: counted, matching by address and port, nil counts as an answer",
  { timeout: 5_000 },
  () => {
    const t: ConflictTally = { responses: 0, matching: 0 };
    const local = { host: "127.0.0.1", port: 7946 };
    const mine = conflictAnswer({
      name: "s1",
      addr: { host: "127.0.0.1", port: 7946 },
      tags: new Map(),
      status: "alive",
      protocolMin: 1,
      protocolMax: 5,
      protocolCur: 2,
      delegateMin: 2,
      delegateMax: 5,
      delegateCur: 5,
    });
    // udp-conflict-response's payload (s2's view of s1).
    assert.equal(
      toHex(mine),
      "068ba441646472a47f000001ab44656c656761746543757205ab44656c65676174654d617805ab44656c65676174654d696e02a44e616d65a27331a4506f7274cd1f0aab50726f746f636f6c43757202ab50726f746f636f6c4d617805ab50726f746f636f6c4d696e01a653746174757301a45461677380",
    );
    assert.equal(countConflictAnswer(t, mine, local), null);
    assert.equal(
      countConflictAnswer(t, conflictAnswer(undefined), local),
      null,
    );
    assert.equal(toHex(conflictAnswer(undefined)), "06c0");
    assert.equal(
      countConflictAnswer(t, Uint8Array.of(8, 0x80), local),
      "Invalid conflict query response type",
    );
    assert.equal(
      countConflictAnswer(t, mine, { host: "127.0.0.3", port: 7946 }),
      null,
    );
    assert.deepEqual(t, { responses: 3, matching: 1 });
  },
);
