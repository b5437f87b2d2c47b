/**
 * grapevine's command line: Serf's CLI commands with Serf's flags, output
 * and exit codes (serf `cmd/serf/command/*.go`), so scripts written for
 * `serf` work with `grapevine`. Each client command talks to an agent's RPC
 * (`-rpc-addr`, default `$SERF_RPC_ADDR` or 127.0.0.1:7373; `-rpc-auth`,
 * default `$SERF_RPC_AUTH`) and works against a real Serf agent too.
 *
 * Flags are Go style (`-rpc-addr=…`), and `--flag value` works as well.
 * Exit codes: 0 success, 1 failure or bad usage (printed with what to fix),
 * 127 unknown command.
 *
 * @module
 */

import { nodeFs } from "./builtin.ts";
import { UsageError } from "../cli/usage.ts";
import { compileGoRegExp } from "../serf/go_regexp.ts";
import { distanceSeconds } from "../serf/coordinates.ts";
import type { EventRecord, RpcMember } from "../codec/rpc.ts";
import { ipToString } from "../codec/messages.ts";
import type { RpcClient } from "./client.ts";
import {
  AGENT_FLAGS,
  configFromFlags,
  finishConfig,
  mergeConfig,
  parseTags,
  poolMemberlist,
  readConfigPaths,
  TUNING_FLAGS,
} from "./config.ts";
import {
  flagBool,
  flagInt,
  flagList,
  type FlagSpec,
  flagString,
  type ParsedFlags,
  parseDurationMs,
  parseFlags,
  wantsHelp,
} from "./flags.ts";
import { configureAgentLogging, LogHub } from "./logs.ts";
import { serveAgent } from "./serve.ts";
import * as help from "./help.ts";

/** A CLI command. */
export interface Command {
  /** One line for the command list. */
  readonly synopsis: string;
  /** The `-h` text. */
  readonly help: string;
  /** Its flags. */
  readonly flags: readonly FlagSpec[];
  /** Run with parsed flags; resolves with the exit code. */
  run(p: ParsedFlags): Promise<number>;
}

const RPC_FLAGS: readonly FlagSpec[] = [
  { name: "rpc-addr", kind: "string" },
  { name: "rpc-auth", kind: "string" },
];

function out(line: string): void {
  console.log(line);
}

function err(line: string): void {
  console.error(line);
}

function rpcAddr(p: ParsedFlags): string {
  return flagString(
    p,
    "rpc-addr",
    globalThis.process?.env?.SERF_RPC_ADDR || "127.0.0.1:7373",
  );
}

/**
 * Connect to the agent named by `-rpc-addr`, run `f`, close. A connection
 * failure prints Serf's "Error connecting to Serf agent" with a hint.
 */
async function withClient(
  p: ParsedFlags,
  f: (c: RpcClient) => Promise<number>,
): Promise<number> {
  const addr = rpcAddr(p);
  let c: RpcClient;
  // The client is loaded by client commands only, so `agent` loads less code.
  const { RpcClient } = await import("./client.ts");
  try {
    c = await RpcClient.connect(addr, {
      authKey: flagString(
        p,
        "rpc-auth",
        globalThis.process?.env?.SERF_RPC_AUTH ?? "",
      ),
    });
  } catch (e) {
    err(
      `Error connecting to Serf agent: ${(e as Error).message}\n` +
        `(is an agent running at ${addr}? start one with "grapevine agent", or point -rpc-addr at it)`,
    );
    return 1;
  }
  try {
    return await f(c);
  } finally {
    c.close();
  }
}

function noArgs(p: ParsedFlags, usage: string): void {
  if (p.positionals.length > 0) {
    throw new UsageError(
      `Unexpected argument ${JSON.stringify(p.positionals[0])}\n\n${usage}`,
    );
  }
}

/**
 * Align `|`-separated columns with two spaces (Go's columnize
 * `SimpleFormat`, which `serf members` and `serf keys` use).
 *
 * @param rows the rows, cells already split
 * @returns the aligned lines
 */
export function columnize(rows: readonly string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  }
  return rows.map((r) =>
    r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]) : c)).join("  ")
  );
}

// ------------------------------------------------------------------ agent

