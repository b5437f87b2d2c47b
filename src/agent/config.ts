/**
 * The agent's configuration, as `serf agent` reads it: defaults, then JSON
 * config files (`-config-file`, `-config-dir`, in order), then flags; lists
 * (joins, event handlers) append and tags merge, like serf's `MergeConfig`.
 * On top of Serf's options: per-pool gossip tuning (`-probe-interval`, …,
 * and `-wan-…` for the WAN pool), a WAN pool (`-datacenter`, `-wan-bind`),
 * `-log-json`, `-metrics-addr` and `-handler-timeout`.
 *
 * {@linkcode finishConfig} checks the whole combination and refuses what
 * cannot work, naming the flags ("-probe-timeout=1s must be shorter than
 * -probe-interval=1s"), and warns about what works badly.
 *
 * @module
 */

import { nodeFs, nodeOs, nodePath } from "./builtin.ts";
import { UsageError } from "../cli/usage.ts";
import { type CliLogLevel, LOG_LEVELS } from "../cli/logging.ts";
import { type MemberlistConfig, profileConfig } from "../config.ts";
import type { ProfileName } from "../config.ts";
import { USER_EVENT_SIZE_HARD_LIMIT } from "../serf/config.ts";
import {
  type FlagSpec,
  type ParsedFlags,
  parseDurationMs,
  parseInteger,
} from "./flags.ts";
import { parseEventScript, validEventFilter } from "./handlers.ts";

/** Gossip tuning of one pool; an absent field keeps the profile's value. */
export interface PoolTuning {
  /** Time between probe rounds. */
  probeIntervalMs?: number;
  /** How long to wait for a direct ack. */
  probeTimeoutMs?: number;
  /** Members asked to probe for us when a direct probe fails. */
  indirectChecks?: number;
  /** Time between gossip rounds. */
  gossipIntervalMs?: number;
  /** Members gossiped to per round. */
  gossipNodes?: number;
  /** Suspicion timeout multiplier. */
  suspicionMult?: number;
  /** Full-state sync period. */
  pushPullIntervalMs?: number;
  /** Broadcast retransmit multiplier. */
  retransmitMult?: number;
  /** Byte budget of one UDP packet. */
  udpBufferSize?: number;
}

/** Everything `grapevine agent` runs with. */
export interface AgentConfig {
  /** Node name (default: the host name). */
  nodeName: string;
  /** Gossip address, "IP[:PORT]" (default 0.0.0.0:7946). */
  bind: string;
  /** Address announced to others ("" = the bind address). */
  advertise: string;
  /** RPC listener (default 127.0.0.1:7373). */
  rpcAddr: string;
  /** Token RPC clients must send ("" = none). */
  rpcAuth: string;
  /** Base64 gossip key ("" = plaintext). */
  encryptKey: string;
  /** JSON keyring file, kept up to date ("" = none). */
  keyringFile: string;
  /** Tags of this member. */
  tags: Map<string, string>;
  /** JSON file that persists tags ("" = none). */
  tagsFile: string;
  /** memberlist timing profile. */
  profile: ProfileName;
  /** Serf protocol version (2..5). */
  protocol: number;
  /** Snapshot file for rejoin after restart ("" = none). */
  snapshotPath: string;
  /** Ignore a previous leave when rejoining from the snapshot. */
  rejoinAfterLeave: boolean;
  /** Lowest level logged to stderr. */
  logLevel: CliLogLevel;
  /** Log one JSON object per line. */
  logJson: boolean;
  /** Joined at start; failure exits. */
  startJoin: string[];
  /** Replay old user events on the start joins. */
  replayOnJoin: boolean;
  /** Joined at start, retried until it works. */
  retryJoin: string[];
  /** Time between retry joins (≥ 1 s). */
  retryIntervalMs: number;
  /** Most retry-join attempts (0 = no limit). */
  retryMaxAttempts: number;
  /** Event handler specs ("[filter=]script"). */
  eventHandlers: string[];
  /** A handler running longer is killed. */
  handlerTimeoutMs: number;
  /** Leave gracefully on SIGTERM (default: shut down). */
  leaveOnTerminate: boolean;
  /** Shut down on SIGINT without leaving. */
  skipLeaveOnInterrupt: boolean;
  /** Turn LZW compression off. */
  disableCompression: boolean;
  /** How long a leave waits for its broadcast (≥ 1 s). */
  broadcastTimeoutMs: number;
  /** Reconnect interval for failed members (0 = Serf's 30 s). */
  reconnectIntervalMs: number;
  /** Failed members are reaped after this (0 = Serf's 24 h). */
  reconnectTimeoutMs: number;
  /** Left members are reaped after this (0 = Serf's 24 h). */
  tombstoneTimeoutMs: number;
  /** Do not resolve name conflicts by vote. */
  disableNameResolution: boolean;
  /** Turn Vivaldi coordinates off. */
  disableCoordinates: boolean;
  /** Largest query sent. */
  querySizeLimit: number;
  /** Largest query response. */
  queryResponseSizeLimit: number;
  /** Largest user event. */
  userEventSizeLimit: number;
  /** OpenMetrics HTTP listener ("" = none). */
  metricsAddr: string;
  /** LAN pool tuning. */
  lan: PoolTuning;
  /** Datacenter of the WAN pool ("" = no WAN pool). */
  datacenter: string;
  /** WAN gossip address. */
  wanBind: string;
  /** WAN announced address ("" = the WAN bind address). */
  wanAdvertise: string;
  /** Base64 WAN gossip key ("" = plaintext). */
  wanEncryptKey: string;
  /** Joined through the WAN pool at start. */
  wanJoin: string[];
  /** WAN timing profile (default wan). */
  wanProfile: ProfileName;
  /** WAN pool tuning. */
  wan: PoolTuning;
}

