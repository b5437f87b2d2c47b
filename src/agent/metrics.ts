/**
 * The agent's metrics in the OpenMetrics text format, served over HTTP
 * (`-metrics-addr IP:PORT`, `GET /metrics`) with `node:http`, so Prometheus
 * can scrape a grapevine agent. Gauges are read from the members when
 * scraped; counters come from the machines and the agent.
 *
 * ```
 * # TYPE grapevine_members gauge
 * grapevine_members{pool="lan",status="alive"} 3
 * …
 * # EOF
 * ```
 *
 * @module
 */

import http from "node:http";
import { parseAddress } from "../address.ts";
import type { Address } from "../machine.ts";
import type { Agent, Pool } from "./agent.ts";

/** The content type of the OpenMetrics text format. */
export const OPENMETRICS_CONTENT_TYPE =
  "application/openmetrics-text; version=1.0.0; charset=utf-8";

const STATUSES = ["alive", "leaving", "left", "failed"] as const;

interface Family {
  readonly name: string;
  readonly type: "gauge" | "counter";
  readonly help: string;
  readonly samples: Array<[labels: Record<string, string>, value: number]>;
}

function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll(
    "\n",
    "\\n",
  );
}

function renderFamily(f: Family): string {
  const lines = [`# TYPE ${f.name} ${f.type}`, `# HELP ${f.name} ${f.help}`];
  const suffix = f.type === "counter" ? "_total" : "";
  for (const [labels, value] of f.samples) {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(",");
    lines.push(`${f.name}${suffix}${l === "" ? "" : `{${l}}`} ${value}`);
  }
  return lines.join("\n");
}

function pools(agent: Agent): Pool[] {
  return agent.wan === null ? ["lan"] : ["lan", "wan"];
}

function memberFamilies(agent: Agent): Family[] {
  const members: Family = {
    name: "grapevine_members",
    type: "gauge",
    help: "Members known, by pool and Serf status.",
    samples: [],
  };
  const health: Family = {
    name: "grapevine_health_score",
    type: "gauge",
    help: "Lifeguard local health score (0 is healthy).",
    samples: [],
  };
  const queues: Family = {
    name: "grapevine_broadcast_queue_depth",
    type: "gauge",
    help: "Broadcasts waiting to be gossiped, by pool and queue.",
    samples: [],
  };
  for (const pool of pools(agent)) {
    const node = agent.node(pool);
    const counts = new Map<string, number>(STATUSES.map((s) => [s, 0]));
    for (const m of node.members()) {
      counts.set(m.status, (counts.get(m.status) ?? 0) + 1);
    }
    for (const [status, n] of counts) {
      members.samples.push([{ pool, status }, n]);
    }
    const s = node.stats();
    health.samples.push([{ pool }, s.healthScore]);
    queues.samples.push([{ pool, queue: "intent" }, s.intentQueue]);
    queues.samples.push([{ pool, queue: "event" }, s.eventQueue]);
    queues.samples.push([{ pool, queue: "query" }, s.queryQueue]);
  }
  return [members, health, queues];
}

function trafficFamilies(agent: Agent): Family[] {
  const fam = (name: string, help: string): Family => ({
    name,
    type: "counter",
    help,
    samples: [],
  });
  const messages = fam(
    "grapevine_messages",
    "UDP packets received and sent, by pool.",
  );
  const bytes = fam("grapevine_bytes", "UDP bytes received and sent, by pool.");
  const streams = fam(
    "grapevine_push_pull_streams",
    "TCP streams (push-pull state syncs and joins, fallback pings) accepted and dialed, by pool.",
  );
  for (const pool of pools(agent)) {
    const ml = agent.node(pool).stats().memberlist;
    messages.samples.push([{ pool, direction: "in" }, ml.packetsIn]);
    messages.samples.push([{ pool, direction: "out" }, ml.packetsOut]);
    bytes.samples.push([{ pool, direction: "in" }, ml.bytesIn]);
    bytes.samples.push([{ pool, direction: "out" }, ml.bytesOut]);
    streams.samples.push([{ pool, direction: "in" }, ml.streamsIn]);
    streams.samples.push([{ pool, direction: "out" }, ml.streamsOut]);
  }
  return [messages, bytes, streams];
}