const agentCommand: Command = {
  synopsis: "Runs a grapevine agent",
  help: help.AGENT,
  flags: AGENT_FLAGS,
  async run(p) {
    noArgs(p, help.AGENT);
    const warnings: string[] = [];
    const files = readConfigPaths(
      [...flagList(p, "config-file"), ...flagList(p, "config-dir")],
      warnings,
    );
    const fin = finishConfig(mergeConfig(files, configFromFlags(p, warnings)));
    for (const w of [...warnings, ...fin.warnings]) out(w);
    const logs = new LogHub();
    await configureAgentLogging(logs, {
      level: fin.config.logLevel,
      json: fin.config.logJson,
    });
    return await serveAgent(fin.config, { logs, banner: true });
  },
};

// ------------------------------------------------------------------- join

const JOIN_FLAGS: readonly FlagSpec[] = [
  ...RPC_FLAGS,
  { name: "replay", kind: "bool" },
  { name: "wan", kind: "bool" },
  { name: "node", kind: "string" },
  { name: "bind", kind: "string" },
  { name: "advertise", kind: "string" },
  { name: "encrypt", kind: "string" },
  { name: "profile", kind: "string" },
  { name: "log-level", kind: "string" },
  { name: "log-json", kind: "bool" },
];

const joinCommand: Command = {
  synopsis: "Run a member and join a cluster, or tell an agent to join",
  help: help.JOIN,
  flags: JOIN_FLAGS,
  async run(p) {
    if (p.values.has("rpc-addr")) return await joinThroughRpc(p);
    return await joinForeground(p);
  },
};

async function joinThroughRpc(p: ParsedFlags): Promise<number> {
  for (const f of ["node", "bind", "advertise", "encrypt", "profile"]) {
    if (p.values.has(f)) {
      throw new UsageError(
        `Invalid -${f} with -rpc-addr: -rpc-addr asks a running agent to join, -${f} configures a new member; give one or the other`,
      );
    }
  }
  const addrs = [...p.positionals];
  if (addrs.length === 0) {
    throw new UsageError(
      `At least one address to join must be specified.\n\n${help.JOIN}`,
    );
  }
  return await withClient(p, async (c) => {
    try {
      const n = await c.join(addrs, flagBool(p, "replay"), flagBool(p, "wan"));
      out(`Successfully joined cluster by contacting ${n} nodes.`);
      return 0;
    } catch (e) {
      err(`Error joining the cluster: ${(e as Error).message}`);
      return 1;
    }
  });
}

async function joinForeground(p: ParsedFlags): Promise<number> {
  const node = flagString(p, "node", "");
  const bind = flagString(p, "bind", "");
  if (node === "") {
    throw new UsageError(
      "Missing --node: give this member a unique name (or give -rpc-addr to ask a running agent to join)",
    );
  }
  if (bind === "") {
    throw new UsageError("Missing --bind: give the IP:PORT to listen on");
  }
  const draft = configFromFlags(
    {
      values: new Map(
        [...p.values].filter(([k]) => !["replay", "wan"].includes(k)),
      ),
      positionals: [],
    },
    [],
  );
  const { config } = finishConfig({ ...draft, rpcAddr: "" });
  const logs = new LogHub();
  await configureAgentLogging(logs, {
    level: config.logLevel,
    json: config.logJson,
  });
  return await serveAgent(config, {
    logs,
    banner: false,
    softJoin: [...p.positionals],
    leaveOnAnySignal: true,
  });
}

// ---------------------------------------------------------------- members

function memberAddr(m: RpcMember): string {
  const ip = ipToString(m.addr);
  return ip.includes(":") ? `[${ip}]:${m.port}` : `${ip}:${m.port}`;
}

