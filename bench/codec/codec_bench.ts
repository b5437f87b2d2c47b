/**
 * Codec throughput: encode+decode pairs per second of four memberlist
 * messages, ours beside @msgpack/msgpack doing a generic encode/decode of the
 * same objects in the same run.
 *
 *   deno run -A bench/codec/codec_bench.ts   |   bun bench/codec/codec_bench.ts
 */
import {
  decode as oDecode,
  Decoder,
  encode as oEncode,
  Encoder,
} from "@msgpack/msgpack";
import {
  type Alive,
  decodeAck,
  decodeAlive,
  decodePing,
  decodePushPull,
  encodeAck,
  encodeAlive,
  encodePing,
  encodePushPull,
  type Ping,
  type PushPull,
} from "../../src/codec/messages.ts";
import { MsgpackReader, MsgpackWriter } from "../../src/codec/msgpack.ts";

const runtime = "Bun" in globalThis
  ? "bun"
  : "Deno" in globalThis
  ? "deno"
  : "node";
const ip = Uint8Array.from([127, 0, 0, 2]);
const vsn = Uint8Array.from([1, 5, 2, 2, 5, 5]);
const coord = new MsgpackWriter().byte(1).map(4).str("Adjustment").float64(0)
  .str("Error")
  .float64(1.5).str("Height").float64(1e-5).str("Vec").array(8);
for (let i = 0; i < 8; i++) coord.float64(i * 0.001);
const coordPayload = coord.finish();
const tags = new MsgpackWriter().byte(0xff).map(2).str("role").str("web").str(
  "dc",
).str("east").finish();

const ping: Ping = {
  seqNo: 12345,
  node: "node-17",
  sourceAddr: ip,
  sourcePort: 7946,
  sourceNode: "node-3",
};
const ack = { seqNo: 12345, payload: coordPayload };
const alive: Alive = {
  incarnation: 7,
  node: "node-17",
  addr: ip,
  port: 7946,
  meta: tags,
  vsn,
};
const pushPull: PushPull = {
  join: false,
  nodes: Array.from({ length: 100 }, (_, i) => ({
    name: `node-${i}`,
    addr: Uint8Array.from([10, 0, i >> 8, i & 255]),
    port: 7946,
    meta: tags,
    incarnation: i + 1,
    state: i % 10 === 0 ? 2 : 0,
    vsn,
  })),
  userState: new Uint8Array(0),
};

// The oracle sees the same objects with Go's field names.
const goPing = {
  Node: ping.node,
  SeqNo: ping.seqNo,
  SourceAddr: ip,
  SourceNode: ping.sourceNode,
  SourcePort: 7946,
};
const goAck = { Payload: coordPayload, SeqNo: 12345 };
const goAlive = {
  Addr: ip,
  Incarnation: 7,
  Meta: tags,
  Node: "node-17",
  Port: 7946,
  Vsn: vsn,
};
const goPushPull = {
  Join: false,
  Nodes: pushPull.nodes.map((n) => ({
    Addr: n.addr,
    Incarnation: n.incarnation,
    Meta: n.meta,
    Name: n.name,
    Port: n.port,
    State: n.state,
    Vsn: n.vsn,
  })),
};

function rate(_name: string, iterations: number, f: () => void): number {
  for (let i = 0; i < Math.min(iterations, 20_000); i++) f(); // warm up
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) f();
  const secs = (performance.now() - t0) / 1000;
  return Math.round(iterations / secs);
}

const oEnc = new Encoder();
const oDec = new Decoder();
const rows: Array<[string, number, number]> = [];
const cases: Array<[string, number, () => void, () => void]> = [
  [
    "ping",
    1_000_000,
    () => decodePing(new MsgpackReader(encodePing(ping), 1)),
    () => oDec.decode(oEnc.encode(goPing)),
  ],
  [
    "ack + coordinate",
    1_000_000,
    () => decodeAck(new MsgpackReader(encodeAck(ack), 1)),
    () => oDec.decode(oEnc.encode(goAck)),
  ],
  [
    "alive + tags",
    1_000_000,
    () => decodeAlive(new MsgpackReader(encodeAlive(alive), 1)),
    () => oDec.decode(oEnc.encode(goAlive)),
  ],
  [
    "push-pull, 100 members",
    10_000,
    () => decodePushPull(new MsgpackReader(encodePushPull(pushPull), 1)),
    () => oDecode(oEncode(goPushPull)),
  ],
];
for (const [name, n, ours, oracle] of cases) {
  rows.push([name, rate(name, n, ours), rate(name, n, oracle)]);
}
console.log(`codec encode+decode pairs/s on ${runtime} (one core)`);
console.log("| message | grapevine | @msgpack/msgpack | ratio |");
console.log("|---|---:|---:|---:|");
for (const [name, ours, oracle] of rows) {
  console.log(
    `| ${name} | ${ours.toLocaleString("en-US")} | ${
      oracle.toLocaleString("en-US")
    } | ${(ours / oracle).toFixed(2)}× |`,
  );
}
