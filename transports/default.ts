/**
 * The default transport of this runtime, loaded on first use: Deno's native
 * sockets on Deno, Bun's on Bun, `node:dgram`/`node:net` elsewhere. Only the
 * chosen adapter is imported, so a member on Deno or Bun never loads
 * `node:dgram` and `node:net` (~6 MiB of RSS on either; bench/idle/README.md).
 *
 * @module
 */

import type { Transport, TransportOptions } from "../src/transport.ts";

/**
 * Which adapter {@linkcode defaultTransport} uses on this runtime.
 * @returns "deno", "bun" or "node"
 */
export function detectRuntime(): "deno" | "bun" | "node" {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  // Bun defines no Deno global, but Deno's Node compatibility defines
  // `process`, so test the runtime globals, not `process`.
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  return "node";
}

/**
 * Bind the current runtime's fastest transport.
 * @param opts where to bind and whom to call
 * @returns the bound transport; its `name` says which adapter
 * @example
 * ```ts
 * import { defaultTransport } from "./default.ts";
 * const t = await defaultTransport({
 *   bind: { host: "127.0.0.1", port: 0 },
 *   handlers: { packet: () => {}, stream: (c) => c.close() },
 * });
 * console.log(t.name); // "deno", "bun" or "node"
 * await t.close();
 * ```
 */
export async function defaultTransport(
  opts: TransportOptions,
): Promise<Transport> {
  switch (detectRuntime()) {
    case "deno":
      return (await import("./deno.ts")).denoTransport(opts);
    case "bun":
      return (await import("./bun.ts")).bunTransport(opts);
    default:
      return (await import("./node.ts")).nodeTransport(opts);
  }
}