function sortedTags(tags: ReadonlyMap<string, string>): Record<string, string> {
  return Object.fromEntries([...tags].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function memberJson(m: RpcMember): Record<string, unknown> {
  return {
    name: m.name,
    addr: memberAddr(m),
    port: m.port,
    tags: sortedTags(m.tags),
    status: m.status,
    protocol: {
      max: m.delegateMax,
      min: m.delegateMin,
      version: m.delegateCur,
    },
  };
}

function memberRow(m: RpcMember, detailed: boolean): string[] {
  const tags = Object.entries(sortedTags(m.tags)).map(([k, v]) => `${k}=${v}`);
  const row = [m.name, memberAddr(m), m.status, tags.join(",")];
  if (detailed) {
    row.push(
      `Protocol Version: ${m.delegateCur}`,
      `Available Protocol Range: [${m.delegateMin}, ${m.delegateMax}]`,
    );
  }
  return row;
}

/**
 * The datacenter of a WAN member: its `dc` tag, else its name's suffix.
 *
 * @param m a WAN member
 * @returns the datacenter ("" when unknown)
 */
export function memberDatacenter(m: RpcMember): string {
  const tag = m.tags.get("dc");
  if (tag !== undefined) return tag;
  const dot = m.name.lastIndexOf(".");
  return dot >= 0 ? m.name.slice(dot + 1) : "";
}

function format(p: ParsedFlags): "text" | "json" {
  const f = flagString(p, "format", "text");
  if (f !== "text" && f !== "json") {
    throw new UsageError(
      `Invalid -format ${JSON.stringify(f)}: use text or json`,
    );
  }
  return f;
}

const membersCommand: Command = {
  synopsis: "Lists the members of a cluster",
  help: help.MEMBERS,
  flags: [
    ...RPC_FLAGS,
    { name: "detailed", kind: "bool" },
    { name: "format", kind: "string" },
    { name: "name", kind: "string" },
    { name: "role", kind: "string" },
    { name: "status", kind: "string" },
    { name: "tag", kind: "list" },
    { name: "wan", kind: "bool" },
  ],
  async run(p) {
    noArgs(p, help.MEMBERS);
    const fmt = format(p);
    const tagPairs = flagList(p, "tag");
    const role = flagString(p, "role", "");
    if (role !== "") {
      out("Deprecation warning: 'Role' has been replaced with 'Tags'");
      tagPairs.push(`role=${role}`);
    }
    const tags = parseTags(tagPairs);
    const status = flagString(p, "status", "");
    const name = flagString(p, "name", "");
    for (
      const [what, re] of [
        ["-status", status],
        ["-name", name],
        ...[...tags].map(([k, v]) => [`-tag ${k}`, v]),
      ]
    ) {
      const c = compileGoRegExp(`^${re}$`);
      if (typeof c === "string") {
        throw new UsageError(
          `Invalid ${what} regexp ${JSON.stringify(re)}: ${c}`,
        );
      }
    }
    return await withClient(p, async (c) => {
      let members: RpcMember[];
      try {
        members = flagBool(p, "wan")
          ? filterLocally(await c.wanMembers(), tags, status, name)
          : await c.membersFiltered(tags, status, name);
      } catch (e) {
        const msg = (e as Error).message;
        err(
          `Error retrieving members: ${msg}` +
            (msg === "Unsupported command" && flagBool(p, "wan")
              ? " (-wan needs a grapevine agent started with -datacenter and -wan-bind; a Serf agent has no WAN pool)"
              : ""),
        );
        return 1;
      }
      if (flagBool(p, "wan")) printWan(members, fmt, flagBool(p, "detailed"));
      else if (fmt === "json") {
        out(JSON.stringify({ members: members.map(memberJson) }, null, 2));
      } else {
        out(
          columnize(members.map((m) => memberRow(m, flagBool(p, "detailed"))))
            .join("\n").trim(),
        );
      }
      return 0;
    });
  },
};

function filterLocally(
  members: RpcMember[],
  tags: Map<string, string>,
  status: string,
  name: string,
): RpcMember[] {
  const re = (e: string): RegExp => compileGoRegExp(`^${e}$`) as RegExp;
  return members.filter((m) =>
    [...tags].every(([k, v]) => re(v).test(m.tags.get(k) ?? "")) &&
    (status === "" || re(status).test(m.status)) &&
    (name === "" || re(name).test(m.name))
  );
}

function printWan(members: RpcMember[], fmt: string, detailed: boolean): void {
  const byDc = new Map<string, RpcMember[]>();
  for (const m of members) {
    const dc = memberDatacenter(m);
    byDc.set(dc, [...(byDc.get(dc) ?? []), m]);
  }
  const dcs = [...byDc.keys()].sort();
  if (fmt === "json") {
    out(JSON.stringify(
      {
        datacenters: Object.fromEntries(
          dcs.map((dc) => [dc, { members: byDc.get(dc)!.map(memberJson) }]),
        ),
      },
      null,
      2,
    ));
    return;
  }
  const rows = dcs.flatMap((dc) =>
    byDc.get(dc)!.map((m) => memberRow(m, detailed))
  );
  const lines = columnize(rows);
  let i = 0;
  for (const dc of dcs) {
    out(`${dc === "" ? "(no datacenter)" : dc}:`);
    for (const _ of byDc.get(dc)!) out(`  ${lines[i++].trimEnd()}`);
  }
}

// ------------------------------------------------------------ event, query

const eventCommand: Command = {
  synopsis: "Send a custom event through the cluster",
  help: help.EVENT,
  flags: [...RPC_FLAGS, { name: "coalesce", kind: "bool" }],
  async run(p) {
    const args = p.positionals;
    if (args.length < 1) {
      throw new UsageError(`An event name must be specified.\n\n${help.EVENT}`);
    }
    if (args.length > 2) {
      throw new UsageError(
        `Too many command line arguments. Only a name and payload must be specified.\n\n${help.EVENT}`,
      );
    }
    const coalesce = flagBool(p, "coalesce", true);
    const payload = args.length === 2
      ? new TextEncoder().encode(args[1])
      : null;
    return await withClient(p, async (c) => {
      try {
        await c.userEvent(args[0], payload, coalesce);
      } catch (e) {
        err(`Error sending event: ${(e as Error).message}`);
        return 1;
      }
      out(`Event '${args[0]}' dispatched! Coalescing enabled: ${coalesce}`);
      return 0;
    });
  },
};

const queryCommand: Command = {
  synopsis: "Send a query to the cluster",
  help: help.QUERY,
  flags: [
    ...RPC_FLAGS,
    { name: "node", kind: "list" },
    { name: "tag", kind: "list" },
    { name: "timeout", kind: "string" },
    { name: "no-ack", kind: "bool" },
    { name: "format", kind: "string" },
    { name: "relay-factor", kind: "string" },
  ],
  async run(p) {
    const args = p.positionals;
    const filterTags = parseTags(flagList(p, "tag"));
    if (args.length < 1) {
      throw new UsageError(`A query name must be specified.\n\n${help.QUERY}`);
    }
    if (args.length > 2) {
      throw new UsageError(
        `Too many command line arguments. Only a name and payload must be specified.\n\n${help.QUERY}`,
      );
    }
    const relayFactor = flagInt(p, "relay-factor", 0);
    if (relayFactor < 0 || relayFactor > 255) {
      throw new UsageError("Relay factor must be between 0 and 255");
    }
    const timeoutMs = parseDurationMs(
      flagString(p, "timeout", "0"),
      "-timeout",
    );
    const fmt = format(p);
    const noAck = flagBool(p, "no-ack");
    return await withClient(p, (c) =>
      runQuery(c, {
        name: args[0],
        payload: args.length === 2 ? new TextEncoder().encode(args[1]) : null,
        filterNodes: flagList(p, "node"),
        filterTags,
        requestAck: !noAck,
        relayFactor,
        timeoutNs: Math.round(timeoutMs * 1e6),
      }, fmt));
  },
};

async function runQuery(
  c: RpcClient,
  q: Parameters<RpcClient["query"]>[0],
  fmt: "text" | "json",
): Promise<number> {
  let stream;
  try {
    stream = await c.query({
      ...q,
      filterNodes: q.filterNodes?.length ? q.filterNodes : null,
    });
  } catch (e) {
    err(`Error sending query: ${(e as Error).message}`);
    return 1;
  }
  const acks: string[] = [];
  const responses = new Map<string, string>();
  if (fmt === "text") out(`Query '${q.name}' dispatched`);
  const dec = new TextDecoder();
  for await (const r of stream.records) {
    if (r.type === "ack") {
      acks.push(r.from);
      if (fmt === "text") out(`Ack from '${r.from}'`);
    } else if (r.type === "response") {
      const text = dec.decode(r.payload ?? new Uint8Array(0));
      responses.set(r.from, text);
      if (fmt === "text") {
        out(
          `Response from '${r.from}': ${
            text.endsWith("\n") ? text.slice(0, -1) : text
          }`,
        );
      }
    }
  }
  if (fmt === "json") {
    const sorted = Object.fromEntries(
      [...responses].sort(([a], [b]) => (a < b ? -1 : 1)),
    );
    out(
      JSON.stringify(
        { Acks: acks.length ? acks : null, Responses: sorted },
        null,
        2,
      ),
    );
    return 0;
  }
  if (q.requestAck) out(`Total Acks: ${acks.length}`);
  out(`Total Responses: ${responses.size}`);
  return 0;
}

// ------------------------------------------------- leave, force-leave, tags

const leaveCommand: Command = {
  synopsis: "Gracefully leaves the cluster and shuts down",
  help: help.LEAVE,
  flags: RPC_FLAGS,
  async run(p) {
    noArgs(p, help.LEAVE);
    return await withClient(p, async (c) => {
      try {
        await c.leave();
      } catch (e) {
        err(`Error leaving: ${(e as Error).message}`);
        return 1;
      }
      out("Graceful leave complete");
      return 0;
    });
  },
};

const forceLeaveCommand: Command = {
  synopsis: 'Forces a member of the cluster to enter the "left" state',
  help: help.FORCE_LEAVE,
  flags: [...RPC_FLAGS, { name: "prune", kind: "bool" }],
  async run(p) {
    if (p.positionals.length !== 1) {
      throw new UsageError(
        `A node name must be specified to force leave.\n\n${help.FORCE_LEAVE}`,
      );
    }
    const node = p.positionals[0];
    return await withClient(p, async (c) => {
      try {
        const members = await c.members();
        if (!members.some((m) => m.name === node)) {
          err(
            `Node '${node}' not found in cluster (see "grapevine members" for the names)`,
          );
          return 1;
        }
        await c.forceLeave(node, flagBool(p, "prune"));
      } catch (e) {
        err(`Error force leaving: ${(e as Error).message}`);
        return 1;
      }
      return 0;
    });
  },
};

const tagsCommand: Command = {
  synopsis: "Modify tags of a running agent",
  help: help.TAGS,
  flags: [...RPC_FLAGS, { name: "set", kind: "list" }, {
    name: "delete",
    kind: "list",
  }],
  async run(p) {
    noArgs(p, help.TAGS);
    const set = flagList(p, "set");
    const del = flagList(p, "delete");
    if (set.length === 0 && del.length === 0) {
      throw new UsageError(
        `Give at least one -set key=value or -delete key\n\n${help.TAGS}`,
      );
    }
    const tags = parseTags(set, "-set");
    return await withClient(p, async (c) => {
      try {
        await c.updateTags(tags, del.length > 0 ? del : null);
      } catch (e) {
        err(`Error setting tags: ${(e as Error).message}`);
        return 1;
      }
      out("Successfully updated agent tags");
      return 0;
    });
  },
};

// ------------------------------------------------------------ keys, keygen

const keysCommand: Command = {
  synopsis: "Manipulate the encryption keyring used by the cluster",
  help: help.KEYS,
  flags: [
    ...RPC_FLAGS,
    { name: "install", kind: "string" },
    { name: "use", kind: "string" },
    { name: "remove", kind: "string" },
    { name: "list", kind: "bool" },
  ],
  async run(p) {
    noArgs(p, help.KEYS);
    const actions = (["install", "use", "remove"] as const).filter((a) =>
      flagString(p, a, "") !== ""
    );
    const list = flagBool(p, "list");
    if (actions.length + (list ? 1 : 0) > 1) {
      throw new UsageError(
        "Only one of -install, -use, -remove, or -list allowed",
      );
    }
    if (actions.length === 0 && !list) {
      throw new UsageError(
        `Give one of -install, -use, -remove or -list\n\n${help.KEYS}`,
      );
    }
    const action = list ? "list" : actions[0];
    return await withClient(
      p,
      (c) => runKeys(c, action, flagString(p, action, "")),
    );
  },
};

const KEY_WORDS = {
  install: [
    "Installing key on all members...",
    "Successfully installed key!",
    "Error installing key",
  ],
  use: [
    "Changing primary key on all members...",
    "Successfully changed primary key!",
    "Error changing primary key",
  ],
  remove: [
    "Removing key on all members...",
    "Successfully removed key!",
    "Error removing key",
  ],
  list: [
    "Asking all members for installed keys...",
    "Keys gathered, listing cluster keys...",
    "Failed to gather member keys",
  ],
} as const;

async function runKeys(
  c: RpcClient,
  action: "install" | "use" | "remove" | "list",
  key: string,
): Promise<number> {
  const [start, done, fail] = KEY_WORDS[action];
  out(`==> ${start}`);
  const { response, error } = await c.keys(action, key);
  if (error !== "") {
    if (response.messages.size > 0) {
      err(
        columnize([...response.messages].map(([n, m]) => ["failed:", n, m]))
          .join("\n"),
      );
    }
    err("");
    err(`${fail}: ${error}`);
    return 1;
  }
  out(`==> ${done}`);
  if (action === "list") {
    out("");
    out(
      columnize(
        [...response.keys ?? []].map((
          [k, n],
        ) => [k, `[${n}/${response.numNodes}]`]),
      ).join("\n"),
    );
  }
  return 0;
}

const keygenCommand: Command = {
  synopsis: "Generates a new encryption key",
  help: help.KEYGEN,
  flags: [],
  run() {
    out(
      btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))),
    );
    return Promise.resolve(0);
  },
};

