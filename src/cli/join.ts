/**
 * `grapevine join`: run a member in the foreground, join the seeds, log
 * membership changes, and leave gracefully on Ctrl-C or SIGTERM.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { getLogger } from "@logtape/logtape";
import { startSerf } from "../serf_node.ts";
import { type CliLogLevel, configureLogging, LOG_LEVELS } from "./logging.ts";
import { parseHostPort, UsageError } from "./usage.ts";

/** Help text of `join`. */
export const JOIN_USAGE =
  `Usage: grapevine join --node NAME --bind IP:PORT [--advertise IP:PORT]
                      [--encrypt BASE64KEY] [--profile lan|wan|local]
                      [--log-level trace|debug|info|warn|err] [SEED…]

Runs a member in the foreground and joins the seeds (IP:PORT; none: a cluster
of one). Membership changes are logged to stderr. Ctrl-C or SIGTERM leaves the
cluster gracefully and exits 0.

Options:
  --node NAME         unique name of this member (required)
  --bind IP:PORT      address to listen on, UDP and TCP (required)
  --advertise IP:PORT address other members should use (default: --bind)
  --encrypt KEY       base64 AES key, e.g. from "serf keygen" (16, 24 or 32 bytes)
  --profile NAME      lan (default), wan or local: memberlist's timing profiles
  --log-level LEVEL   lowest level logged (default info)`;

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
  /** Lowest log level. */
  logLevel: CliLogLevel;
  /** Seeds to join. */
  seeds: string[];
}

/** Parse the arguments of `join`; throws {@linkcode UsageError} saying what to fix. */
export function parseJoin(args: string[]): JoinOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        node: { type: "string" },
        bind: { type: "string" },
        advertise: { type: "string" },
        encrypt: { type: "string" },
        profile: { type: "string", default: "lan" },
        "log-level": { type: "string", default: "info" },
      },
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${JOIN_USAGE}`);
  }
  const { values, positionals } = parsed;
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
  const logLevel = values["log-level"] as CliLogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new UsageError(
      `Invalid --log-level ${JSON.stringify(logLevel)}: use ${
        LOG_LEVELS.join(", ")
      }`,
    );
  }
  for (const seed of positionals) parseHostPort(seed, "seed");
  return {
    node: values.node,
    bind: parseHostPort(values.bind, "--bind"),
    advertise: values.advertise
      ? parseHostPort(values.advertise, "--advertise")
      : undefined,
    encrypt: values.encrypt,
    profile,
    logLevel,
    seeds: positionals,
  };
}

const logger = getLogger(["grapevine", "agent"]);

/** Run `join`; resolves with the exit code once the member has left. */
export async function runJoin(args: string[]): Promise<number> {
  const opts = parseJoin(args);
  await configureLogging(opts.logLevel);
  let node;
  try {
    // A Serf member, so that the seeds may be Serf or Consul agents: a bare
    // memberlist cannot join them (Serf's delegate protocol versions).
    node = await startSerf({
      name: opts.node,
      bind: opts.bind,
      advertise: opts.advertise,
      profile: opts.profile,
      keys: opts.encrypt ? [opts.encrypt] : undefined,
    });
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) {
      throw new UsageError((e as Error).message);
    }
    throw e;
  }
  logger
    .info`grapevine agent: ${opts.node} listening on ${node.localAddr.host}:${node.localAddr.port} (${opts.profile}, ${node.transportName} transport)`;
  // Serf logs membership changes itself ("serf: EventMemberJoin: …").
  const events = (async () => {
    for await (const e of node.events()) {
      // The serf agent's words for user events and queries.
      if (e.type === "user") logger.info`Received event: user-event: ${e.name}`;
      else if (e.type === "query") {
        logger.info`Received event: query: ${e.name}`;
      }
    }
  })();
  if (opts.seeds.length > 0) {
    try {
      const n = await node.join(opts.seeds);
      logger.info`Joined ${n} of ${opts.seeds.length} seeds`;
    } catch (e) {
      logger.error`${(e as Error).message}`;
    }
  }
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  logger.info`Caught ${signal}, leaving gracefully`;
  // A second signal during the leave forces the exit (Serf agent behaviour).
  const force = () => process.exit(1);
  process.once("SIGINT", force);
  process.once("SIGTERM", force);
  await node.leave();
  await node.shutdown();
  await events;
  logger.info`Left the cluster`;
  return 0;
}