/** A partial config read from one source (flags or a file). */
export type ConfigDraft = Partial<AgentConfig>;

type Kind =
  | "string"
  | "bool"
  | "int"
  | "duration"
  | "list"
  | "profile"
  | "level";

interface OptionSpec {
  /** JSON key. */
  readonly key: string;
  /** Flag name, or null for file-only keys. */
  readonly flag: string | null;
  readonly kind: Kind;
  /** AgentConfig field, or a PoolTuning field when `pool` is set. */
  readonly field: string;
  readonly pool?: "lan" | "wan";
}

const TUNING: ReadonlyArray<[string, Kind, keyof PoolTuning]> = [
  ["probe_interval", "duration", "probeIntervalMs"],
  ["probe_timeout", "duration", "probeTimeoutMs"],
  ["indirect_checks", "int", "indirectChecks"],
  ["gossip_interval", "duration", "gossipIntervalMs"],
  ["gossip_nodes", "int", "gossipNodes"],
  ["suspicion_mult", "int", "suspicionMult"],
  ["push_pull_interval", "duration", "pushPullIntervalMs"],
  ["retransmit_mult", "int", "retransmitMult"],
  ["udp_buffer_size", "int", "udpBufferSize"],
];

const OPTIONS: readonly OptionSpec[] = [
  // Serf's own keys and flags (serf agent config.go, command.go).
  { key: "node_name", flag: "node", kind: "string", field: "nodeName" },
  { key: "bind", flag: "bind", kind: "string", field: "bind" },
  { key: "advertise", flag: "advertise", kind: "string", field: "advertise" },
  { key: "rpc_addr", flag: "rpc-addr", kind: "string", field: "rpcAddr" },
  { key: "rpc_auth", flag: "rpc-auth", kind: "string", field: "rpcAuth" },
  { key: "encrypt_key", flag: "encrypt", kind: "string", field: "encryptKey" },
  {
    key: "keyring_file",
    flag: "keyring-file",
    kind: "string",
    field: "keyringFile",
  },
  { key: "tags_file", flag: "tags-file", kind: "string", field: "tagsFile" },
  { key: "profile", flag: "profile", kind: "profile", field: "profile" },
  { key: "protocol", flag: "protocol", kind: "int", field: "protocol" },
  {
    key: "snapshot_path",
    flag: "snapshot",
    kind: "string",
    field: "snapshotPath",
  },
  {
    key: "rejoin_after_leave",
    flag: "rejoin",
    kind: "bool",
    field: "rejoinAfterLeave",
  },
  { key: "log_level", flag: "log-level", kind: "level", field: "logLevel" },
  { key: "start_join", flag: "join", kind: "list", field: "startJoin" },
  {
    key: "replay_on_join",
    flag: "replay",
    kind: "bool",
    field: "replayOnJoin",
  },
  { key: "retry_join", flag: "retry-join", kind: "list", field: "retryJoin" },
  {
    key: "retry_interval",
    flag: "retry-interval",
    kind: "duration",
    field: "retryIntervalMs",
  },
  {
    key: "retry_max_attempts",
    flag: "retry-max",
    kind: "int",
    field: "retryMaxAttempts",
  },
  {
    key: "event_handlers",
    flag: "event-handler",
    kind: "list",
    field: "eventHandlers",
  },
  {
    key: "leave_on_terminate",
    flag: null,
    kind: "bool",
    field: "leaveOnTerminate",
  },
  {
    key: "skip_leave_on_interrupt",
    flag: null,
    kind: "bool",
    field: "skipLeaveOnInterrupt",
  },
  {
    key: "disable_compression",
    flag: "disable-compression",
    kind: "bool",
    field: "disableCompression",
  },
  {
    key: "broadcast_timeout",
    flag: "broadcast-timeout",
    kind: "duration",
    field: "broadcastTimeoutMs",
  },
  {
    key: "reconnect_interval",
    flag: null,
    kind: "duration",
    field: "reconnectIntervalMs",
  },
  {
    key: "reconnect_timeout",
    flag: null,
    kind: "duration",
    field: "reconnectTimeoutMs",
  },
  {
    key: "tombstone_timeout",
    flag: null,
    kind: "duration",
    field: "tombstoneTimeoutMs",
  },
  {
    key: "disable_name_resolution",
    flag: null,
    kind: "bool",
    field: "disableNameResolution",
  },
  {
    key: "disable_coordinates",
    flag: null,
    kind: "bool",
    field: "disableCoordinates",
  },
  {
    key: "query_size_limit",
    flag: null,
    kind: "int",
    field: "querySizeLimit",
  },
  {
    key: "query_response_size_limit",
    flag: null,
    kind: "int",
    field: "queryResponseSizeLimit",
  },
  // grapevine's additions.
  {
    key: "user_event_size_limit",
    flag: null,
    kind: "int",
    field: "userEventSizeLimit",
  },
  {
    key: "handler_timeout",
    flag: "handler-timeout",
    kind: "duration",
    field: "handlerTimeoutMs",
  },
  { key: "log_json", flag: "log-json", kind: "bool", field: "logJson" },
  {
    key: "metrics_addr",
    flag: "metrics-addr",
    kind: "string",
    field: "metricsAddr",
  },
  {
    key: "datacenter",
    flag: "datacenter",
    kind: "string",
    field: "datacenter",
  },
  { key: "wan_bind", flag: "wan-bind", kind: "string", field: "wanBind" },
  {
    key: "wan_advertise",
    flag: "wan-advertise",
    kind: "string",
    field: "wanAdvertise",
  },
  {
    key: "wan_encrypt_key",
    flag: "wan-encrypt",
    kind: "string",
    field: "wanEncryptKey",
  },
  { key: "wan_join", flag: "wan-join", kind: "list", field: "wanJoin" },
  {
    key: "wan_profile",
    flag: "wan-profile",
    kind: "profile",
    field: "wanProfile",
  },
  ...TUNING.flatMap(([key, kind, field]): OptionSpec[] => [
    { key, flag: key.replaceAll("_", "-"), kind, field, pool: "lan" },
    {
      key: `wan_${key}`,
      flag: `wan-${key.replaceAll("_", "-")}`,
      kind,
      field,
      pool: "wan",
    },
  ]),
];