// ------------------------------------------------------- rtt, info, monitor

const rttCommand: Command = {
  synopsis: "Estimates network round trip time between nodes",
  help: help.RTT,
  flags: RPC_FLAGS,
  async run(p) {
    const nodes = [...p.positionals];
    if (nodes.length < 1 || nodes.length > 2) {
      throw new UsageError(
        `One or two node names must be specified\n\n${help.RTT}`,
      );
    }
    return await withClient(p, async (c) => {
      try {
        if (nodes.length === 1) {
          nodes.push((await c.stats()).get("agent")?.get("name") ?? "");
        }
        const coords = [];
        for (const n of nodes) {
          const coord = await c.getCoordinate(n);
          if (coord === null) {
            err(`Could not find a coordinate for node ${JSON.stringify(n)}`);
            return 1;
          }
          coords.push(coord);
        }
        const ms = distanceSeconds(coords[0], coords[1]) * 1000;
        out(`Estimated ${nodes[0]} <-> ${nodes[1]} rtt: ${ms.toFixed(3)} ms`);
        return 0;
      } catch (e) {
        err(`Error getting coordinates: ${(e as Error).message}`);
        return 1;
      }
    });
  },
};

const infoCommand: Command = {
  synopsis: "Provides debugging information for operators",
  help: help.INFO,
  flags: [...RPC_FLAGS, { name: "format", kind: "string" }],
  async run(p) {
    noArgs(p, help.INFO);
    const fmt = format(p);
    return await withClient(p, async (c) => {
      let stats;
      try {
        stats = await c.stats();
      } catch (e) {
        err(`Error querying agent: ${(e as Error).message}`);
        return 1;
      }
      const sections = [...stats.keys()].sort();
      const sortedSection = (s: string): Array<[string, string]> =>
        [...stats.get(s)!].sort(([a], [b]) => (a < b ? -1 : 1));
      if (fmt === "json") {
        out(JSON.stringify(
          Object.fromEntries(
            sections.map((s) => [s, Object.fromEntries(sortedSection(s))]),
          ),
          null,
          2,
        ));
      } else {
        const lines = sections.flatMap((s) => [
          `${s}:`,
          ...sortedSection(s).map(([k, v]) => `\t${k} = ${v}`),
        ]);
        out(lines.join("\n").trim());
      }
      return 0;
    });
  },
};

