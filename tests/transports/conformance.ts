/**
 * The one conformance suite every transport passes (ARCHITECTURE §5): the
 * same node:test tests for the memory, node, Deno and Bun adapters, on every
 * runtime that can run them. Loopback only; every test has a timeout and
 * closes what it opened (Node's runner hangs on a leaked socket).
 *
 * @module
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import { Worker } from "node:worker_threads";
import type {
  Address,
  Transport,
  TransportConn,
  TransportFactory,
  TransportOptions,
} from "../../src/transport.ts";

/** An address whose dials neither connect nor fail, and how to undo it. */
export interface HangingAddress {
  /** Dials to it hang. */
  address: Address;
  /** Undo, releasing everything used to make it. */
  release(): Promise<void>;
}

/** Optional parts of {@linkcode runConformance}. */
export interface ConformanceOptions {
  /** Make a hanging address on `host`; default {@linkcode hangingTcpAddress}. */
  hanging?: (host: string) => Promise<HangingAddress>;
  /** Whether an IPv6 loopback test can run; default: probe ::1 with node:dgram. */
  ipv6?: boolean;
}

const TIMEOUT = { timeout: 30_000 };
const MIB = 1024 * 1024;

/** Handlers a test can swap after binding. */
interface Peer {
  t: Transport;
  packets: { bytes: Uint8Array; from: Address }[];
  onStream: (conn: TransportConn) => void;
}

/**
 * Register the conformance tests for one transport.
 * @param name the adapter's name, used in test names and checked against `Transport.name`
 * @param factory binds a transport
 * @param hostA first loopback IP for this test file (e.g. "127.0.60.1")
 * @param hostB second loopback IP
 * @param opts hooks for transports without real sockets
 */
