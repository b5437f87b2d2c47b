/**
 * Transport benchmark on loopback: every adapter the current runtime can run
 * (its native one, node:dgram/node:net, and the in-memory reference), through
 * the `Transport` contract, so adapter overhead is included.
 *
 *   deno run -A bench/transport/transport_bench.ts [packets] [--json]
 *   bun bench/transport/transport_bench.ts [packets] [--json]
 *   npx -y node@22 bench/transport/transport_bench.ts [packets] [--json]
 *
 * Measures, per adapter:
 * - packet RTT: 100-byte ping echoed back, one in flight (round trips/s,
 *   p50 and p99 in µs);
 * - packet rate: the same with 32 in flight (echoed packets/s);
 * - stream exchange: dial, write 1 KiB, half-close, read the 1 KiB echo,
 *   close (a push-pull's shape; exchanges/s and p50 µs);
 * - stream bulk: 64 MiB over one connection in 64 KiB writes (MiB/s).
 */

import type {
  Transport,
  TransportConn,
  TransportFactory,
} from "../../src/transport.ts";
import { bunTransport } from "../../transports/bun.ts";
import { denoTransport } from "../../transports/deno.ts";
import { MemoryNetwork, memoryTransport } from "../../transports/memory.ts";
import { detectRuntime } from "../../transports/mod.ts";
import { nodeTransport } from "../../transports/node.ts";

const args = (globalThis as { process?: { argv: string[] } }).process?.argv ??
  [];
const PACKETS = Number(args.find((a) => /^\d+$/.test(a)) ?? 50_000);
const JSON_OUT = args.includes("--json");
const EXCHANGES = 2_000;
const BULK_BYTES = 64 * 1024 * 1024;
const HOST = "127.0.0.1";

interface Row {
  runtime: string;
  adapter: string;
  rttPerSec: number;
  rttP50Us: number;
  rttP99Us: number;
  packetsPerSec: number;
  exchangesPerSec: number;
  exchangeP50Us: number;
  bulkMiBPerSec: number;
}

type EchoPeers = {
  a: Transport;
  b: Transport;
  onReply: (b: Uint8Array) => void;
};

async function echoPair(factory: TransportFactory): Promise<EchoPeers> {
  const peers = { onReply: (_: Uint8Array) => {} } as EchoPeers;
  peers.a = await factory({
    bind: { host: HOST, port: 0 },
    handlers: { packet: (b) => peers.onReply(b), stream: (c) => c.close() },
  });
  peers.b = await factory({
    bind: { host: HOST, port: 0 },
    handlers: {
      packet: (bytes, from) => peers.b.sendPacket(from, bytes),
      stream: (c) => void echoStream(c),
    },
  });
  return peers;
}

// Send `n` packets with `window` in flight; a lost packet is re-sent after
// 200 ms of silence so the run cannot stall. Returns per-reply RTTs in ms.
function packets(p: EchoPeers, n: number, window: number): Promise<number[]> {
  const sentAt = new Float64Array(n);
  const rtts: number[] = [];
  let sent = 0;
  let lastReply = performance.now();
  const send = (seq: number): void => {
    const msg = new Uint8Array(100);
    new DataView(msg.buffer).setUint32(0, seq);
    sentAt[seq] = performance.now();
    p.a.sendPacket(p.b.localAddr, msg);
  };
  return new Promise((resolve) => {
    const watchdog = setInterval(() => {
      if (performance.now() - lastReply > 200 && sent > 0) send(sent - 1);
    }, 200);
    p.onReply = (b) => {
      const now = performance.now();
      lastReply = now;
      rtts.push(
        now - sentAt[new DataView(b.buffer, b.byteOffset).getUint32(0)],
      );
      if (rtts.length >= n) {
        clearInterval(watchdog);
        resolve(rtts);
      } else if (sent < n) send(sent++);
    };
    while (sent < Math.min(window, n)) send(sent++);
  });
}

async function echoStream(c: TransportConn): Promise<void> {
  try {
    const r = c.readable.getReader();
    const w = c.writable.getWriter();
    for (;;) {
      const { value, done } = await r.read();
      if (done) break;
      await w.write(value);
    }
    await w.close();
  } catch {
    // bulk runs close without a reply
  } finally {
    c.close();
  }
}

