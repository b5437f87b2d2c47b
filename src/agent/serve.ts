/**
 * Running an agent in the foreground, as `serf agent` does (serf agent
 * `command.go`): start the member(s), the RPC server and the metrics
 * endpoint, print the banner, join (`-join` must work, `-retry-join`
 * retries), then wait for a signal:
 *
 * - SIGINT leaves gracefully (unless `skip_leave_on_interrupt`), exit 0;
 * - SIGTERM shuts down without leaving (exit 1, as Serf) unless
 *   `leave_on_terminate`;
 * - a second signal during the leave, or a leave that does not finish in
 *   time, exits 1 at once;
 * - `grapevine leave` (RPC) or a lost name conflict ends the agent, exit 0.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { Agent } from "./agent.ts";
import type { AgentConfig } from "./config.ts";
import type { LogHub } from "./logs.ts";
import type { MetricsServer } from "./metrics.ts";
import { RpcServer } from "./rpc.ts";
import { onSignal as listenSignal } from "./builtin.ts";

const logger = getLogger(["grapevine", "agent"]);

/** How a foreground agent behaves. */
export interface ServeOptions {
  /** The log ring for `monitor`. */
  logs: LogHub;
  /** Print Serf's startup banner on stdout (`agent`; not `join`). */
  banner: boolean;
  /** Where the banner goes (default: console.log). */
  print?: (line: string) => void;
  /** Seeds joined after start whose failure is only logged (`join`). */
  softJoin?: string[];
  /** SIGINT and SIGTERM both leave and exit 0 (`join`'s behaviour). */
  leaveOnAnySignal?: boolean;
}

type Signal = "SIGINT" | "SIGTERM";

/** Extra time a graceful leave may take past the broadcast timeout. */
const GRACEFUL_SLACK_MS = 2_000;

/**
 * Run an agent until it is told to stop.
 *
 * @param config the finished config
 * @param opts logs, banner and `join` behaviour
 * @returns the exit code
 */
export async function serveAgent(
  config: AgentConfig,
  opts: ServeOptions,
): Promise<number> {
  const print = opts.print ?? ((line: string) => console.log(line));
  // Listen for signals first: one that arrives during startup is handled
  // once the agent runs, instead of killing the process half-started.
  const signals = signalQueue();
  try {
    return await startAndServe(config, opts, signals, print);
  } finally {
    signals.dispose();
  }
}

async function startAndServe(
  config: AgentConfig,
  opts: ServeOptions,
  signals: SignalQueue,
  print: (line: string) => void,
): Promise<number> {
  if (opts.banner) print("==> Starting grapevine agent...");
  let agent: Agent;
  try {
    agent = await Agent.start(config);
  } catch (e) {
    print(`==> Failed to setup the agent: ${(e as Error).message}`);
    return 1;
  }
  const bound = agent.lan.localAddr;
  logger
    .info`agent: grapevine agent: ${config.nodeName} listening on ${bound.host}:${bound.port} (${config.profile}, ${agent.lan.transportName} transport)`;
  let rpc: RpcServer | null = null;
  let metrics: MetricsServer | null = null;
  try {
    if (config.rpcAddr !== "") {
      if (opts.banner) print("==> Starting grapevine agent RPC...");
      rpc = await RpcServer.start(agent, {
        addr: config.rpcAddr,
        authKey: config.rpcAuth,
        logs: opts.logs,
      });
    }
    if (config.metricsAddr !== "") {
      // Loaded only when asked for: node:http is the largest Node-compat
      // module an agent could load (bench/idle/README.md).
      const { startMetricsServer } = await import("./metrics.ts");
      metrics = await startMetricsServer(agent, config.metricsAddr);
    }
  } catch (e) {
    print(`==> ${(e as Error).message}`);
    await rpc?.close();
    await agent.shutdown();
    return 1;
  }
  try {
    if (opts.banner) printBanner(agent, rpc, metrics, print);
    return await runUntilStopped(agent, opts, signals, print);
  } finally {
    await rpc?.close();
    await metrics?.close();
    await agent.shutdown();
  }
}

function printBanner(
  agent: Agent,
  rpc: RpcServer | null,
  metrics: MetricsServer | null,
  print: (line: string) => void,
): void {
  const c = agent.config;
  const addr = (a: { host: string; port: number }): string =>
    a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
  print("==> grapevine agent running!");
  print(`                  Node name: '${c.nodeName}'`);
  print(`                  Bind addr: '${addr(agent.lan.localAddr)}'`);
  if (c.advertise !== "") {
    print(`             Advertise addr: '${c.advertise}'`);
  }
  if (rpc !== null) {
    print(`                   RPC addr: '${addr(rpc.address)}'`);
  }
  print(`                  Encrypted: ${agent.lan.stats().encrypted}`);
  print(`                   Snapshot: ${c.snapshotPath !== ""}`);
  print(`                    Profile: ${c.profile}`);
  print(`Message Compression Enabled: ${!c.disableCompression}`);
  if (agent.wan !== null) {
    print(`                 Datacenter: '${c.datacenter}'`);
    print(`              WAN node name: '${agent.wan.localMember().name}'`);
    print(`              WAN bind addr: '${addr(agent.wan.localAddr)}'`);
  }
  if (metrics !== null) {
    print(
      `               Metrics addr: 'http://${addr(metrics.address)}/metrics'`,
    );
  }
}

