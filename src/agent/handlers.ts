/**
 * Event handler scripts with Serf's contract (serf agent `event_handler.go`,
 * `invoke.go`):
 *
 * - a spec is `SCRIPT` (every event), `TYPE=SCRIPT` or a comma list of
 *   filters, e.g. `member-join,user:deploy,query:uptime=./handle.sh`;
 * - the script runs as `/bin/sh -c SCRIPT` with `SERF_EVENT`,
 *   `SERF_SELF_NAME`, `SERF_SELF_ROLE`, one `SERF_TAG_<NAME>` per tag of
 *   this member, and `SERF_USER_EVENT`/`SERF_USER_LTIME` or
 *   `SERF_QUERY_NAME`/`SERF_QUERY_LTIME`;
 * - stdin carries one `name\taddr\trole\ttags` line per member for member
 *   events, or the payload (plus a newline if it lacks one);
 * - for a query, what the script prints (stdout and stderr share one 8 KiB
 *   buffer, as in Serf) is the response, if any;
 * - scripts run one at a time per agent, in event order; a script running
 *   past the time limit is killed with its process group; a failing script
 *   is logged, never fatal.
 *
 * Bounds: at most {@linkcode MAX_QUEUED_HANDLER_EVENTS} events wait for the
 * scripts (newer ones are dropped with a warning); output is kept to the
 * last {@linkcode HANDLER_OUTPUT_LIMIT_BYTES} bytes.
 *
 * @module
 */

import { nodeProcess } from "./builtin.ts";
import { getLogger } from "@logtape/logtape";
import type { SerfEvent, SerfMemberInfo } from "../serf/events.ts";

const logger = getLogger(["grapevine", "agent"]);

/** Output kept from one script run (serf `maxBufSize`). */
export const HANDLER_OUTPUT_LIMIT_BYTES = 8 * 1024;
/** Events waiting for the scripts before newer ones are dropped. */
export const MAX_QUEUED_HANDLER_EVENTS = 1024;
/** A script running longer than this is reported as slow (serf `warnSlow`). */
export const HANDLER_SLOW_WARNING_MS = 1000;

/** Which events a handler or an event stream wants (serf `EventFilter`). */
export interface EventFilter {
  /** "member-join" … "member-reap", "user", "query" or "*". */
  readonly event: string;
  /** For "user" and "query": only this name ("" = any). */
  readonly name: string;
}

/** A filter and the script it runs (serf `EventScript`). */
export interface EventScript extends EventFilter {
  /** The shell command. */
  readonly script: string;
}

/** The events handled by scripts and streams: member, user and query. */
export type AgentEvent = Extract<
  SerfEvent,
  {
    type:
      | "memberJoin"
      | "memberLeave"
      | "memberFailed"
      | "memberUpdate"
      | "memberReap"
      | "user"
      | "query";
  }
>;

const EVENT_NAMES: Readonly<Record<AgentEvent["type"], string>> = {
  memberJoin: "member-join",
  memberLeave: "member-leave",
  memberFailed: "member-failed",
  memberUpdate: "member-update",
  memberReap: "member-reap",
  user: "user",
  query: "query",
};

/**
 * Whether a machine event is one the agent hands to scripts and streams.
 *
 * @param e any Serf event
 * @returns true for member, user and query events
 */
export function isAgentEvent(e: SerfEvent): e is AgentEvent {
  return e.type in EVENT_NAMES;
}

/**
 * Serf's name of an event type (`EventType.String()`).
 *
 * @param e the event
 * @returns e.g. "member-join", "user", "query"
 */
export function eventTypeName(e: AgentEvent): string {
  return EVENT_NAMES[e.type];
}

/**
 * Serf's description of an event (`Event.String()`), as logged in
 * "Received event: …".
 *
 * @param e the event
 * @returns e.g. "member-join", "user-event: deploy", "query: uptime"
 */
export function eventText(e: AgentEvent): string {
  if (e.type === "user") return `user-event: ${e.name}`;
  if (e.type === "query") return `query: ${e.name}`;
  return EVENT_NAMES[e.type];
}

/**
 * Parse a comma list of filters (serf `ParseEventFilter`); "" means "*".
 *
 * @param v e.g. "member-join,user:deploy"
 * @returns the filters (check each with {@linkcode validEventFilter})
 */
export function parseEventFilter(v: string): EventFilter[] {
  return (v === "" ? "*" : v).split(",").map((event) => {
    if (event.startsWith("user:")) {
      return { event: "user", name: event.slice(5) };
    }
    if (event.startsWith("query:")) {
      return { event: "query", name: event.slice(6) };
    }
    return { event, name: "" };
  });
}