const monitorCommand: Command = {
  synopsis: "Stream logs from an agent",
  help: help.MONITOR,
  flags: [...RPC_FLAGS, { name: "log-level", kind: "string" }],
  async run(p) {
    noArgs(p, help.MONITOR);
    const level = flagString(p, "log-level", "INFO");
    return await withClient(p, (c) => runMonitor(c, level));
  },
};

async function runMonitor(c: RpcClient, level: string): Promise<number> {
  let events, logs;
  try {
    events = await c.stream("*");
  } catch (e) {
    err(`Error starting stream: ${(e as Error).message}`);
    return 1;
  }
  try {
    logs = await c.monitor(level);
  } catch (e) {
    err(`Error starting monitor: ${(e as Error).message}`);
    return 1;
  }
  let quitting = false;
  const onInt = (): void => {
    quitting = true;
    c.close();
  };
  globalThis.process?.on("SIGINT", onInt);
  const pumpEvents = (async () => {
    for await (const e of events.records) out(eventInfo(e));
  })();
  for await (const line of logs.records) out(line);
  await pumpEvents;
  globalThis.process?.off("SIGINT", onInt);
  if (quitting) return 0;
  out("");
  out(
    "Remote side ended the monitor! This usually means that the\nremote side has exited or crashed.",
  );
  return 1;
}