async function exchanges(p: EchoPeers, n: number): Promise<number[]> {
  const msg = new Uint8Array(1024).fill(7);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const c = await p.a.dial(p.b.localAddr);
    const w = c.writable.getWriter();
    await w.write(msg);
    await w.close();
    let got = 0;
    const r = c.readable.getReader();
    for (let x = await r.read(); !x.done; x = await r.read()) {
      got += x.value.length;
    }
    c.close();
    if (got !== msg.length) throw new Error(`echo returned ${got} bytes`);
    times.push(performance.now() - t0);
  }
  return times;
}

async function bulk(p: EchoPeers, factory: TransportFactory): Promise<number> {
  let inbound: Promise<number> | undefined;
  const sink = await factory({
    bind: { host: HOST, port: 0 },
    handlers: {
      packet() {},
      stream: (c) =>
        inbound = (async () => {
          let n = 0;
          const r = c.readable.getReader();
          for (let x = await r.read(); !x.done; x = await r.read()) {
            n += x.value.length;
          }
          c.close();
          return n;
        })(),
    },
  });
  const t0 = performance.now();
  const c = await p.a.dial(sink.localAddr);
  const w = c.writable.getWriter();
  const chunk = new Uint8Array(64 * 1024);
  for (let sent = 0; sent < BULK_BYTES; sent += chunk.length) {
    await w.write(chunk);
  }
  await w.close();
  while (inbound === undefined) await new Promise((r) => setTimeout(r, 1));
  const n = await inbound;
  const ms = performance.now() - t0;
  c.close();
  await sink.close();
  if (n !== BULK_BYTES) throw new Error(`bulk moved ${n} bytes`);
  return BULK_BYTES / 1024 / 1024 / (ms / 1000);
}

const q = (xs: number[], f: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * f))];
};

let network = new MemoryNetwork();
const memoryFactory = (): TransportFactory => (o) =>
  memoryTransport(network, o);

function factories(): [string, TransportFactory][] {
  const rt = detectRuntime();
  const list: [string, TransportFactory][] = [];
  if (rt === "deno") list.push(["deno", denoTransport]);
  if (rt === "bun") list.push(["bun", bunTransport]);
  list.push(["node", nodeTransport], ["memory", memoryFactory()]);
  return list;
}

async function run(adapter: string, factory: TransportFactory): Promise<Row> {
  network = new MemoryNetwork();
  const p = await echoPair(factory);
  if (p.a.name !== adapter) {
    throw new Error(`wanted ${adapter}, got ${p.a.name}`);
  }
  await packets(p, 2_000, 1); // warm up
  const t1 = performance.now();
  const rtts = await packets(p, PACKETS, 1);
  const rttSec = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  await packets(p, PACKETS, 32);
  const rateSec = (performance.now() - t2) / 1000;
  await exchanges(p, 100); // warm up
  const t3 = performance.now();
  const ex = await exchanges(p, EXCHANGES);
  const exSec = (performance.now() - t3) / 1000;
  const mibs = await bulk(p, factory);
  await p.a.close();
  await p.b.close();
  return {
    runtime: detectRuntime(),
    adapter,
    rttPerSec: Math.round(PACKETS / rttSec),
    rttP50Us: Math.round(q(rtts, 0.5) * 1000),
    rttP99Us: Math.round(q(rtts, 0.99) * 1000),
    packetsPerSec: Math.round(PACKETS / rateSec),
    exchangesPerSec: Math.round(EXCHANGES / exSec),
    exchangeP50Us: Math.round(q(ex, 0.5) * 1000),
    bulkMiBPerSec: Math.round(mibs),
  };
}

const rows: Row[] = [];
for (const [name, f] of factories()) rows.push(await run(name, f));
if (JSON_OUT) {
  for (const r of rows) console.log(JSON.stringify(r));
} else {
  const fmt = (n: number): string => n.toLocaleString("en-US");
  console.log(
    `transport bench on ${detectRuntime()}, ${fmt(PACKETS)} packets, ${
      fmt(EXCHANGES)
    } exchanges, 64 MiB bulk`,
  );
  console.log(
    "| adapter | packet RTT/s | RTT p50 µs | RTT p99 µs | packets/s (32 in flight) | dial+1 KiB exchange/s | exchange p50 µs | bulk MiB/s |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| ${r.adapter} @ ${r.runtime} | ${
        fmt(r.rttPerSec)
      } | ${r.rttP50Us} | ${r.rttP99Us} | ${fmt(r.packetsPerSec)} | ${
        fmt(r.exchangesPerSec)
      } | ${r.exchangeP50Us} | ${fmt(r.bulkMiBPerSec)} |`,
    );
  }
}
