/** The conformance suite against node:dgram + node:net, on Deno, Bun and Node. */

import { test } from "node:test";
import assert from "node:assert/strict";
import { nodeTransport } from "../../transports/node.ts";
import { defaultTransport, detectRuntime } from "../../transports/mod.ts";
import { runConformance } from "./conformance.ts";

runConformance("node", nodeTransport, "127.0.60.1", "127.0.60.2");

test(
  "defaultTransport picks the runtime's native adapter",
  { timeout: 5000 },
  async () => {
    const t = await defaultTransport({
      bind: { host: "127.0.60.1", port: 0 },
      handlers: { packet() {}, stream: (c) => c.close() },
    });
    try {
      assert.equal(t.name, detectRuntime());
    } finally {
      await t.close();
    }
  },
);
