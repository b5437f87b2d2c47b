/**
 * Command dispatch for `cli.ts`. Each command parses its own flags with
 * `node:util` `parseArgs` and reports bad input with what to fix (exit 2).
 *
 * @module
 */

import { JOIN_USAGE, runJoin } from "./join.ts";
import { UsageError } from "./usage.ts";

const USAGE = `Usage: grapevine <command> [options]

Commands:
  join    Run a member in the foreground and join the given seeds

Run "grapevine <command> --help" for a command's options.`;

/** Run the CLI with `args` (without the program name); returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === undefined || command === "--help" || command === "-h") {
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === "join") {
      if (rest.includes("--help") || rest.includes("-h")) {
        console.log(JOIN_USAGE);
        return 0;
      }
      return await runJoin(rest);
    }
    throw new UsageError(
      `Unknown command ${JSON.stringify(command)}\n\n${USAGE}`,
    );
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`grapevine: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