// Serf agent keys grapevine knows but does not implement: warned, ignored.
const UNSUPPORTED_KEYS: ReadonlyMap<string, string> = new Map([
  ["discover", "mDNS discovery"],
  ["interface", "binding to an interface"],
  ["mdns", "mDNS discovery"],
  ["enable_syslog", "syslog"],
  ["syslog_facility", "syslog"],
  ["statsite_addr", "statsite metrics (use metrics_addr)"],
  ["statsd_addr", "statsd metrics (use metrics_addr)"],
  ["profile_path", "profile files (use the tuning keys)"],
]);

/** The LAN gossip tuning flags and the {@linkcode PoolTuning} field of each. */
export const TUNING_FLAGS: ReadonlyArray<
  FlagSpec & { field: keyof PoolTuning }
> = TUNING.map(([key, , field]) => ({
  name: key.replaceAll("_", "-"),
  kind: "string" as const,
  field,
}));

/** The flags of `grapevine agent`. */
export const AGENT_FLAGS: readonly FlagSpec[] = [
  ...OPTIONS.filter((o) => o.flag !== null).map((o): FlagSpec => ({
    name: o.flag as string,
    kind: o.kind === "list" ? "list" : o.kind === "bool" ? "bool" : "string",
  })),
  { name: "tag", kind: "list" },
  { name: "role", kind: "string" },
  { name: "config-file", kind: "list" },
  { name: "config-dir", kind: "list" },
];

