import { test } from "node:test";
import assert from "node:assert/strict";
import {
  compactSnapshot,
  decodeCoordinateJson,
  emptySnapshotState,
  encodeCoordinateJson,
  parseSnapshotAddress,
  rejoinAddresses,
  replaySnapshot,
  SNAPSHOT_MIN_COMPACT_BYTES,
  SnapshotRecorder,
} from "../../src/serf/snapshot.ts";
import { initialCoordinate } from "../../src/codec/coordinate.ts";
import type { SerfMemberInfo } from "../../src/serf/events.ts";
import { seeded } from "../helpers/prng.ts";

const LOG = `alive: s1 127.0.0.1:7946
alive: s2 127.0.0.2:7946
# a comment
clock: 4
event-clock: 9
alive: s3 [::1]:7946
not-alive: s2
query-clock: 3
coordinate: {"Vec":[0.001,0,0,0,0,0,0,0],"Error":0.5,"Adjustment":-0.0001,"Height":0.00001}
bogus line
alive: broken
`;

test("replay: every record kind, comments, and Serf's warnings", {
  timeout: 5_000,
}, () => {
  const { state, warnings } = replaySnapshot(LOG);
  assert.deepEqual([...state.aliveNodes], [["s1", "127.0.0.1:7946"], [
    "s3",
    "[::1]:7946",
  ]]);
  assert.equal(state.lastClock, 4);
  assert.equal(state.lastEventClock, 9);
  assert.equal(state.lastQueryClock, 3);
  assert.deepEqual(state.lastCoordinate, {
    vec: [0.001, 0, 0, 0, 0, 0, 0, 0],
    error: 0.5,
    adjustment: -0.0001,
    height: 0.00001,
  });
  assert.deepEqual(warnings, [
    "Unrecognized snapshot line: bogus line",
    "Failed to parse address: alive: broken",
  ]);
  assert.equal(state.sizeBytes, new TextEncoder().encode(LOG).length);
});

test("replay: a leave forgets everything unless rejoinAfterLeave", {
  timeout: 5_000,
}, () => {
  const log = LOG + "leave\n";
  const gone = replaySnapshot(log).state;
  assert.equal(gone.aliveNodes.size, 0);
  assert.deepEqual([gone.lastClock, gone.lastEventClock, gone.lastQueryClock], [
    0,
    0,
    0,
  ]);
  const kept = replaySnapshot(log, { rejoinAfterLeave: true });
  assert.equal(kept.state.aliveNodes.size, 2);
  assert.ok(kept.warnings.includes("Ignoring previous leave in snapshot"));
});

test("coordinates as Go's json.Marshal writes them", { timeout: 5_000 }, () => {
  assert.equal(
    encodeCoordinateJson(initialCoordinate()),
    '{"Vec":[0,0,0,0,0,0,0,0],"Error":1.5,"Adjustment":0,"Height":0.00001}',
  );
  const c = {
    vec: [1e-7, -0, 1.5e21, 0.1, 0, 0, 0, 0],
    error: 1e-6,
    adjustment: 123456.789,
    height: 2e-5,
  };
  assert.equal(
    encodeCoordinateJson(c),
    '{"Vec":[1e-7,-0,1.5e+21,0.1,0,0,0,0],"Error":0.000001,"Adjustment":123456.789,"Height":0.00002}',
  );
  assert.deepEqual(decodeCoordinateJson(encodeCoordinateJson(c)), c);
  // Go matches field names case-insensitively.
  assert.deepEqual(
    decodeCoordinateJson('{"vec":[1],"error":2,"adjustment":3,"height":4}'),
    {
      vec: [1],
      error: 2,
      adjustment: 3,
      height: 4,
    },
  );
  assert.equal(typeof decodeCoordinateJson("{"), "string");
});