export function runConformance(
  name: string,
  factory: TransportFactory,
  hostA: string,
  hostB: string,
  opts: ConformanceOptions = {},
): void {
  const bind = async (
    host: string,
    extra: Partial<TransportOptions> = {},
  ): Promise<Peer> => {
    const p = {
      packets: [],
      onStream: (c: TransportConn) => c.close(),
    } as unknown as Peer;
    p.t = await factory({
      bind: { host, port: 0 },
      handlers: {
        packet: (bytes, from) => p.packets.push({ bytes, from }),
        stream: (conn) => p.onStream(conn),
      },
      ...extra,
    });
    return p;
  };
  const closeAll = (...ps: Peer[]): Promise<unknown> =>
    Promise.all(ps.map((p) => p.t.close()));

  test(
    `${name}: packets of 10, 1400 and 60000 bytes arrive intact`,
    TIMEOUT,
    async () => {
      const [a, b] = [await bind(hostA), await bind(hostB)];
      try {
        assert.equal(a.t.name, name);
        const sent = [10, 1400, 60_000].map((n, i) => pattern(n, i + 1));
        for (const bytes of sent) a.t.sendPacket(b.t.localAddr, bytes);
        await until(() => b.packets.length === 3);
        const got = [...b.packets].sort((x, y) =>
          x.bytes.length - y.bytes.length
        );
        got.forEach((g, i) => assert.deepEqual(g.bytes, sent[i]));
        assert.deepEqual(got[0].from, {
          host: hostA,
          port: a.t.localAddr.port,
        });
        assert.equal(a.t.stats.packetsSent, 3);
        assert.equal(b.t.stats.packetsReceived, 3);
      } finally {
        await closeAll(a, b);
      }
    },
  );

  test(
    `${name}: datagrams over maxPacketBytes are dropped and counted`,
    TIMEOUT,
    async () => {
      const [a, b] = [
        await bind(hostA),
        await bind(hostB, { maxPacketBytes: 2000 }),
      ];
      try {
        for (const n of [1400, 3000, 2000, 100]) {
          a.t.sendPacket(
            b.t.localAddr,
            pattern(n, n),
          );
        }
        await until(() =>
          b.packets.length === 3 && b.t.stats.packetsDropped === 1
        );
        assert.deepEqual(b.packets.map((p) => p.bytes.length).sort(), [
          100,
          1400,
          2000,
        ]);
      } finally {
        await closeAll(a, b);
      }
    },
  );

  test(
    `${name}: sending to a closed port or a bad address does not throw`,
    TIMEOUT,
    async () => {
      const [a, c] = [await bind(hostA), await bind(hostB)];
      const gone = c.t.localAddr;
      await c.t.close();
      try {
        for (let i = 0; i < 20; i++) a.t.sendPacket(gone, pattern(100, i));
        a.t.sendPacket({ host: "::1", port: gone.port }, pattern(10, 0)); // other family
        a.t.sendPacket({ host: hostB, port: gone.port }, pattern(70_000, 0)); // over 65507
        await sleep(50);
        a.t.sendPacket(gone, pattern(100, 0)); // after ICMP unreachables came back
        assert.ok(a.t.stats.packetsSent + a.t.stats.sendErrors >= 21);
      } finally {
        await a.t.close();
      }
    },
  );

  test(
    `${name}: port 0 binds one real port for packets and streams`,
    TIMEOUT,
    async () => {
      const [a, b] = [await bind(hostA), await bind(hostB)];
      try {
        const port = b.t.localAddr.port;
        assert.ok(port > 0 && port < 65536, `port ${port}`);
        assert.equal(b.t.localAddr.host, hostB);
        let accepted = 0;
        b.onStream = (c) => (accepted++, c.close());
        a.t.sendPacket({ host: hostB, port }, pattern(8, 8));
        const conn = await a.t.dial({ host: hostB, port });
        conn.close();
        await until(() => b.packets.length === 1 && accepted === 1);
        assert.equal(a.t.stats.streamsDialed, 1);
        assert.equal(b.t.stats.streamsAccepted, 1);
        await assert.rejects(
          factory({
            bind: b.t.localAddr,
            handlers: { packet() {}, stream: (c) => c.close() },
          }),
          /Cannot bind/,
        );
      } finally {
        await closeAll(a, b);
      }
    },
  );

  test(
    `${name}: a closed port can be bound again at once, even after streams`,
    TIMEOUT,
    async () => {
      const [a, b] = [await bind(hostA), await bind(hostB)];
      b.onStream = (c) => void echo(c);
      const port = b.t.localAddr.port;
      try {
        for (let i = 0; i < 3; i++) {
          // The accepting side closes first, so its port holds TIME_WAITs.
          const conn = await a.t.dial(b.t.localAddr);
          sameBytes(await exchange(conn, pattern(100, i)), pattern(100, i));
          conn.close();
        }
        await b.t.close();
        b.t = await factory({
          bind: { host: hostB, port },
          handlers: { packet() {}, stream: (c) => c.close() },
        });
        assert.equal(b.t.localAddr.port, port);
      } finally {
        await closeAll(a, b);
      }
    },
  );

  const ipv6 = opts.ipv6 ?? hasIpv6Loopback();
  test(`${name}: IPv6 ::1 carries packets and streams`, {
    ...TIMEOUT,
    skip: ipv6 ? false : "this host has no ::1",
  }, async () => {
    const [a, b] = [await bind("::1"), await bind("::1")];
    try {
      b.onStream = (c) => void echo(c);
      a.t.sendPacket(b.t.localAddr, pattern(1400, 6));
      await until(() => b.packets.length === 1);
      assert.deepEqual(b.packets[0].bytes, pattern(1400, 6));
      assert.deepEqual(b.packets[0].from, a.t.localAddr);
      const conn = await a.t.dial(b.t.localAddr);
      assert.deepEqual(
        await exchange(conn, pattern(1000, 7)),
        pattern(1000, 7),
      );
      conn.close();
    } finally {
      await closeAll(a, b);
    }
  });

  test(
    `${name}: a 4 MiB frame crosses both ways to a slow reader`,
    TIMEOUT,
    async () => {
      const [a, b] = [await bind(hostA), await bind(hostB)];
      const request = pattern(4 * MIB, 41);
      const reply = pattern(4 * MIB, 42);
      let served: Promise<void> = Promise.resolve();
      b.onStream = (conn) =>
        served = (async () => {
          await sleep(100);
          sameBytes(await readAll(conn, 2), request); // ends at the dialer's FIN
          const w = conn.writable.getWriter();
          await w.write(reply);
          await w.close();
          conn.close();
        })();
      try {
        const conn = await a.t.dial(b.t.localAddr);
        const w = conn.writable.getWriter();
        await w.write(request); // one write; resolves as the reader drains it
        await w.close(); // half-close: the reply still comes back
        sameBytes(await readAll(conn, 2), reply);
        await served;
        conn.close();
      } finally {
        await closeAll(a, b);
      }
    },
  );

  test(
    `${name}: a reader that does not read holds the writer back`,
    TIMEOUT,
    async () => {
      const [a, b] = [await bind(hostA), await bind(hostB)];
      let inbound: TransportConn | undefined;
      b.onStream = (c) => (inbound = c);
      try {
        const conn = await a.t.dial(b.t.localAddr);
        const w = conn.writable.getWriter();
        const chunk = pattern(64 * 1024, 9);
        let written = 0;
        let stop = false;
        const writing = (async () => {
          while (!stop && written < 64 * MIB) {
            await w.write(chunk);
            written += chunk.length;
          }
          await w.close();
        })();
        await sleep(300);
        // Only socket buffers may run ahead: 3.7 MiB measured on Linux loopback
        // (5.3 MiB with Bun's node:net, which buffers more natively).
        assert.ok(
          written <= 16 * MIB,
          `${written} bytes accepted with nobody reading`,
        );
        stop = true;
        await until(() => inbound !== undefined);
        const got = await readAll(inbound!);
        await writing;
        assert.equal(got.length, written);
        sameBytes(got.subarray(got.length - chunk.length), chunk);
        conn.close();
      } finally {
        await closeAll(a, b);
      }
    },
  );

  test(
    `${name}: dial timeout and abort reject within bound`,
    TIMEOUT,
    async () => {
      await sleep(50); // let earlier tests finish closing
      const before = handleCounts();
      const a = await bind(hostA);
      const hang = await (opts.hanging ?? hangingTcpAddress)(hostB);
      try {
        const reason = new Error("pre-aborted");
        await assert.rejects(
          a.t.dial(hang.address, { signal: AbortSignal.abort(reason) }),
          (e) => e === reason,
        );
        let t0 = performance.now();
        await assert.rejects(
          a.t.dial(hang.address, { timeoutMs: 300 }),
          /Cannot dial .*300 ms/,
        );
        const waited = performance.now() - t0;
        assert.ok(
          waited >= 250 && waited < 2000,
          `timed out after ${waited} ms`,
        );
        const ac = new AbortController();
        const late = new Error("aborted late");
        setTimeout(() => ac.abort(late), 100);
        t0 = performance.now();
        await assert.rejects(
          a.t.dial(hang.address, { signal: ac.signal }),
          (e) => e === late,
        );
        assert.ok(performance.now() - t0 < 2000);
      } finally {
        await a.t.close();
        await hang.release();
      }
      // No dial timer or half-open socket may outlive a rejected dial.
      await sleep(20);
      if (before !== undefined) assert.deepEqual(handleCounts(), before);
    },
  );

  test(`${name}: dialing a closed port rejects`, TIMEOUT, async () => {
    const [a, c] = [await bind(hostA), await bind(hostB)];
    await c.t.close();
    try {
      await assert.rejects(
        a.t.dial(c.t.localAddr, { timeoutMs: 5000 }),
        /Cannot dial/,
      );
    } finally {
      await a.t.close();
    }
  });

  test(
    `${name}: half-close and remote close end the reader`,
    TIMEOUT,
    async () => {
      const [a, b] = [await bind(hostA), await bind(hostB)];
      let served: Promise<void> = Promise.resolve();
      b.onStream = (conn) =>
        served = (async () => {
          assert.equal(text(await readAll(conn)), "ping"); // ends at the dialer's FIN
          const w = conn.writable.getWriter();
          await w.write(bytes("pong"));
          w.releaseLock();
          conn.close();
        })();
      try {
        const conn = await a.t.dial(b.t.localAddr);
        assert.deepEqual(conn.remote, b.t.localAddr);
        const w = conn.writable.getWriter();
        await w.write(bytes("ping"));
        await w.close();
        assert.equal(text(await readAll(conn)), "pong"); // ends at the remote close
        await served;
        conn.close();
        conn.close(); // idempotent
      } finally {
        await closeAll(a, b);
      }
    },
  );

  test(
    `${name}: close() ends open conns and later sends are no-ops`,
    TIMEOUT,
    async () => {
      const [a, b] = [await bind(hostA), await bind(hostB)];
      let inbound: TransportConn | undefined;
      b.onStream = (c) => (inbound = c);
      try {
        const conn = await a.t.dial(b.t.localAddr);
        await until(() => inbound !== undefined);
        const pendingA = readAll(conn).then(() => "ended", () => "ended");
        const pendingB = readAll(inbound!).then(() => "ended", () => "ended");
        await a.t.close();
        assert.equal(await within(pendingA, 2000), "ended");
        assert.equal(await within(pendingB, 2000), "ended");
        await assert.rejects(conn.writable.getWriter().write(bytes("late")));
        const sent = a.t.stats.packetsSent;
        a.t.sendPacket(b.t.localAddr, bytes("late"));
        assert.equal(a.t.stats.packetsSent, sent);
        await assert.rejects(a.t.dial(b.t.localAddr), /closed/);
        await a.t.close(); // idempotent
        // b closes the conn it was handed, too.
        const c2 = await bind(hostA);
        b.onStream = (c) => (inbound = c);
        inbound = undefined;
        const conn2 = await c2.t.dial(b.t.localAddr);
        await until(() => inbound !== undefined);
        const pending2 = readAll(conn2).then(() => "ended", () => "ended");
        await b.t.close();
        assert.equal(await within(pending2, 2000), "ended");
        await c2.t.close();
      } finally {
        await closeAll(a, b);
      }
    },
  );

  test(
    `${name}: a peer sending garbage then hanging does not break other streams`,
    TIMEOUT,
    async () => {
      const [a, b, bad] = [
        await bind(hostA),
        await bind(hostB),
        await bind(hostA),
      ];
      b.onStream = (c) => void echo(c);
      try {
        const evil = await bad.t.dial(b.t.localAddr);
        const ew = evil.writable.getWriter();
        await ew.write(pattern(100_000, 66)); // and never closes
        for (let i = 0; i < 3; i++) {
          const conn = await a.t.dial(b.t.localAddr);
          assert.deepEqual(
            await exchange(conn, pattern(MIB, i)),
            pattern(MIB, i),
          );
          conn.close();
        }
        const evilEnded = readAll(evil).then(() => "ended", () => "ended");
        await b.t.close(); // closes the hanging conn as well
        assert.equal(await within(evilEnded, 2000), "ended");
      } finally {
        await closeAll(a, b, bad);
      }
    },
  );

  test(
    `${name}: close() leaves no sockets or timers behind`,
    TIMEOUT,
    async () => {
      await sleep(50); // let earlier tests finish closing
      const before = handleCounts();
      const [a, b] = [await bind(hostA), await bind(hostB)];
      b.onStream = (c) => void echo(c);
      a.t.sendPacket(b.t.localAddr, pattern(100, 1));
      const conn = await a.t.dial(b.t.localAddr, { timeoutMs: 5000 });
      assert.deepEqual(await exchange(conn, bytes("hi")), bytes("hi"));
      const open = await a.t.dial(b.t.localAddr); // left open on purpose
      void open;
      await until(() => b.packets.length === 1);
      await assert.rejects(factory({ // a failed bind must not leak either
        bind: b.t.localAddr,
        handlers: { packet() {}, stream: (c) => c.close() },
      }));
      await closeAll(a, b);
      await sleep(20);
      // Node reports live handles; Deno and Bun rely on the runner exiting.
      if (before !== undefined) assert.deepEqual(handleCounts(), before);
    },
  );
}