/** The defaults of every option (serf agent `DefaultConfig` plus ours). */
export function defaultConfig(): AgentConfig {
  return {
    nodeName: "",
    bind: "0.0.0.0:7946",
    advertise: "",
    rpcAddr: "127.0.0.1:7373",
    rpcAuth: "",
    encryptKey: "",
    keyringFile: "",
    tags: new Map(),
    tagsFile: "",
    profile: "lan",
    protocol: 5,
    snapshotPath: "",
    rejoinAfterLeave: false,
    logLevel: "info",
    logJson: false,
    startJoin: [],
    replayOnJoin: false,
    retryJoin: [],
    retryIntervalMs: 30_000,
    retryMaxAttempts: 0,
    eventHandlers: [],
    handlerTimeoutMs: 60_000,
    leaveOnTerminate: false,
    skipLeaveOnInterrupt: false,
    disableCompression: false,
    broadcastTimeoutMs: 5_000,
    reconnectIntervalMs: 0,
    reconnectTimeoutMs: 0,
    tombstoneTimeoutMs: 0,
    disableNameResolution: false,
    disableCoordinates: false,
    querySizeLimit: 1024,
    queryResponseSizeLimit: 1024,
    userEventSizeLimit: 512,
    metricsAddr: "",
    lan: {},
    datacenter: "",
    wanBind: "",
    wanAdvertise: "",
    wanEncryptKey: "",
    wanJoin: [],
    wanProfile: "wan",
    wan: {},
  };
}

function convert(o: OptionSpec, raw: unknown, what: string): unknown {
  const fromFile = typeof raw !== "string" || !what.startsWith("-");
  const need = (type: string): never => {
    throw new UsageError(`Invalid ${what}: must be ${type}`);
  };
  switch (o.kind) {
    case "string":
      return typeof raw === "string" ? raw : need("a string");
    case "bool":
      if (typeof raw === "boolean") return raw;
      return raw === "true"
        ? true
        : raw === "false"
        ? false
        : need("a boolean");
    case "int":
      if (typeof raw === "number" && Number.isInteger(raw)) return raw;
      return typeof raw === "string" && !fromFile
        ? parseInteger(raw, what)
        : need("a whole number");
    case "duration":
      return typeof raw === "string"
        ? parseDurationMs(raw, what)
        : need('a duration string like "1s"');
    case "list":
      if (typeof raw === "string") return [raw];
      return Array.isArray(raw) && raw.every((v) => typeof v === "string")
        ? [...raw]
        : need("a list of strings");
    case "profile":
      if (raw === "lan" || raw === "wan" || raw === "local") return raw;
      throw new UsageError(
        `Invalid ${what} ${JSON.stringify(raw)}: use lan, wan or local`,
      );
    case "level":
      return parseLogLevel(raw, what);
  }
}

/**
 * Parse a log level as serf accepts it (any case; TRACE, DEBUG, INFO, WARN,
 * ERR).
 *
 * @param raw the value
 * @param what the flag or key, for the message
 * @returns the level
 * @throws {UsageError} listing the valid levels
 */
export function parseLogLevel(raw: unknown, what: string): CliLogLevel {
  const v = typeof raw === "string" ? raw.toLowerCase() : "";
  const alias = v === "warning" ? "warn" : v === "error" ? "err" : v;
  if ((LOG_LEVELS as readonly string[]).includes(alias)) {
    return alias as CliLogLevel;
  }
  throw new UsageError(
    `Invalid ${what} ${JSON.stringify(raw)}: use one of ${
      LOG_LEVELS.map((l) => l.toUpperCase()).join(", ")
    }`,
  );
}

