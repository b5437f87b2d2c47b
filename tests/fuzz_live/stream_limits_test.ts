/**
 * The stream limits the live fuzzer (bench/fuzz-live) leans on, checked
 * without sockets: oversized push-pull and user-message headers are refused
 * from the header alone, a push-pull measured chunk by chunk resumes where
 * it stopped (no O(n²) re-parse), and an inbound stream whose reply is never
 * read is closed at the stream timeout (memberlist's one deadline per
 * exchange), freeing its slot.
 *
 * @module
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { DecodeError } from "../../src/codec/errors.ts";
import { encodePing, encodePushPull } from "../../src/codec/messages.ts";
import {
  newMeasureProgress,
  streamMessageLength,
} from "../../src/codec/stream.ts";
import { Driver } from "../../src/driver.ts";
import type { Address, Machine, Transmit } from "../../src/machine.ts";
import type { Transport, TransportConn } from "../../src/transport.ts";

const MAX = 20 * 1024 * 1024;
const enc = (s: string): number[] => [
  0xa0 | s.length,
  ...new TextEncoder().encode(s),
];
const u32 = (n: number): number[] => [
  0xce,
  n >>> 24,
  (n >>> 16) & 255,
  (n >>> 8) & 255,
  n & 255,
];

function tooLarge(f: () => unknown): void {
  assert.throws(f, (e) => e instanceof DecodeError && e.reason === "too-large");
}

test("stream limits: a push-pull claiming 2^32-1 node states is refused from its header", () => {
  const head = Uint8Array.from([
    6,
    0x83,
    ...enc("Join"),
    0xc2,
    ...enc("Nodes"),
    ...u32(0xffffffff),
    ...enc("UserStateLen"),
    0,
  ]);
  tooLarge(() => streamMessageLength(head, MAX));
  // 20 Mi nil node states cannot fit beside the header either.
  const fits = Uint8Array.from([...head]);
  fits.set(u32(MAX), 1 + enc("Join").length + 1 + 1 + enc("Nodes").length);
  tooLarge(() => streamMessageLength(fits, MAX));
});

test("stream limits: a user message claiming 4 GiB is refused from its header", () => {
  const head = Uint8Array.from([
    8,
    0x81,
    ...enc("UserMsgLen"),
    ...u32(0xffffffff),
  ]);
  tooLarge(() => streamMessageLength(head, MAX));
  const ok = Uint8Array.from([8, 0x81, ...enc("UserMsgLen"), 3, 1, 2]);
  assert.equal(streamMessageLength(ok, MAX), -1);
  assert.equal(
    streamMessageLength(Uint8Array.from([...ok, 3]), MAX),
    ok.length + 1,
  );
});

test("stream limits: a push-pull measured chunk by chunk resumes and agrees with one measurement", () => {
  const node = (i: number) => ({
    name: `n${i}`,
    addr: Uint8Array.from([127, 0, 141, i & 255]),
    port: 7946,
    meta: new Uint8Array(0),
    incarnation: i,
    state: 0,
    vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]),
  });
  const msg = encodePushPull({
    join: false,
    nodes: Array.from({ length: 300 }, (_, i) => node(i)),
    userState: Uint8Array.from([1, 2, 3, 4]),
  });
  const whole = streamMessageLength(msg, MAX);
  assert.equal(whole, msg.length);
  for (const step of [1, 7, 64, 1000]) {
    const progress = newMeasureProgress();
    let n = -1;
    let last = 0;
    for (let end = step; n < 0; end = Math.min(msg.length, end + step)) {
      n = streamMessageLength(msg.subarray(0, end), MAX, progress);
      // Progress only moves forward, and never past the bytes read.
      assert.ok(progress.offset >= last && progress.offset <= end);
      last = progress.offset;
    }
    assert.equal(n, whole, `step ${step}`);
  }
  // Half the bytes in: the node states already skipped are remembered.
  const progress = newMeasureProgress();
  assert.equal(
    streamMessageLength(msg.subarray(0, msg.length >> 1), MAX, progress),
    -1,
  );
  assert.ok(progress.offset > msg.length / 3);
  assert.ok(progress.nodesLeft > 0 && progress.nodesLeft < 300);
});

// ---------------------------------------------------------------------------
// The driver's deadline covers the reply: a stub machine answers every
// stream; the peer's side never takes the reply (its write never completes).

class StubMachine implements Machine<never> {
  readonly #out: Transmit[] = [];
  streams = 0;
  handlePacket(): void {}
  handleStream(inboundId: number): void {
    this.streams++;
    this.#out.push({
      kind: "reply",
      inboundId,
      bytes: encodePing({
        seqNo: 1,
        node: "",
        sourceAddr: null,
        sourcePort: 0,
        sourceNode: "",
      }),
    });
  }
  handleStreamReply(): void {}
  handleTimeout(): void {}
  nextDeadline(): number | null {
    return null;
  }
  pollTransmit(): Transmit | undefined {
    return this.#out.shift();
  }
  pollEvent(): undefined {
    return undefined;
  }
}

interface FakeConn extends TransportConn {
  closed: boolean;
}

function stuckConn(first: Uint8Array): FakeConn {
  const c: FakeConn = {
    closed: false,
    remote: { host: "127.0.141.99", port: 1 },
    readable: new ReadableStream<Uint8Array>({
      start(ctl): void {
        ctl.enqueue(first);
      },
    }),
    // A peer that never reads: the write never completes.
    writable: new WritableStream<Uint8Array>({
      write: () => new Promise<void>(() => {}),
    }),
    close(): void {
      c.closed = true;
    },
  };
  return c;
}

async function until(what: string, f: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!f()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("stream limits: a stream whose reply is never read is closed at the stream timeout", async () => {
  let onStream: ((c: TransportConn) => void) | undefined;
  const local: Address = { host: "127.0.141.98", port: 7946 };
  const machine = new StubMachine();
  const driver = await Driver.start<never, StubMachine>({
    transport: (opts) => {
      onStream = opts.handlers.stream;
      const t: Transport = {
        name: "fake",
        localAddr: local,
        sendPacket: () => {},
        dial: () => Promise.reject(new Error("no dials")),
        close: () => Promise.resolve(),
        stats: {
          packetsSent: 0,
          packetsReceived: 0,
          packetsDropped: 0,
          sendErrors: 0,
          streamsAccepted: 0,
          streamsDialed: 0,
        },
      };
      return Promise.resolve(t);
    },
    bind: local,
    createMachine: () => machine,
    seal: {
      keyring: null,
      label: "",
      verifyIncoming: true,
      verifyOutgoing: true,
      skipInboundLabelCheck: false,
      encryptionVersion: 1,
    },
    onEvent: () => {},
    streamTimeoutMs: 30,
    maxInboundStreams: 2,
  });
  try {
    const ping = encodePing({
      seqNo: 7,
      node: "",
      sourceAddr: null,
      sourcePort: 0,
      sourceNode: "",
    });
    const a = stuckConn(ping);
    const b = stuckConn(ping);
    const c = stuckConn(ping);
    onStream!(a);
    onStream!(b);
    onStream!(c); // over the cap of 2: closed at once
    assert.equal(c.closed, true);
    assert.equal(driver.stats.dropped.get("stream-cap"), 1);
    await until("both replies to be answered", () => machine.streams === 2);
    // Before the fix the slots stayed taken forever once the reply's write
    // blocked; memberlist's deadline covers the whole exchange.
    await until("the stuck replies to be cut", () => a.closed && b.closed);
    assert.equal(driver.stats.inboundStreams, 0);
    assert.equal(driver.stats.dropped.get("stream-timeout"), 2);
    const d = stuckConn(ping);
    onStream!(d);
    assert.equal(d.closed, false, "a freed slot serves a new stream");
  } finally {
    await driver.close();
  }
});
