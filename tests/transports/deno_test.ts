/** The conformance suite against Deno's native sockets (Deno only), and its fallback. */

import { test } from "node:test";
import assert from "node:assert/strict";
import { denoTransport, UNSTABLE_NET_NOTICE } from "../../transports/deno.ts";
import { runConformance } from "./conformance.ts";

const deno = (globalThis as { Deno?: Record<string, unknown> }).Deno;

if (deno === undefined) {
  test("deno: conformance", { skip: "not running on Deno" }, () => {});
} else {
  runConformance("deno", denoTransport, "127.0.60.3", "127.0.60.4");

  test(
    "deno: without --unstable-net it falls back to node:dgram and says how to fix it",
    {
      timeout: 5000,
    },
    async () => {
      const saved = deno.listenDatagram;
      const warn = console.warn;
      const warned: unknown[] = [];
      deno.listenDatagram = undefined;
      console.warn = (msg: unknown) => void warned.push(msg);
      try {
        const t = await denoTransport({
          bind: { host: "127.0.60.3", port: 0 },
          handlers: { packet() {}, stream: (c) => c.close() },
        });
        await t.close();
        assert.equal(t.name, "node");
        assert.deepEqual(warned, [UNSTABLE_NET_NOTICE]);
        assert.match(UNSTABLE_NET_NOTICE, /--unstable-net/);
        assert.match(UNSTABLE_NET_NOTICE, /"unstable": \["net"\]/);
      } finally {
        deno.listenDatagram = saved;
        console.warn = warn;
      }
    },
  );
}
