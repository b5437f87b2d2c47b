/**
 * Node built-in modules loaded on first use, synchronously, instead of at
 * import: `node:fs` alone costs ~4 MiB of RSS on Deno and on Bun, `node:os`
 * and `node:path` ~1–2 MiB each, and on Deno the first `node:*` module (or
 * the `process` global) starts the Node compatibility layer, ~4.5 MiB
 * (bench/idle/README.md, `import_cost.ts`). An agent without tag, keyring,
 * snapshot or config files never reads a file, so it never pays.
 *
 * `process.getBuiltinModule` is synchronous: Node ≥ 20.16, Deno 2, Bun 1.1.
 *
 * @module
 */

import type * as NodeFs from "node:fs";
import type * as NodeOs from "node:os";
import type * as NodePath from "node:path";
import type NodeProcess from "node:process";

type Process = typeof NodeProcess;

/**
 * The `process` global (on Deno, touching it starts Node compatibility: call
 * only when a feature needs it).
 *
 * @returns `globalThis.process`
 */
export function nodeProcess(): Process {
  return (globalThis as unknown as { process: Process }).process;
}

/**
 * `node:fs`, loaded on first use.
 *
 * @returns the module
 */
export function nodeFs(): typeof NodeFs {
  return nodeProcess().getBuiltinModule("node:fs") as typeof NodeFs;
}

/**
 * `node:os`, loaded on first use.
 *
 * @returns the module
 */
export function nodeOs(): typeof NodeOs {
  return nodeProcess().getBuiltinModule("node:os") as typeof NodeOs;
}

/**
 * `node:path`, loaded on first use.
 *
 * @returns the module
 */
export function nodePath(): typeof NodePath {
  return nodeProcess().getBuiltinModule("node:path") as typeof NodePath;
}

interface DenoSignals {
  addSignalListener(signal: string, handler: () => void): void;
  removeSignalListener(signal: string, handler: () => void): void;
}

/**
 * Listen for a POSIX signal: `Deno.addSignalListener` on Deno (no Node
 * compatibility layer), `process.on` elsewhere.
 *
 * @param signal "SIGINT", "SIGTERM" or "SIGHUP"
 * @param handler called on each delivery
 * @returns a function that removes the listener
 */
export function onSignal(
  signal: "SIGINT" | "SIGTERM" | "SIGHUP",
  handler: () => void,
): () => void {
  const deno = (globalThis as { Deno?: DenoSignals }).Deno;
  if (deno !== undefined) {
    deno.addSignalListener(signal, handler);
    return () => deno.removeSignalListener(signal, handler);
  }
  const p = nodeProcess();
  p.on(signal, handler);
  return () => void p.off(signal, handler);
}