test("compaction writes the live state; replaying it gives the same state", {
  timeout: 5_000,
}, () => {
  const { state } = replaySnapshot(LOG);
  const text = compactSnapshot(state);
  assert.equal(
    text,
    "alive: s1 127.0.0.1:7946\nalive: s3 [::1]:7946\nclock: 4\nevent-clock: 9\nquery-clock: 3\n" +
      'coordinate: {"Vec":[0.001,0,0,0,0,0,0,0],"Error":0.5,"Adjustment":-0.0001,"Height":0.00001}\n',
  );
  const again = replaySnapshot(text).state;
  assert.deepEqual({ ...again, sizeBytes: 0 }, { ...state, sizeBytes: 0 });
});

test(
  "rejoin targets: everyone recorded alive but us, parsed, shuffled by the PRNG",
  { timeout: 5_000 },
  () => {
    const { state } = replaySnapshot(LOG);
    assert.deepEqual(
      rejoinAddresses(state, "s1").map((t) => [t.name, t.addr]),
      [
        ["s3", { host: "::1", port: 7946 }],
      ],
    );
    const s = emptySnapshotState();
    for (let i = 0; i < 6; i++) s.aliveNodes.set(`n${i}`, `10.0.0.${i}:7946`);
    const shuffled = rejoinAddresses(s, "", seeded(2)).map((t) => t.name);
    assert.deepEqual([...shuffled].sort(), [
      "n0",
      "n1",
      "n2",
      "n3",
      "n4",
      "n5",
    ]);
    assert.equal(parseSnapshotAddress("host:7946"), null);
    assert.equal(parseSnapshotAddress("::1:7946"), null);
    assert.deepEqual(parseSnapshotAddress("10.1.2.3:0"), {
      host: "10.1.2.3",
      port: 0,
    });
  },
);

test(
  "recorder: Serf's records for member events, clocks, events, queries, leave; compaction past 128 KiB",
  { timeout: 5_000 },
  () => {
    const r = new SnapshotRecorder(emptySnapshotState(), {
      rejoinAfterLeave: false,
    });
    const m = (name: string): SerfMemberInfo => ({
      name,
      addr: { host: "10.0.0.2", port: 7946 },
      tags: new Map(),
      status: "alive",
      protocolMin: 1,
      protocolMax: 5,
      protocolCur: 2,
      delegateMin: 2,
      delegateMax: 5,
      delegateCur: 4,
    });
    assert.equal(
      r.memberEvent({ type: "memberJoin", members: [m("b")] }, 3),
      "alive: b 10.0.0.2:7946\nclock: 2\n",
    );
    assert.equal(
      r.memberEvent({ type: "memberFailed", members: [m("b")] }, 3),
      "not-alive: b\n",
    );
    assert.equal(
      r.memberEvent({ type: "memberUpdate", members: [m("b")] }, 3),
      "",
    );
    assert.equal(r.userEvent(5), "event-clock: 5\n");
    assert.equal(r.userEvent(4), "");
    assert.equal(r.query(2), "query-clock: 2\n");
    assert.equal(r.clock(3), "");
    assert.equal(r.clock(10), "clock: 9\n");
    assert.equal(
      r.coordinate(initialCoordinate()).startsWith("coordinate: "),
      true,
    );
    assert.equal(r.coordinate(initialCoordinate()), "", "unchanged");
    assert.equal(r.compactIfNeeded(), null);
    for (let i = 0; r.offsetBytes <= SNAPSHOT_MIN_COMPACT_BYTES; i++) {
      r.memberEvent({ type: "memberJoin", members: [m(`n${i % 10}`)] }, 3);
    }
    const text = r.compactIfNeeded();
    assert.ok(text !== null && text.startsWith("alive: n0 10.0.0.2:7946\n"));
    assert.equal(r.offsetBytes, new TextEncoder().encode(text).length);
    assert.equal(r.leave(), "leave\n");
    assert.equal(r.userEvent(99), "", "nothing is recorded after a leave");
    assert.equal(r.state().aliveNodes.size, 0);
  },
);