function setOption(d: ConfigDraft, o: OptionSpec, value: unknown): void {
  if (o.pool !== undefined) {
    const pool = { ...d[o.pool] } as Record<string, unknown>;
    pool[o.field] = value;
    d[o.pool] = pool as PoolTuning;
    return;
  }
  const r = d as Record<string, unknown>;
  if (o.kind === "list") {
    r[o.field] = [
      ...((r[o.field] as string[] | undefined) ?? []),
      ...value as string[],
    ];
  } else r[o.field] = value;
}

/**
 * Parse `key=value` tags (serf `UnmarshalTags`).
 *
 * @param pairs the `-tag` values
 * @param what the flag, for the message
 * @returns the tags
 * @throws {UsageError} "Invalid tag: 'x'" with what to write instead
 */
export function parseTags(
  pairs: readonly string[],
  what = "-tag",
): Map<string, string> {
  const tags = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      throw new UsageError(
        `Invalid tag: '${pair}' (${what} wants key=value, e.g. ${what} role=web)`,
      );
    }
    tags.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return tags;
}

/**
 * The config given by `grapevine agent` flags (without the files they name).
 *
 * @param p the parsed flags
 * @param warnings collects deprecation warnings
 * @returns the draft
 */
export function configFromFlags(
  p: ParsedFlags,
  warnings: string[],
): ConfigDraft {
  const d: ConfigDraft = {};
  for (const o of OPTIONS) {
    const values = o.flag === null ? undefined : p.values.get(o.flag);
    if (values === undefined || values.length === 0) continue;
    if (o.kind === "list") setOption(d, o, values);
    else setOption(d, o, convert(o, values.at(-1), `-${o.flag}`));
  }
  const tags = parseTags(p.values.get("tag") ?? []);
  const role = p.values.get("role")?.at(-1);
  if (role !== undefined) {
    warnings.push("Deprecation warning: 'Role' has been replaced with 'Tags'");
    tags.set("role", role);
  }
  if (tags.size > 0) d.tags = tags;
  return d;
}

/**
 * The config in one JSON object (serf `DecodeConfig`): unknown keys are
 * refused, Serf's unimplemented keys are warned about.
 *
 * @param json the parsed file
 * @param source the file name, for messages
 * @param warnings collects warnings
 * @returns the draft
 * @throws {UsageError} naming the file and key
 */
export function configFromJson(
  json: unknown,
  source: string,
  warnings: string[],
): ConfigDraft {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new UsageError(`Error decoding '${source}': want a JSON object`);
  }
  const byKey = new Map(OPTIONS.map((o) => [o.key, o]));
  const d: ConfigDraft = {};
  for (const [key, raw] of Object.entries(json)) {
    const o = byKey.get(key);
    if (o !== undefined) {
      setOption(d, o, convert(o, raw, `'${key}' in ${source}`));
    } else if (key === "tags" || key === "role") {
      d.tags = new Map([...(d.tags ?? []), ...jsonTags(key, raw, source)]);
    } else if (UNSUPPORTED_KEYS.has(key)) {
      warnings.push(
        `Warning: '${key}' in ${source} is ignored: grapevine has no ${
          UNSUPPORTED_KEYS.get(key)
        }`,
      );
    } else {
      throw new UsageError(
        `Error decoding '${source}': unknown key '${key}' (see "grapevine agent -h" for the keys)`,
      );
    }
  }
  return d;
}

function jsonTags(
  key: string,
  raw: unknown,
  source: string,
): Map<string, string> {
  if (key === "role") {
    if (typeof raw !== "string") {
      throw new UsageError(`Invalid 'role' in ${source}: must be a string`);
    }
    return new Map([["role", raw]]);
  }
  if (
    raw === null || typeof raw !== "object" || Array.isArray(raw) ||
    Object.values(raw).some((v) => typeof v !== "string")
  ) {
    throw new UsageError(
      `Invalid 'tags' in ${source}: must be an object of strings`,
    );
  }
  return new Map(Object.entries(raw as Record<string, string>));
}

