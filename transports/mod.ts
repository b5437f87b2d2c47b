/**
 * The runtime transports and the default choice among them: Deno's native
 * sockets on Deno (falling back to `node:dgram` without `--unstable-net`),
 * Bun's native sockets on Bun, and `node:dgram`/`node:net` elsewhere.
 *
 * @module
 */

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
export { defaultTransport, detectRuntime } from "./default.ts";
export { MemoryNetwork, memoryTransport } from "./memory.ts";
export { nodeTransport } from "./node.ts";
