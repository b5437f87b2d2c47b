/**
 * grapevine's command line: `deno run -A cli.ts join --node NAME --bind IP:PORT [SEED…]`
 * or `bun cli.ts join …`.
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  const code = await main(
    (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
      (await import("node:process")).argv.slice(2),
  );
  (await import("node:process")).exit(code);
}
