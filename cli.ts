/**
 * grapevine's command line: `deno run -A cli.ts join --node NAME --bind IP:PORT [SEED…]`
 * or `bun cli.ts join …`.
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  // Deno's own args and exit: node:process would start Deno's Node
  // compatibility layer, ~4.5 MiB of RSS (bench/idle/README.md).
  const deno = (globalThis as {
    Deno?: { args: string[]; exit(code: number): never };
  }).Deno;
  const code = await main(
    deno?.args ?? (await import("node:process")).argv.slice(2),
  );
  if (deno !== undefined) deno.exit(code);
  (await import("node:process")).exit(code);
}
