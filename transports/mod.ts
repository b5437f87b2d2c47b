/**
 * The runtime transports and the default choice among them: Deno's native
 * sockets on Deno (falling back to `node:dgram` without `--unstable-net`),
 * Bun's native sockets on Bun, and `node:dgram`/`node:net` elsewhere.
 *
 * @module
 */

import type { Transport, TransportOptions } from "../src/transport.ts";
import { bunTransport } from "./bun.ts";
import { denoTransport } from "./deno.ts";
import { nodeTransport } from "./node.ts";

export type {
  DialOptions,
  Transport,
  TransportConn,
  TransportFactory,
  TransportHandlers,
  TransportOptions,
  TransportStats,
} from "../src/transport.ts";
export { bunTransport } from "./bun.ts";
export { denoTransport, UNSTABLE_NET_NOTICE } from "./deno.ts";
export { MemoryNetwork, memoryTransport } from "./memory.ts";
export { nodeTransport } from "./node.ts";

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
 * import { defaultTransport } from "./mod.ts";
 * const t = await defaultTransport({
 *   bind: { host: "127.0.0.1", port: 0 },
 *   handlers: { packet: () => {}, stream: (c) => c.close() },
 * });
 * console.log(t.name); // "deno", "bun" or "node"
 * await t.close();
 * ```
 */
export function defaultTransport(opts: TransportOptions): Promise<Transport> {
  switch (detectRuntime()) {
    case "deno":
      return denoTransport(opts);
    case "bun":
      return bunTransport(opts);
    default:
      return nodeTransport(opts);
  }
}