function goValue(v: unknown): string {
  if (v instanceof Uint8Array) {
    return `[]byte{${[...v].map((b) => `0x${b.toString(16)}`).join(", ")}}`;
  }
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

/**
 * How `serf monitor` prints an event record ("Event Info:" and one
 * "\tKey: value" line per field, Go syntax).
 *
 * @param e the record
 * @returns the lines
 */
export function eventInfo(e: EventRecord): string {
  const fields: Array<[string, unknown]> = e.event === "user"
    ? [["Event", e.event], ["LTime", e.ltime], ["Name", e.name], [
      "Payload",
      e.payload ?? new Uint8Array(0),
    ], ["Coalesce", e.coalesce]]
    : e.event === "query"
    ? [["Event", e.event], ["ID", e.id], ["LTime", e.ltime], ["Name", e.name], [
      "Payload",
      e.payload ?? new Uint8Array(0),
    ]]
    : [["Event", e.event], [
      "Members",
      `[]string{${e.members.map((m) => JSON.stringify(m.name)).join(", ")}}`,
    ]];
  return [
    "Event Info:",
    ...fields.map(([k, v]) =>
      `\t${k}: ${typeof v === "string" && k === "Members" ? v : goValue(v)}`
    ),
  ].join("\n");
}

// ------------------------------------------------------------ reachability

const reachabilityCommand: Command = {
  synopsis: "Test network reachability",
  help: help.REACHABILITY,
  flags: [...RPC_FLAGS, { name: "verbose", kind: "bool" }],
  async run(p) {
    noArgs(p, help.REACHABILITY);
    return await withClient(
      p,
      (c) => runReachability(c, flagBool(p, "verbose")),
    );
  },
};

async function runReachability(
  c: RpcClient,
  verbose: boolean,
): Promise<number> {
  let members;
  try {
    members = await c.members();
  } catch (e) {
    err(`Error getting members: ${(e as Error).message}`);
    return 1;
  }
  const live = new Set(
    members.filter((m) => m.status === "alive").map((m) => m.name),
  );
  out(`Total members: ${members.length}, live members: ${live.size}`);
  let stream;
  try {
    stream = await c.query({
      name: "_serf_ping",
      payload: null,
      requestAck: true,
    });
  } catch (e) {
    err(`Error sending query: ${(e as Error).message}`);
    return 1;
  }
  out("Starting reachability test...");
  const start = Date.now();
  let last = start;
  const acks = new Set<string>();
  let dups = false;
  for await (const r of stream.records) {
    if (r.type !== "ack") continue;
    if (verbose) out(`\tAck from '${r.from}'`);
    if (acks.has(r.from)) {
      dups = true;
      out(`Duplicate response from '${r.from}'`);
    }
    acks.add(r.from);
    last = Date.now();
  }
  if (verbose) {
    out(
      `Query time: ${
        ((Date.now() - start) / 1000).toFixed(2)
      } sec, time to last response: ${((last - start) / 1000).toFixed(2)} sec`,
    );
  }
  return reachabilityVerdict(live, acks, dups);
}

function reachabilityVerdict(
  live: Set<string>,
  acks: Set<string>,
  dups: boolean,
): number {
  if (dups) out(help.DUPLICATE_RESPONSES);
  const missing = [...live].filter((m) => !acks.has(m));
  const extra = [...acks].filter((m) => !live.has(m));
  if (missing.length === 0 && extra.length === 0) {
    out("Successfully contacted all live nodes");
    return dups ? 1 : 0;
  }
  if (extra.length > 0) {
    out("Received more acks than live nodes! Acks from non-live nodes:");
    for (const m of extra) out(`\t${m}`);
    out(help.TOO_MANY_ACKS);
  } else {
    out("Received less acks than live nodes! Missing acks from:");
    for (const m of missing) out(`\t${m}`);
    out(help.TOO_FEW_ACKS);
  }
  out(help.TROUBLESHOOTING);
  return 1;
}

// ---------------------------------------------------------------- simulate

const SIMULATE_FLAGS: readonly FlagSpec[] = [
  { name: "nodes", kind: "string" },
  { name: "profile", kind: "string" },
  { name: "loss", kind: "string" },
  { name: "latency", kind: "string" },
  { name: "jitter", kind: "string" },
  { name: "seed", kind: "string" },
  { name: "window", kind: "string" },
  { name: "max", kind: "string" },
  { name: "svg", kind: "string" },
  { name: "format", kind: "string" },
  ...TUNING_FLAGS,
];

function lossRate(text: string): number {
  const pct = text.endsWith("%");
  const v = Number(pct ? text.slice(0, -1) : text);
  const rate = pct ? v / 100 : v;
  if (!Number.isFinite(rate) || rate < 0 || rate >= 1) {
    throw new UsageError(
      `Invalid -loss ${
        JSON.stringify(text)
      }: use a fraction below 1 (0.05) or a percentage (5%)`,
    );
  }
  return rate;
}

const simulateCommand: Command = {
  synopsis: "Simulate convergence, failure detection and traffic",
  help: help.SIMULATE,
  flags: SIMULATE_FLAGS,
  async run(p) {
    noArgs(p, help.SIMULATE);
    const nodes = flagInt(p, "nodes", 50);
    if (nodes < 2 || nodes > 5_000) {
      throw new UsageError(
        `Invalid -nodes=${nodes}: simulate 2 to 5000 members`,
      );
    }
    const tuning = {
      values: new Map(
        [...p.values].filter(([k]) =>
          TUNING_FLAGS.some((f) => f.name === k) || k === "profile"
        ),
      ),
      positionals: [],
    };
    const { config } = finishConfig({
      ...configFromFlags(tuning, []),
      nodeName: "sim",
    });
    const ml = poolMemberlist(config, "lan");
    // The simulator (src/testing/) is loaded by this command only, so
    // `agent` does not carry it (bench/idle/README.md).
    const {
      formatSimulation,
      runSimulation,
      simulationSvg,
      SPREAD_PERCENTS,
      spreadAt,
    } = await import("./simulate.ts");
    const r = runSimulation({
      nodes,
      profile: config.profile,
      config: Object.fromEntries(
        TUNING_FLAGS.map((f) => [f.field, ml[f.field]]),
      ),
      lossRate: lossRate(flagString(p, "loss", "0")),
      latencyMs: parseDurationMs(flagString(p, "latency", "1ms"), "-latency"),
      jitterMs: parseDurationMs(flagString(p, "jitter", "2ms"), "-jitter"),
      seed: flagInt(p, "seed", 1),
      windowMs: parseDurationMs(flagString(p, "window", "10s"), "-window"),
      maxMs: parseDurationMs(flagString(p, "max", "120s"), "-max"),
    });
    const svg = flagString(p, "svg", "");
    if (svg !== "") nodeFs().writeFileSync(svg, simulationSvg(r));
    if (format(p) === "json") {
      const spread = (s: typeof r.join) =>
        Object.fromEntries(
          SPREAD_PERCENTS.map((q) => [`${q}%`, spreadAt(s, q)]),
        );
      out(JSON.stringify(
        {
          options: r.options,
          joinMs: spread(r.join),
          failureMs: spread(r.failure),
          detectionMs: r.detectionMs,
          falsePositives: r.falsePositives,
          packetsPerMemberPerSecond: r.packetsPerMemberPerSecond,
          bytesPerMemberPerSecond: r.bytesPerMemberPerSecond,
        },
        null,
        2,
      ));
    } else out(formatSimulation(r));
    return 0;
  },
};

// ----------------------------------------------------------------- version

const versionCommand: Command = {
  synopsis: "Prints the grapevine version",
  help: help.VERSION,
  flags: [],
  run() {
    out(help.VERSION_TEXT);
    return Promise.resolve(0);
  },
};

/** Every command by name. */
export const COMMANDS: ReadonlyMap<string, Command> = new Map([
  ["agent", agentCommand],
  ["event", eventCommand],
  ["force-leave", forceLeaveCommand],
  ["info", infoCommand],
  ["join", joinCommand],
  ["keygen", keygenCommand],
  ["keys", keysCommand],
  ["leave", leaveCommand],
  ["members", membersCommand],
  ["monitor", monitorCommand],
  ["query", queryCommand],
  ["reachability", reachabilityCommand],
  ["rtt", rttCommand],
  ["simulate", simulateCommand],
  ["tags", tagsCommand],
  ["version", versionCommand],
]);

/** The top-level usage text with every command. */
export function usage(): string {
  const width = Math.max(...[...COMMANDS.keys()].map((k) => k.length));
  return [
    "Usage: grapevine [--version] [--help] <command> [<args>]",
    "",
    "Available commands are:",
    ...[...COMMANDS].map(([n, c]) => `    ${n.padEnd(width + 4)}${c.synopsis}`),
    "",
    'Run "grapevine <command> -h" for a command\'s options.',
  ].join("\n");
}

/**
 * Run the command line (without the program name).
 *
 * @param args e.g. ["members", "-format=json"]
 * @returns the exit code: 0 ok, 1 failure or bad usage, 127 unknown command
 * @example
 * ```ts ignore
 * process.exit(await runCli(["keygen"]));
 * ```
 */
export async function runCli(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    err(usage());
    return 127;
  }
  if (["-h", "-help", "--help"].includes(name)) {
    err(usage());
    return 0;
  }
  if (["-v", "-version", "--version"].includes(name)) {
    out(help.VERSION_TEXT);
    return 0;
  }
  const cmd = COMMANDS.get(name);
  if (cmd === undefined) {
    err(`grapevine: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 127;
  }
  if (wantsHelp(rest)) {
    out(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(parseFlags(rest, cmd.flags));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(
      e.message.includes("Usage:")
        ? e.message
        : `${e.message}\n\nRun "grapevine ${name} -h" for its options.`,
    );
    return 1;
  }
}
