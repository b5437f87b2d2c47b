/**
 * The agent and its command line: a Serf-compatible agent (RPC server,
 * event handler scripts, WAN pool, metrics) and an RPC client that drives
 * a real Serf agent or ours.
 *
 * @example
 * ```ts ignore
 * import { Agent, finishConfig, RpcServer } from "@grapevine/grapevine/agent";
 *
 * const { config } = finishConfig({ nodeName: "a", bind: "127.0.0.1:7946" });
 * const agent = await Agent.start(config);
 * const rpc = await RpcServer.start(agent, { addr: "127.0.0.1:7373" });
 * ```
 *
 * @module
 */

export {
  Agent,
  type AgentCounters,
  type AgentEventListener,
  type AgentStartOptions,
  INTERNAL_QUERY_PREFIX,
  type Pool,
  poolStartOptions,
} from "./agent.ts";
export {
  type KeyCallResult,
  RPC_CLIENT_TIMEOUT_MS,
  RpcClient,
  type RpcClientOptions,
  RpcError,
  type RpcQueryParams,
  type RpcStream,
} from "./client.ts";
export { type Command, COMMANDS, runCli, usage } from "./commands.ts";
export {
  AGENT_FLAGS,
  type AgentConfig,
  type ConfigDraft,
  configFromFlags,
  configFromJson,
  defaultConfig,
  finishConfig,
  type FinishedConfig,
  mergeConfig,
  parseTags,
  poolMemberlist,
  type PoolTuning,
  readConfigPaths,
} from "./config.ts";
export {
  type FlagKind,
  type FlagSpec,
  formatDurationMs,
  type ParsedFlags,
  parseDurationMs,
  parseFlags,
} from "./flags.ts";
export {
  type AgentEvent,
  type EventFilter,
  type EventScript,
  filterMatches,
  HANDLER_OUTPUT_LIMIT_BYTES,
  handlerEnv,
  handlerStdin,
  parseEventFilter,
  parseEventScript,
  runScript,
  ScriptRunner,
  validEventFilter,
} from "./handlers.ts";
export { configureAgentLogging, LOG_BACKLOG_LINES, LogHub } from "./logs.ts";
export {
  type MetricsServer,
  OPENMETRICS_CONTENT_TYPE,
  renderMetrics,
  startMetricsServer,
} from "./metrics.ts";
export {
  filterMembers,
  MAX_RPC_CLIENTS,
  MAX_STREAMS_PER_CLIENT,
  rpcMember,
  RpcServer,
  type RpcServerOptions,
} from "./rpc.ts";
export { serveAgent, type ServeOptions } from "./serve.ts";
export {
  formatSimulation,
  runSimulation,
  type SimulateOptions,
  type SimulationResult,
  simulationSvg,
  type Spread,
  spreadAt,
} from "./simulate.ts";

// The types the agent's API mentions, so this entry point is complete: the
// library's public types, plus the RPC codec's.
export type * from "../../mod.ts";
export type {
  EventRecord,
  MemberEventName,
  MemberEventRecord,
  MembersFilteredRequest,
  QueryEventRecord,
  QueryRequest,
  RpcKeyResponse,
  RpcMember,
  Stats,
  UserEventRecord,
} from "../codec/rpc.ts";
export type { QueryRecord } from "../serf_node.ts";
export type { QueryRecord as RpcQueryRecord } from "../codec/rpc.ts";
export type { CliLogLevel, LOG_LEVELS } from "../cli/logging.ts";
export type { AgentLoggingOptions } from "./logs.ts";
export type { ScriptResult, ScriptRunnerOptions } from "./handlers.ts";