/**
 * Parse a handler spec `[FILTERS=]SCRIPT` (serf `ParseEventScript`).
 *
 * @param v e.g. "user:deploy=./deploy.sh"
 * @returns one script per filter
 */
export function parseEventScript(v: string): EventScript[] {
  const eq = v.indexOf("=");
  const filter = eq >= 0 ? v.slice(0, eq) : "";
  const script = eq >= 0 ? v.slice(eq + 1) : v;
  return parseEventFilter(filter).map((f) => ({ ...f, script }));
}

/**
 * Whether a filter names a known event (serf `EventFilter.Valid`).
 *
 * @param f the filter
 * @returns true when valid
 */
export function validEventFilter(f: EventFilter): boolean {
  return [
    "member-join",
    "member-leave",
    "member-failed",
    "member-update",
    "member-reap",
    "user",
    "query",
    "*",
  ].includes(f.event);
}

/**
 * Whether a filter wants an event (serf `EventFilter.Invoke`).
 *
 * @param f the filter
 * @param e the event
 * @returns true when it matches
 */
export function filterMatches(f: EventFilter, e: AgentEvent): boolean {
  if (f.event === "*") return true;
  if (EVENT_NAMES[e.type] !== f.event) return false;
  if (f.name !== "" && (e.type === "user" || e.type === "query")) {
    return e.name === f.name;
  }
  return true;
}

/**
 * The environment Serf gives a script (besides the inherited one).
 *
 * @param self this member
 * @param e the event
 * @returns the SERF_* variables
 */
export function handlerEnv(
  self: SerfMemberInfo,
  e: AgentEvent,
): Record<string, string> {
  const env: Record<string, string> = {
    SERF_EVENT: EVENT_NAMES[e.type],
    SERF_SELF_NAME: self.name,
    SERF_SELF_ROLE: self.tags.get("role") ?? "",
  };
  for (const [name, value] of self.tags) {
    // Environment names are [A-Z0-9_] (serf sanitizeTagRegexp).
    env[`SERF_TAG_${name.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`] = value;
  }
  if (e.type === "user") {
    env.SERF_USER_EVENT = e.name;
    env.SERF_USER_LTIME = String(e.ltime);
  } else if (e.type === "query") {
    env.SERF_QUERY_NAME = e.name;
    env.SERF_QUERY_LTIME = String(e.ltime);
  }
  return env;
}

function eventClean(v: string): string {
  return v.replaceAll("\t", "\\t").replaceAll("\n", "\\n");
}

/**
 * What Serf writes on a script's stdin (`memberEventStdin`,
 * `streamPayload`).
 *
 * @param e the event
 * @returns the bytes
 */
export function handlerStdin(e: AgentEvent): Uint8Array {
  const enc = new TextEncoder();
  if (e.type === "user" || e.type === "query") {
    const p = e.payload ?? new Uint8Array(0);
    if (p.length === 0 || p[p.length - 1] === 0x0a) return p;
    const out = new Uint8Array(p.length + 1);
    out.set(p);
    out[p.length] = 0x0a;
    return out;
  }
  const lines = e.members.map((m) => {
    const tags = [...m.tags].map(([k, v]) => `${k}=${v}`).join(",");
    return `${eventClean(m.name)}\t${m.addr.host}\t${
      eventClean(m.tags.get("role") ?? "")
    }\t${eventClean(tags)}\n`;
  });
  return enc.encode(lines.join(""));
}

/** What one script run produced. */
export interface ScriptResult {
  /** Exit code, or null when killed. */
  code: number | null;
  /** The last ≤ 8 KiB of stdout and stderr, interleaved. */
  output: Uint8Array;
  /** Bytes written in all. */
  totalBytes: number;
  /** True when killed at the time limit. */
  timedOut: boolean;
}

/**
 * Run one script for one event, as Serf's `invokeEventScript` does.
 *
 * @param script the shell command
 * @param env the full environment
 * @param stdin bytes to write on stdin
 * @param timeoutMs kill it (and its process group) after this
 * @returns the exit code and output
 */