async function startupJoins(
  agent: Agent,
  print: (line: string) => void,
): Promise<boolean> {
  const c = agent.config;
  for (
    const [addrs, pool] of [[c.startJoin, "lan"], [c.wanJoin, "wan"]] as const
  ) {
    if (addrs.length === 0) continue;
    print(
      `==> Joining ${
        pool === "wan" ? "WAN pool" : "cluster"
      }...(replay: ${c.replayOnJoin})`,
    );
    try {
      const n = await agent.join([...addrs], c.replayOnJoin, pool);
      print(`    Join completed. Synced with ${n} initial agents`);
    } catch (e) {
      print(`==> ${(e as Error).message}`);
      return false;
    }
  }
  return true;
}

async function runUntilStopped(
  agent: Agent,
  opts: ServeOptions,
  signals: SignalQueue,
  print: (line: string) => void,
): Promise<number> {
  const c = agent.config;
  if (opts.banner && !(await startupJoins(agent, print))) return 1;
  if (opts.banner) {
    print("");
    print("==> Log data will now stream in as it occurs:\n");
  }
  const retry = c.retryJoin.length === 0
    ? new Promise<boolean>(() => {})
    : agent
      .retryJoin(c.retryJoin, {
        intervalMs: c.retryIntervalMs,
        maxAttempts: c.retryMaxAttempts,
        replay: c.replayOnJoin,
      });
  if (opts.softJoin !== undefined && opts.softJoin.length > 0) {
    void softJoin(agent, opts.softJoin);
  }
  const outcome = await Promise.race([
    signals.next(),
    agent.done.then(() => "done" as const),
    retry.then((
      ok,
    ) => (ok ? new Promise<never>(() => {}) : "retry-failed" as const)),
  ]);
  if (outcome === "done") return 0;
  if (outcome === "retry-failed") return 1;
  return await onSignal(agent, outcome, signals, opts);
}

async function softJoin(agent: Agent, seeds: string[]): Promise<void> {
  try {
    const n = await agent.join(seeds, false);
    logger.info`agent: Joined ${n} of ${seeds.length} seeds`;
  } catch (e) {
    logger.error`agent: ${(e as Error).message}`;
  }
}

async function onSignal(
  agent: Agent,
  sig: Signal,
  signals: SignalQueue,
  opts: ServeOptions,
): Promise<number> {
  const c = agent.config;
  logger.info`agent: Caught signal: ${
    sig === "SIGINT" ? "interrupt" : "terminated"
  }`;
  const graceful = opts.leaveOnAnySignal ||
    (sig === "SIGINT" && !c.skipLeaveOnInterrupt) ||
    (sig === "SIGTERM" && c.leaveOnTerminate);
  if (!graceful) return 1;
  logger.info`agent: Gracefully shutting down agent...`;
  const limitMs = c.broadcastTimeoutMs + GRACEFUL_SLACK_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    agent.leave().then(() => "left" as const, (e: Error) => {
      logger.error`agent: Error: ${e.message}`;
      return "failed" as const;
    }),
    signals.next().then(() => "forced" as const),
    new Promise<"timeout">((
      r,
    ) => (timer = setTimeout(() => r("timeout"), limitMs))),
  ]);
  clearTimeout(timer);
  if (outcome === "left") {
    logger.info`agent: Left the cluster`;
    return 0;
  }
  if (outcome === "timeout") {
    logger
      .error`agent: Graceful leave did not finish within ${limitMs} ms, exiting`;
  }
  return 1;
}

interface SignalQueue {
  next(): Promise<Signal>;
  dispose(): void;
}

// SIGINT/SIGTERM as a queue, so a second signal is seen during the leave.
function signalQueue(): SignalQueue {
  const queued: Signal[] = [];
  let waiter: ((s: Signal) => void) | null = null;
  const on = (s: Signal) => (): void => {
    if (waiter !== null) {
      const w = waiter;
      waiter = null;
      w(s);
    } else queued.push(s);
  };
  const onInt = on("SIGINT");
  const onTerm = on("SIGTERM");
  const onHup = (): void => {
    logger
      .warn`agent: Caught signal: hangup; reloading the configuration is not supported, restart the agent instead`;
  };
  const off = [
    listenSignal("SIGINT", onInt),
    listenSignal("SIGTERM", onTerm),
    listenSignal("SIGHUP", onHup),
  ];
  return {
    next: () => {
      const s = queued.shift();
      if (s !== undefined) return Promise.resolve(s);
      return new Promise((resolve) => (waiter = resolve));
    },
    dispose: () => {
      for (const f of off) f();
    },
  };
}