/**
 * Read config files and directories (serf `ReadConfigPaths`): a directory
 * contributes its `*.json` files in name order.
 *
 * @param paths files and directories, in order
 * @param warnings collects warnings
 * @returns the merged draft
 * @throws {UsageError} "Error reading '…'" / "Error decoding '…'"
 */
export function readConfigPaths(
  paths: readonly string[],
  warnings: string[],
): ConfigDraft {
  let d: ConfigDraft = {};
  for (const path of paths) {
    let files: string[];
    try {
      files = nodeFs().statSync(path).isDirectory()
        ? nodeFs().readdirSync(path).filter((f) => f.endsWith(".json")).sort()
          .map((f) => nodePath().join(path, f))
          .filter((f) => !nodeFs().statSync(f).isDirectory())
        : [path];
    } catch (e) {
      throw new UsageError(`Error reading '${path}': ${(e as Error).message}`);
    }
    for (const file of files) {
      let json: unknown;
      try {
        json = JSON.parse(nodeFs().readFileSync(file, "utf8"));
      } catch (e) {
        throw new UsageError(
          `Error decoding '${file}': ${(e as Error).message}`,
        );
      }
      d = mergeConfig(d, configFromJson(json, file, warnings));
    }
  }
  return d;
}

/**
 * Merge two drafts (serf `MergeConfig`): `b` wins for single values, lists
 * append, tags and pool tuning merge.
 *
 * @param a the earlier source
 * @param b the later source
 * @returns the merged draft
 */
export function mergeConfig(a: ConfigDraft, b: ConfigDraft): ConfigDraft {
  const out: ConfigDraft = { ...a, ...b };
  for (
    const f of ["startJoin", "retryJoin", "eventHandlers", "wanJoin"] as const
  ) {
    if (a[f] !== undefined || b[f] !== undefined) {
      out[f] = [...(a[f] ?? []), ...(b[f] ?? [])];
    }
  }
  if (a.tags !== undefined || b.tags !== undefined) {
    out.tags = new Map([...(a.tags ?? []), ...(b.tags ?? [])]);
  }
  out.lan = { ...a.lan, ...b.lan };
  out.wan = { ...a.wan, ...b.wan };
  return out;
}

/** A finished config and the warnings to print before starting. */
export interface FinishedConfig {
  /** The validated config. */
  config: AgentConfig;
  /** Lines to print as "Warning: …". */
  warnings: string[];
}

/**
 * Apply defaults and check the whole combination.
 *
 * @param draft the merged files and flags
 * @returns the config and warnings
 * @throws {UsageError} naming the flags that cannot work together
 */
export function finishConfig(draft: ConfigDraft): FinishedConfig {
  const c: AgentConfig = { ...defaultConfig(), ...draft };
  c.lan = { ...draft.lan };
  c.wan = { ...draft.wan };
  c.tags = new Map(draft.tags ?? []);
  const warnings: string[] = [];
  if (c.nodeName === "") c.nodeName = nodeOs().hostname();
  checkGeneral(c, warnings);
  checkPool(c, "lan", warnings);
  if (c.datacenter !== "" || c.wanBind !== "") {
    checkWan(c);
    checkPool(c, "wan", warnings);
  }
  return { config: c, warnings };
}

function refuse(message: string): never {
  throw new UsageError(message);
}

function checkGeneral(c: AgentConfig, warnings: string[]): void {
  if (c.protocol < 2 || c.protocol > 5) {
    refuse(`Invalid -protocol=${c.protocol}: Serf speaks protocols 2 to 5`);
  }
  if (c.encryptKey !== "" && c.keyringFile !== "") {
    refuse(
      "Invalid -encrypt with -keyring-file: an encryption key is not allowed while using a keyring (put the key in the keyring file instead)",
    );
  }
  if (c.tagsFile !== "" && c.tags.size > 0) {
    refuse(
      "Invalid -tag with -tags-file: tags config is not allowed while using a tags file (set the tags in the file or with 'grapevine tags')",
    );
  }
  for (const spec of c.eventHandlers) {
    for (const s of parseEventScript(spec)) {
      if (!validEventFilter(s)) {
        refuse(
          `Invalid event script: ${
            JSON.stringify(spec)
          } (filters: member-join, member-leave, member-failed, member-update, member-reap, user[:NAME], query[:NAME], *)`,
        );
      }
    }
  }
  if (c.retryIntervalMs < 1000) {
    c.retryIntervalMs = 1000;
    warnings.push("Warning: 'RetryInterval' is too low. Setting to 1s");
  }
  if (c.broadcastTimeoutMs < 1000) {
    c.broadcastTimeoutMs = 1000;
    warnings.push("Warning: 'BroadcastTimeout' is too low. Setting to 1s");
  }
  if (c.rejoinAfterLeave && c.snapshotPath === "") {
    warnings.push("Warning: 'RejoinAfterLeave' enabled without snapshot file");
  }
  checkLimits(c);
}

