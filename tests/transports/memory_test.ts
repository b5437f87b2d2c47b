/** The conformance suite against the in-process memory transport, on every runtime. */

import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryNetwork, memoryTransport } from "../../transports/memory.ts";
import { runConformance } from "./conformance.ts";

const network = new MemoryNetwork();

runConformance(
  "memory",
  (opts) => memoryTransport(network, opts),
  "127.0.60.11",
  "127.0.60.12",
  {
    ipv6: true,
    hanging: (host) => {
      const address = { host, port: 9 };
      const undo = network.blackhole(address);
      return Promise.resolve({
        address,
        release: () => Promise.resolve(undo()),
      });
    },
  },
);

test("memory: a blackholed address swallows packets; every bind is released", {
  timeout: 5000,
}, async () => {
  const got: Uint8Array[] = [];
  const handlers = {
    packet: (b: Uint8Array) => void got.push(b),
    stream: () => {},
  };
  const a = await memoryTransport(network, {
    bind: { host: "10.0.0.1", port: 7946 },
    handlers,
  });
  const b = await memoryTransport(network, {
    bind: { host: "10.0.0.2", port: 7946 },
    handlers,
  });
  const undo = network.blackhole(b.localAddr);
  a.sendPacket(b.localAddr, new Uint8Array([1]));
  await new Promise((r) => setTimeout(r, 10));
  undo();
  a.sendPacket(b.localAddr, new Uint8Array([2]));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(got, [new Uint8Array([2])]);
  await Promise.all([a.close(), b.close()]);
  assert.deepEqual(network.addresses, []);
});