function eventFamilies(agent: Agent): Family[] {
  const c = agent.counters;
  const events: Family = {
    name: "grapevine_events",
    type: "counter",
    help: "Serf events received, by pool and type.",
    samples: [...c.events].sort().map(([key, n]) => {
      const [pool, type] = key.split(":");
      return [{ pool, type }, n];
    }),
  };
  return [
    events,
    {
      name: "grapevine_user_events_sent",
      type: "counter",
      help: "User events sent by this agent.",
      samples: [[{}, c.userEventsSent]],
    },
    {
      name: "grapevine_queries_sent",
      type: "counter",
      help: "Queries started by this agent.",
      samples: [[{}, c.queriesSent]],
    },
    {
      name: "grapevine_handler_runs",
      type: "counter",
      help: "Event handler script runs, by outcome.",
      samples: [
        [{ outcome: "ok" }, c.scriptRuns - c.scriptFailures],
        [{ outcome: "failed" }, c.scriptFailures],
      ],
    },
  ];
}

// Everything read from the network and dropped is counted (README §Security
// notes): malformed input by the machines, undecryptable, unlabeled and
// refused input by the driver's seal stage and stream limits.
function dropFamilies(agent: Agent): Family[] {
  const decode: Family = {
    name: "grapevine_decode_errors",
    type: "counter",
    help: "Malformed input dropped, by pool, layer and reason.",
    samples: [],
  };
  const dropped: Family = {
    name: "grapevine_dropped",
    type: "counter",
    help:
      "Input dropped or refused (undecryptable, stale, over a limit), by pool, layer and reason.",
    samples: [],
  };
  const add = (
    f: Family,
    pool: Pool,
    layer: string,
    m: ReadonlyMap<string, number>,
  ): void => {
    for (const [reason, n] of [...m].sort(([a], [b]) => (a < b ? -1 : 1))) {
      f.samples.push([{ pool, layer, reason }, n]);
    }
  };
  for (const pool of pools(agent)) {
    const s = agent.node(pool).stats();
    add(decode, pool, "memberlist", s.memberlist.decodeErrors);
    add(decode, pool, "serf", s.decodeErrors);
    add(dropped, pool, "memberlist", s.memberlist.dropped);
    add(dropped, pool, "driver", s.dropped);
  }
  return [decode, dropped];
}

/**
 * The agent's metrics as OpenMetrics text.
 *
 * @param agent the agent
 * @returns the exposition, ending in "# EOF"
 */
export function renderMetrics(agent: Agent): string {
  const families = [
    ...memberFamilies(agent),
    ...trafficFamilies(agent),
    ...eventFamilies(agent),
    ...dropFamilies(agent),
  ];
  return `${families.map(renderFamily).join("\n")}\n# EOF\n`;
}

/** A listening metrics endpoint. */
export interface MetricsServer {
  /** The bound address. */
  readonly address: Address;
  /** Stop listening. */
  close(): Promise<void>;
}

/**
 * Serve `GET /metrics` for an agent.
 *
 * @param agent the agent
 * @param addr "IP:PORT" (port 0 = any)
 * @returns the server
 * @throws {Error} "Error starting metrics listener: …"
 */
export async function startMetricsServer(
  agent: Agent,
  addr: string,
): Promise<MetricsServer> {
  const bind = parseAddress(addr, 9100);
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "/").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("Not found: metrics are at GET /metrics\n");
      return;
    }
    const body = renderMetrics(agent);
    res.writeHead(200, { "content-type": OPENMETRICS_CONTENT_TYPE });
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once(
      "error",
      (e) => reject(new Error(`Error starting metrics listener: ${e.message}`)),
    );
    server.listen(bind.port, bind.host, () => resolve());
  });
  const a = server.address() as { address: string; port: number };
  return {
    address: { host: a.address, port: a.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