function checkLimits(c: AgentConfig): void {
  for (
    const [key, v] of [
      ["query_size_limit", c.querySizeLimit],
      ["query_response_size_limit", c.queryResponseSizeLimit],
      ["user_event_size_limit", c.userEventSizeLimit],
      ["retry_max_attempts", c.retryMaxAttempts + 1],
    ] as const
  ) {
    if (!Number.isInteger(v) || v < 1) {
      refuse(`Invalid ${key}=${v}: must be a positive whole number`);
    }
  }
  if (c.userEventSizeLimit > USER_EVENT_SIZE_HARD_LIMIT) {
    refuse(
      `Invalid user_event_size_limit=${c.userEventSizeLimit}: user event size limit exceeds limit of ${USER_EVENT_SIZE_HARD_LIMIT} bytes`,
    );
  }
  if (c.handlerTimeoutMs < 1) {
    refuse(`Invalid -handler-timeout: must be at least 1ms`);
  }
}

function checkWan(c: AgentConfig): void {
  if (c.datacenter === "" || c.wanBind === "") {
    refuse(
      "Invalid WAN pool: -datacenter and -wan-bind go together (give both to join a WAN pool, or neither)",
    );
  }
  if (!/^[A-Za-z0-9_-]+$/.test(c.datacenter)) {
    refuse(
      `Invalid -datacenter=${c.datacenter}: use letters, digits, '-' and '_' (it becomes the suffix of the WAN name <node>.<datacenter>)`,
    );
  }
  if (c.wanBind === c.bind) {
    refuse(
      `Invalid -wan-bind=${c.wanBind}: the WAN pool needs its own address or port, not the LAN -bind`,
    );
  }
}

/** The flag name of a pool's tuning field, e.g. "-wan-probe-interval". */
function tuningFlag(pool: "lan" | "wan", field: keyof PoolTuning): string {
  const key = TUNING.find((t) => t[2] === field)?.[0] ?? field;
  return `-${pool === "wan" ? "wan-" : ""}${key.replaceAll("_", "-")}`;
}

/**
 * The memberlist config a pool runs with: its profile plus its tuning.
 *
 * @param c the agent config
 * @param pool which pool
 * @returns memberlist's config (not yet validated)
 */
export function poolMemberlist(
  c: AgentConfig,
  pool: "lan" | "wan",
): MemberlistConfig {
  const profile = pool === "lan" ? c.profile : c.wanProfile;
  const base = profileConfig(profile);
  const t = c[pool];
  const out: MemberlistConfig = {
    ...base,
    enableCompression: !c.disableCompression,
  };
  for (const [, , field] of TUNING) {
    const v = t[field];
    if (v !== undefined) out[field] = v;
  }
  return out;
}

function checkPool(
  c: AgentConfig,
  pool: "lan" | "wan",
  warnings: string[],
): void {
  const t = c[pool];
  const name = (f: keyof PoolTuning): string => tuningFlag(pool, f);
  const positive: Array<keyof PoolTuning> = [
    "probeIntervalMs",
    "probeTimeoutMs",
    "suspicionMult",
    "retransmitMult",
  ];
  for (const f of positive) {
    const v = t[f];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
      refuse(
        `Invalid ${name(f)}=${v}: must be at least 1${
          f.endsWith("Ms") ? "ms (whole milliseconds)" : ""
        }`,
      );
    }
  }
  for (
    const f of [
      "indirectChecks",
      "gossipNodes",
      "gossipIntervalMs",
      "pushPullIntervalMs",
    ] as const
  ) {
    const v = t[f];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
      refuse(
        `Invalid ${name(f)}=${v}: must not be negative${
          f.endsWith("Ms") ? " (whole milliseconds)" : ""
        }`,
      );
    }
  }
  const m = poolMemberlist(c, pool);
  checkProbe(m, name, warnings);
  checkGossip(m, name, warnings);
  checkPacket(c, m, name, warnings);
}

