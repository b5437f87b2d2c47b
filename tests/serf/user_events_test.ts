import { test } from "node:test";
import assert from "node:assert/strict";
import {
  EventBuffer,
  MAX_EVENTS_PER_SLOT,
  userEventSizeError,
} from "../../src/serf/user_events.ts";
import { TinyNet } from "./_harness.ts";
import { encodeUser } from "../../src/codec/messages.ts";
import { encodeUserEvent } from "../../src/codec/serf_messages.ts";
import { loadVector } from "../helpers/serf_vectors.ts";

const enc = new TextEncoder();

test("event ring: dedupe by (LTime, Name, Payload), nil equals empty", {
  timeout: 5_000,
}, () => {
  const b = new EventBuffer(512);
  const e = { ltime: 3, name: "deploy", payload: enc.encode("v1") };
  assert.equal(b.accept(e, 4), "new");
  assert.equal(b.accept(e, 4), "duplicate");
  assert.equal(b.accept({ ...e, payload: enc.encode("v2") }, 4), "new");
  assert.equal(b.accept({ ...e, name: "other" }, 4), "new");
  assert.equal(b.accept({ ltime: 5, name: "x", payload: null }, 6), "new");
  assert.equal(
    b.accept({ ltime: 5, name: "x", payload: new Uint8Array(0) }, 6),
    "duplicate",
  );
  // A slot reused by a newer time forgets the old one.
  assert.equal(
    b.accept(
      { ltime: 3 + 512, name: "deploy", payload: enc.encode("v1") },
      600,
    ),
    "new",
  );
});

test("event ring: min time and too-old rules (serf handleUserEvent)", {
  timeout: 5_000,
}, () => {
  const b = new EventBuffer(512);
  b.minTime = 10;
  assert.equal(
    b.accept({ ltime: 9, name: "a", payload: null }, 11),
    "beforeMinTime",
  );
  assert.equal(b.accept({ ltime: 10, name: "a", payload: null }, 11), "new");
  // current 1000 > 512 and 1000 − 512 = 488: 487 is too old, 488 is not.
  assert.equal(
    b.accept({ ltime: 487, name: "a", payload: null }, 1000),
    "tooOld",
  );
  assert.equal(b.accept({ ltime: 488, name: "a", payload: null }, 1000), "new");
  // At or below 512 nothing is too old.
  assert.equal(b.accept({ ltime: 11, name: "a", payload: null }, 512), "new");
});

test("event ring: a slot holds at most MAX_EVENTS_PER_SLOT distinct events", {
  timeout: 5_000,
}, () => {
  const b = new EventBuffer(512);
  for (let i = 0; i < MAX_EVENTS_PER_SLOT; i++) {
    assert.equal(
      b.accept({ ltime: 7, name: `e${i}`, payload: null }, 8),
      "new",
    );
  }
  assert.equal(
    b.accept({ ltime: 7, name: "one-more", payload: null }, 8),
    "slotFull",
  );
  assert.equal(
    b.accept({ ltime: 7, name: "e0", payload: null }, 8),
    "duplicate",
  );
});

test(
  "user event size limits: Serf's exact messages",
  { timeout: 5_000 },
  () => {
    assert.equal(userEventSizeError("a", new Uint8Array(511), null, 512), null);
    assert.equal(
      userEventSizeError("ab", new Uint8Array(511), null, 512),
      "user event exceeds configured limit of 512 bytes before encoding",
    );
    assert.equal(
      userEventSizeError("a", new Uint8Array(400), 513, 512),
      "encoded user event exceeds configured limit of 512 bytes after encoding",
    );
    const net = new TinyNet();
    net.add("s1", "127.0.0.1");
    // The captured agent refused this one (rpc-event-too-large): a 500-byte
    // payload fits raw (4 + 500 ≤ 512) but not once encoded.
    assert.throws(
      () =>
        net.invoke(
          "s1",
          (s, now) => s.userEvent("huge", new Uint8Array(500), false, now),
        ),
      {
        name: "RangeError",
        message:
          "encoded user event exceeds configured limit of 512 bytes after encoding",
      },
    );
    assert.equal(
      net.get("s1").stats().eventTime,
      1,
      "a refused event does not tick the clock",
    );
    void loadVector;
  },
);

test(
  "a gossiped event is delivered once, re-broadcast once, and counted in the clock",
  { timeout: 10_000 },
  () => {
    const net = new TinyNet();
    net.add("s1", "127.0.0.1");
    const msg = encodeUser(
      encodeUserEvent({
        ltime: 40,
        name: "deploy",
        payload: enc.encode("x"),
        cc: false,
      }),
    );
    for (let i = 0; i < 3; i++) {
      net.invoke(
        "s1",
        (s, now) => s.handlePacket(msg, { host: "127.0.0.9", port: 7946 }, now),
      );
    }
    const users = net.events("s1").filter((e) => e.type === "user");
    assert.equal(users.length, 1);
    assert.equal(net.get("s1").stats().eventTime, 41);
    assert.equal(net.get("s1").stats().eventQueue, 1);
  },
);

test("malformed Serf input is counted and dropped, never thrown", {
  timeout: 5_000,
}, () => {
  const net = new TinyNet();
  net.add("s1", "127.0.0.1");
  const from = { host: "127.0.0.9", port: 7946 };
  const bad = [
    Uint8Array.of(8, 3, 0x85), // truncated user event
    Uint8Array.of(8, 4, 0xc1), // reserved msgpack byte
    Uint8Array.of(8, 0x42), // unknown serf type
    Uint8Array.of(8, 9, 0x82), // truncated relay
    Uint8Array.of(8, 5, 0x81, 0xa2, 0x49, 0x44, 0xcf), // truncated response
  ];
  for (const b of bad) {
    net.invoke("s1", (s, now) => s.handlePacket(b, from, now));
  }
  const st = net.get("s1").stats();
  let decode = 0;
  for (const v of st.decodeErrors.values()) decode += v;
  assert.ok(decode >= 4, JSON.stringify([...st.decodeErrors]));
  assert.equal(st.dropped.get("unknown-type"), 1);
  assert.equal(net.get("s1").state(), "alive");
});
