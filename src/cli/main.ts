/**
 * Command dispatch for `cli.ts`: every command lives in
 * `src/agent/commands.ts` (Serf's CLI commands plus `join`'s foreground
 * member mode).
 *
 * @module
 */

import { runCli } from "../agent/commands.ts";

/**
 * Run the CLI with `args` (without the program name).
 *
 * @param args the command and its arguments
 * @returns the exit code (0 ok, 1 failure or bad usage, 127 unknown command)
 */
export async function main(args: string[]): Promise<number> {
  return await runCli(args);
}