type FlagName = (f: keyof PoolTuning) => string;

function ms(v: number): string {
  return v % 1000 === 0 ? `${v / 1000}s` : `${v}ms`;
}

function checkProbe(
  m: MemberlistConfig,
  name: FlagName,
  warnings: string[],
): void {
  const pi = `${name("probeIntervalMs")}=${ms(m.probeIntervalMs)}`;
  const pt = `${name("probeTimeoutMs")}=${ms(m.probeTimeoutMs)}`;
  if (m.probeTimeoutMs >= m.probeIntervalMs) {
    refuse(
      `Invalid ${pt}: the probe timeout must be shorter than ${pi} (memberlist waits out the rest of the interval for indirect probes); lower the timeout or raise the interval`,
    );
  }
  if (m.indirectChecks > 0 && m.probeTimeoutMs * 5 > m.probeIntervalMs * 4) {
    warnings.push(
      `Warning: ${pt} leaves under 20% of ${pi} for indirect probes: expect false failure reports`,
    );
  }
  if (m.indirectChecks === 0) {
    warnings.push(
      `Warning: ${
        name("indirectChecks")
      }=0 turns indirect probes off: one lost packet can make a healthy member suspect`,
    );
  }
}

function checkGossip(
  m: MemberlistConfig,
  name: FlagName,
  warnings: string[],
): void {
  if (m.gossipIntervalMs === 0 || m.gossipNodes === 0) {
    warnings.push(
      `Warning: ${name("gossipIntervalMs")}=${ms(m.gossipIntervalMs)} with ${
        name("gossipNodes")
      }=${m.gossipNodes} turns gossip off: news spreads only by push-pull`,
    );
  }
  if (m.pushPullIntervalMs === 0) {
    warnings.push(
      `Warning: ${
        name("pushPullIntervalMs")
      }=0 turns periodic push-pull off: a partitioned cluster will not heal on its own`,
    );
  } else if (m.pushPullIntervalMs < m.probeIntervalMs) {
    warnings.push(
      `Warning: ${name("pushPullIntervalMs")}=${
        ms(m.pushPullIntervalMs)
      } is shorter than ${name("probeIntervalMs")}=${
        ms(m.probeIntervalMs)
      }: full-state syncs will dominate the traffic`,
    );
  }
}

// Compound header, user-message type and the AES-GCM overhead (29 bytes).
const PACKET_OVERHEAD_BYTES = 64;

function checkPacket(
  c: AgentConfig,
  m: MemberlistConfig,
  name: FlagName,
  warnings: string[],
): void {
  const flag = `${name("udpBufferSize")}=${m.udpBufferSize}`;
  if (m.udpBufferSize < 128 || m.udpBufferSize > 65_507) {
    refuse(`Invalid ${flag}: must be between 128 and 65507 bytes`);
  }
  const [limitKey, limit] = [
    ["query_size_limit", c.querySizeLimit],
    ["query_response_size_limit", c.queryResponseSizeLimit],
    ["user_event_size_limit", c.userEventSizeLimit],
  ].sort((a, b) => (b[1] as number) - (a[1] as number))[0] as [string, number];
  if (m.udpBufferSize < limit + PACKET_OVERHEAD_BYTES) {
    refuse(
      `Invalid ${flag}: too small for ${limitKey}=${limit} (a message must fit in one packet with about ${PACKET_OVERHEAD_BYTES} bytes of framing and encryption); raise ${
        name("udpBufferSize")
      } to at least ${limit + PACKET_OVERHEAD_BYTES} or lower ${limitKey}`,
    );
  }
  if (m.udpBufferSize > 1472) {
    warnings.push(
      `Warning: ${flag} is above 1472 bytes: packets will be fragmented on a 1500-byte MTU`,
    );
  }
}