export async function runScript(
  script: string,
  env: Record<string, string>,
  stdin: Uint8Array,
  timeoutMs: number,
): Promise<ScriptResult> {
  // Loaded on first use: an agent without handlers never pays for
  // node:child_process (its Node-compat init costs RSS on Deno; bench/idle/).
  const { spawn } = await import("node:child_process");
  return await new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", script], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    const chunks: Uint8Array[] = [];
    let kept = 0;
    let total = 0;
    const collect = (c: Uint8Array): void => {
      total += c.length;
      chunks.push(new Uint8Array(c));
      kept += c.length;
      while (kept - chunks[0].length >= HANDLER_OUTPUT_LIMIT_BYTES) {
        kept -= chunks.shift()!.length;
      }
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    child.stdin?.on("error", () => {}); // the script may not read stdin
    child.stdin?.end(stdin);
    const done = (code: number | null): void => {
      clearTimeout(timer);
      resolve({ code, output: tail(chunks), totalBytes: total, timedOut });
    };
    child.once("error", () => done(127));
    child.once("close", (code: number | null) => done(timedOut ? null : code));
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    nodeProcess().kill(-pid, "SIGKILL");
  } catch {
    try {
      nodeProcess().kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

function tail(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  return all.length > HANDLER_OUTPUT_LIMIT_BYTES
    ? all.slice(all.length - HANDLER_OUTPUT_LIMIT_BYTES)
    : all;
}

/** What a {@linkcode ScriptRunner} needs from its agent. */
export interface ScriptRunnerOptions {
  /** The scripts, parsed. */
  scripts: readonly EventScript[];
  /** This member, read when each event is handled. */
  self: () => SerfMemberInfo;
  /** Answer a query event with the script's output. */
  respond: (queryId: number, payload: Uint8Array) => void;
  /** The time limit of one run. */
  timeoutMs: number;
  /** Called after each run (tests, metrics). */
  onRun?: (script: string, result: ScriptResult) => void;
}

/**
 * Runs the agent's event scripts one at a time, in event order (serf
 * `ScriptEventHandler`).
 */
export class ScriptRunner {
  readonly #opts: ScriptRunnerOptions;
  readonly #queue: AgentEvent[] = [];
  #running: Promise<void> | null = null;
  #closed = false;
  /** Events dropped because the queue was full. */
  dropped = 0;

  /**
   * Make a runner.
   *
   * @param opts scripts, self, respond and the time limit
   */
  constructor(opts: ScriptRunnerOptions) {
    this.#opts = opts;
  }

  /** The scripts, for `info`. */
  get scripts(): readonly EventScript[] {
    return this.#opts.scripts;
  }

  /**
   * Queue an event for the scripts that want it.
   *
   * @param e the event
   */
  handle(e: AgentEvent): void {
    if (this.#closed) return;
    if (!this.#opts.scripts.some((s) => filterMatches(s, e))) return;
    if (this.#queue.length >= MAX_QUEUED_HANDLER_EVENTS) {
      this.dropped++;
      logger.warn`agent: Dropping event ${
        eventText(e)
      }: ${MAX_QUEUED_HANDLER_EVENTS} events already wait for the event handlers`;
      return;
    }
    this.#queue.push(e);
    this.#running ??= this.#drain().finally(() => (this.#running = null));
  }

  /** Resolves when no script runs and none is queued. */
  async idle(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  /** Stop taking events (a running script finishes). */
  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
  }

  async #drain(): Promise<void> {
    for (
      let e = this.#queue.shift();
      e !== undefined;
      e = this.#queue.shift()
    ) {
      for (const s of this.#opts.scripts) {
        if (this.#closed) return;
        if (filterMatches(s, e)) await this.#invoke(s.script, e);
      }
    }
  }

  async #invoke(script: string, e: AgentEvent): Promise<void> {
    const env = {
      ...nodeProcess().env as Record<string, string>,
      ...handlerEnv(this.#opts.self(), e),
    };
    const slow = setTimeout(() => {
      logger.warn`agent: Script '${script}' slow, execution exceeding ${
        HANDLER_SLOW_WARNING_MS / 1000
      }s`;
    }, HANDLER_SLOW_WARNING_MS);
    const r = await runScript(
      script,
      env,
      handlerStdin(e),
      this.#opts.timeoutMs,
    );
    clearTimeout(slow);
    this.#opts.onRun?.(script, r);
    if (r.totalBytes > HANDLER_OUTPUT_LIMIT_BYTES) {
      logger
        .warn`agent: Script '${script}' generated ${r.totalBytes} bytes of output, truncated to ${HANDLER_OUTPUT_LIMIT_BYTES}`;
    }
    logger.debug`agent: Event '${EVENT_NAMES[e.type]}' script output: ${
      new TextDecoder().decode(r.output)
    }`;
    if (r.timedOut) {
      logger
        .error`agent: Error invoking script '${script}': killed after the time limit of ${this.#opts.timeoutMs} ms`;
      return;
    }
    if (r.code !== 0) {
      logger
        .error`agent: Error invoking script '${script}': exit status ${r.code}`;
      return;
    }
    if (e.type === "query" && r.totalBytes > 0) {
      try {
        this.#opts.respond(e.id, r.output);
      } catch (err) {
        logger.warn`agent: Failed to respond to query '${eventText(e)}': ${
          (err as Error).message
        }`;
      }
    }
  }
}