/**
 * A TCP address on `host` whose accept queue is full, so new connects hang
 * (the kernel drops their SYNs): a listener in a worker whose event loop is
 * blocked, filled with connections until one does not complete.
 * @param host loopback IP to listen on
 * @returns the address and its release
 */
export async function hangingTcpAddress(host: string): Promise<HangingAddress> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData, parentPort } = require("node:worker_threads");
     const srv = require("node:net").createServer(() => {});
     srv.listen({ host: workerData.host, port: 0, backlog: 1 }, () => {
       parentPort.postMessage(srv.address().port);
       setTimeout(() => Atomics.wait(workerData.flag, 0, 0), 20);
     });`,
    { eval: true, workerData: { flag, host } },
  );
  const port = await new Promise<number>((resolve) =>
    worker.once("message", resolve)
  );
  await sleep(100); // let the worker block
  const fillers: Socket[] = [];
  // Bun ignores `backlog` (it uses 512), so fill until two connects in a
  // row stall (one slow connect on a loaded machine is not proof).
  for (let i = 0, stalled = 0; i < 2000 && stalled < 2; i++) {
    const s = connect({ host, port });
    fillers.push(s);
    s.on("error", () => {});
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 150);
      s.once("connect", () => (clearTimeout(timer), resolve(true)));
    });
    stalled = ok ? 0 : stalled + 1;
  }
  return {
    address: { host, port },
    release: async () => {
      for (const s of fillers) s.destroy();
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      await worker.terminate();
    },
  };
}

function hasIpv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((list) =>
    list?.some((i) => i.address === "::1")
  );
}

// Counts of live socket handles on Node; undefined elsewhere.
function handleCounts(): Record<string, number> | undefined {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  const info = (process as { getActiveResourcesInfo?: () => string[] })
    .getActiveResourcesInfo;
  if (g.Deno !== undefined || g.Bun !== undefined || info === undefined) {
    return undefined;
  }
  const counts: Record<string, number> = {};
  for (const r of info()) {
    if (/TCP|UDP|Pipe|Timeout|Immediate/i.test(r)) {
      counts[r] = (counts[r] ?? 0) + 1;
    }
  }
  return counts;
}

async function echo(conn: TransportConn): Promise<void> {
  try {
    const got = await readAll(conn);
    const w = conn.writable.getWriter();
    await w.write(got);
    await w.close();
  } catch {
    // The test closed us.
  } finally {
    conn.close();
  }
}

async function exchange(
  conn: TransportConn,
  msg: Uint8Array,
): Promise<Uint8Array> {
  const w = conn.writable.getWriter();
  await w.write(msg);
  await w.close();
  return readAll(conn);
}

async function readAll(conn: TransportConn, pauseMs = 0): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = conn.readable.getReader();
  let n = 0;
  for (let since = 0;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.length;
    since += value.length;
    if (pauseMs > 0 && since >= 256 * 1024) {
      since = 0;
      await sleep(pauseMs); // a slow reader
    }
  }
  reader.releaseLock();
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) out.set(c, (off += c.length) - c.length);
  return out;
}

// Large arrays make deepEqual's failure message unreadable: say where they differ.
function sameBytes(actual: Uint8Array, expected: Uint8Array): void {
  assert.equal(actual.length, expected.length, "length");
  const i = actual.findIndex((b, i) => b !== expected[i]);
  assert.equal(i, -1, `first difference at byte ${i}`);
}

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const sleep = (ms: number): Promise<void> =>
  new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) {
      throw new Error(`Condition not met within ${ms} ms`);
    }
    await sleep(5);
  }
}

async function within<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<"timeout">((r) =>
    timer = setTimeout(() => r("timeout"), ms)
  );
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}
