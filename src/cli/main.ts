/**
 * Command dispatch for `cli.ts`. Each command parses its own flags with
 * `node:util` `parseArgs` and reports bad input with what to fix.
 *
 * @module
 */

import { parseArgs } from "node:util";

const USAGE = `Usage: grapevine <command> [options]

Commands:
  join    Run a member in the foreground and join the given seeds

Run "grapevine <command> --help" for a command's options.`;

const JOIN_USAGE =
  `Usage: grapevine join --node NAME --bind IP:PORT [--advertise IP:PORT]
                      [--encrypt BASE64KEY] [--profile lan|wan|local] [SEED…]

Runs a member in the foreground and joins the seeds (none: a cluster of one).
Ctrl-C or SIGTERM leaves the cluster gracefully.`;

/** A problem with the command line, reported with what to fix. */
export class UsageError extends Error {
  /** @param message what is wrong and how to fix it */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Parsed flags of `join`. */
export interface JoinOptions {
  /** Node name. */
  node: string;
  /** Bind address. */
  bind: { host: string; port: number };
  /** Advertise address, if given. */
  advertise?: { host: string; port: number };
  /** Base64 encryption key, if given. */
  encrypt?: string;
  /** memberlist profile. */
  profile: "lan" | "wan" | "local";
  /** Seeds to join. */
  seeds: string[];
}

/** Parse `HOST:PORT` (IPv6 as `[::1]:7946`), naming the flag on error. */
export function parseHostPort(
  text: string,
  flag: string,
): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(
      `Invalid ${flag} ${
        JSON.stringify(text)
      }: use IP:PORT, e.g. 127.0.0.1:7946`,
    );
  }
  return { host: m[1], port };
}

/** Parse the arguments of `join`. */
export function parseJoin(args: string[]): JoinOptions {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      node: { type: "string" },
      bind: { type: "string" },
      advertise: { type: "string" },
      encrypt: { type: "string" },
      profile: { type: "string", default: "lan" },
    },
  });
  if (!values.node) {
    throw new UsageError("Missing --node: give this member a unique name");
  }
  if (!values.bind) {
    throw new UsageError("Missing --bind: give the IP:PORT to listen on");
  }
  const profile = values.profile;
  if (profile !== "lan" && profile !== "wan" && profile !== "local") {
    throw new UsageError(
      `Invalid --profile ${JSON.stringify(profile)}: use lan, wan or local`,
    );
  }
  return {
    node: values.node,
    bind: parseHostPort(values.bind, "--bind"),
    advertise: values.advertise
      ? parseHostPort(values.advertise, "--advertise")
      : undefined,
    encrypt: values.encrypt,
    profile,
    seeds: positionals,
  };
}

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
      const opts = parseJoin(rest);
      await Promise.resolve();
      console.error(
        `grapevine: ${opts.node} would bind ${opts.bind.host}:${opts.bind.port}; running a member is coming with the transports and driver (issue #4)`,
      );
      return 1;
    }
    throw new UsageError(
      `Unknown command ${JSON.stringify(command)}\n\n${USAGE}`,
    );
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && "code" in e)) {
      console.error(`grapevine: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
