/** The conformance suite against Bun's native sockets (Bun only). */

import { test } from "node:test";
import assert from "node:assert/strict";
import { bunTransport } from "../../transports/bun.ts";
import { runConformance } from "./conformance.ts";

if ((globalThis as { Bun?: unknown }).Bun === undefined) {
  test("bun: conformance", { skip: "not running on Bun" }, () => {});
  test(
    "bun: bunTransport refuses to run elsewhere",
    { timeout: 5000 },
    async () => {
      await assert.rejects(
        bunTransport({
          bind: { host: "127.0.60.5", port: 0 },
          handlers: { packet() {}, stream() {} },
        }),
        TypeError,
      );
    },
  );
} else {
  runConformance("bun", bunTransport, "127.0.60.5", "127.0.60.6");
}
