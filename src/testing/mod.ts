/**
 * Deterministic simulation for grapevine's machines (ARCHITECTURE
 * principle 7): a virtual clock, a seeded network with latency, jitter,
 * loss, duplication, one-way drops, partitions, crashes, restarts and
 * pauses, a reliable stream plane, invariant checkers run after every step,
 * a scenario language, a trace whose hash proves determinism, and the VOPR
 * randomized sweep (`src/testing/vopr_main.ts`).
 *
 * Every run is a pure function of its seed: no wall clock, no
 * `Math.random`, no timers, no sockets.
 *
 * @example
 * ```ts
 * import { memberlistCluster, runScenario } from "@grapevine/grapevine/testing";
 *
 * const cluster = memberlistCluster({ seed: 42, expectedSize: 5 });
 * runScenario(cluster, `
 *   start 5
 *   join all
 *   expect converged within 70s
 *   partition a,b | c,d,e
 *   run 30s
 *   expect c dead on a,b
 *   heal
 *   crash e
 *   expect e dead on a,b,c,d within 60s
 * `);
 * console.log(cluster.trace.hash()); // the same for every run of seed 42
 * ```
 *
 * @module
 */

// The core types the simulator's API mentions, so this entry is complete.
export type {
  Address,
  DialTransmit,
  Machine,
  PacketTransmit,
  ReplyTransmit,
  Transmit,
} from "../machine.ts";
export type * from "../types.ts";
export type {
  DialOptions,
  Transport,
  TransportConn,
  TransportFactory,
  TransportHandlers,
  TransportOptions,
  TransportStats,
} from "../transport.ts";
export type { MemberlistConfig, ProfileName } from "../config.ts";
export type { MemberlistDelegate } from "../memberlist/delegate.ts";
export type {
  Memberlist,
  MemberlistOptions,
  MemberlistStats,
} from "../memberlist/memberlist.ts";
export { derivePrng, hashLabel, Prng, splitmix32 } from "./prng.ts";
export {
  DEFAULT_MAX_SCHEDULED,
  SimClock,
  type SimClockOptions,
} from "./sim_clock.ts";
export {
  DEFAULT_TRACE_LINES,
  formatMs,
  type TraceKind,
  type TraceOptions,
  TraceRecorder,
} from "./trace.ts";
export {
  type LinkProfile,
  type NetworkHooks,
  type NodeStatus,
  type ResumeOrder,
  SimNetwork,
  type SimNetworkOptions,
  type SimNetworkStats,
  type SimNodeInfo,
} from "./sim_network.ts";
export {
  type Checker,
  type ClassifiedEvent,
  type EventListener,
  type FalsePositive,
  type MachineFactory,
  type MachineHooks,
  MAX_RECORDED,
  memberHost,
  memberName,
  type QueueSize,
  SimCluster,
  type SimClusterOptions,
  SimulationError,
  type ViewEntry,
  type Violation,
} from "./sim_cluster.ts";
export {
  deathChecker,
  type DeathCheckerOptions,
  type DefaultCheckerOptions,
  defaultCheckers,
  detectionChecker,
  type DetectionCheckerOptions,
  machineChecker,
  type MachineCheckerOptions,
  selfChecker,
  viewChecker,
  type ViewCheckerOptions,
} from "./checkers.ts";
export {
  CRC_OVERHEAD_BYTES,
  MEMBERLIST_HOOKS,
  type MemberlistBounds,
  memberlistBounds,
  type MemberlistCluster,
  memberlistCluster,
  type MemberlistClusterOptions,
  startConverged,
} from "./memberlist_sim.ts";
export {
  type ExpectedState,
  parseDuration,
  parseScenario,
  runScenario,
  type RunScenarioOptions,
  type ScenarioCommand,
  ScenarioError,
  type ScenarioOp,
} from "./scenario.ts";
export {
  addResult,
  CAMPAIGN_MODE_CONFIG,
  CAMPAIGN_MODES,
  type CampaignBounds,
  campaignBounds,
  type CampaignMode,
  type CampaignOptions,
  type CampaignPlan,
  type CampaignResult,
  type CampaignSummary,
  emptySummary,
  formatCampaignTable,
  formatPlan,
  HISTOGRAM_BUCKET_MS,
  histogramQuantileMs,
  planCampaign,
  type PlannedFault,
  PROBE_STAGE_INTERVALS,
  runCampaignSeed,
} from "./campaign.ts";
export {
  type LossyStats,
  lossyTransport,
  type LossyTransportFactory,
  type LossyTransportOptions,
  MAX_HELD_PACKETS,
} from "./lossy_transport.ts";
export {
  formatFailure,
  generateScenario,
  runVopr,
  runVoprSeed,
  type VoprOptions,
  type VoprResult,
  type VoprSummary,
} from "./vopr.ts";
