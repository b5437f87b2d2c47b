/**
 * The agent's log plumbing (serf agent `log_writer.go`, `log_levels.go`):
 * every log line, whatever its level, goes into a ring of the last
 * {@linkcode LOG_BACKLOG_LINES} lines and to the subscribed monitors (the
 * `monitor` RPC), while stderr only gets lines at or above `-log-level`.
 * Lines have memberlist's shape, `2026/11/23 12:00:00 [INFO] serf: …`, and a
 * monitor filters them by the `[LEVEL]` tag like Go's logutils.
 *
 * @module
 */

import {
  configure,
  type LogLevel,
  type LogRecord,
  reset,
} from "@logtape/logtape";
import { type CliLogLevel, formatJson, formatLine } from "../cli/logging.ts";

/** Lines kept for a new monitor (serf `NewLogWriter(512)`). */
export const LOG_BACKLOG_LINES = 512;

/** Serf's level tags, lowest first (logutils `Levels`). */
export const LOG_LEVEL_TAGS = [
  "TRACE",
  "DEBUG",
  "INFO",
  "WARN",
  "ERR",
] as const;

const RANK: Readonly<Record<LogLevel, number>> = {
  trace: 0,
  debug: 1,
  info: 2,
  warning: 3,
  error: 4,
  fatal: 4,
};

const CLI_RANK: Readonly<Record<CliLogLevel, number>> = {
  trace: 0,
  debug: 1,
  info: 2,
  warn: 3,
  err: 4,
};

/**
 * Whether a line passes a minimum level, the way logutils' `LevelFilter`
 * checks it: by the first `[LEVEL]` tag; a line without one passes.
 *
 * @param minTag "TRACE" … "ERR"
 * @param line a formatted line
 * @returns true when it should be shown
 */
export function lineAtLeast(minTag: string, line: string): boolean {
  const m = /\[(TRACE|DEBUG|INFO|WARN|ERR)\]/.exec(line);
  if (m === null) return true;
  const rank = (t: string): number =>
    (LOG_LEVEL_TAGS as readonly string[]).indexOf(t);
  return rank(m[1]) >= rank(minTag);
}

/** A ring of recent lines plus live subscribers. */
export class LogHub {
  readonly #ring: string[] = [];
  #next = 0;
  readonly #subscribers = new Set<(line: string) => void>();

  /**
   * Record a line and hand it to every subscriber.
   *
   * @param line one formatted log line
   */
  write(line: string): void {
    if (this.#ring.length < LOG_BACKLOG_LINES) this.#ring.push(line);
    else this.#ring[this.#next] = line;
    this.#next = (this.#next + 1) % LOG_BACKLOG_LINES;
    for (const s of this.#subscribers) s(line);
  }

  /** The kept lines, oldest first. */
  backlog(): string[] {
    if (this.#ring.length < LOG_BACKLOG_LINES) return [...this.#ring];
    return [
      ...this.#ring.slice(this.#next),
      ...this.#ring.slice(0, this.#next),
    ];
  }

  /**
   * Receive the backlog, then every new line, until the returned function is
   * called.
   *
   * @param fn called once per line
   * @returns unsubscribe
   */
  subscribe(fn: (line: string) => void): () => void {
    for (const line of this.backlog()) fn(line);
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }
}

/** Where the agent's logs go. */
export interface AgentLoggingOptions {
  /** Lowest level written to stderr. */
  level: CliLogLevel;
  /** One JSON object per stderr line instead of text. */
  json?: boolean;
  /** The stderr writer (default `console.error`). */
  write?: (line: string) => void;
}

/**
 * Route the library's logs (LogTape category "grapevine") to the hub, at
 * every level, and to stderr at `level` and above.
 *
 * @param hub the ring and monitors
 * @param options stderr level, format and writer
 */
export async function configureAgentLogging(
  hub: LogHub,
  options: AgentLoggingOptions,
): Promise<void> {
  const min = CLI_RANK[options.level];
  const write = options.write ?? ((line: string) => console.error(line));
  const format = options.json ? formatJson : formatLine;
  await reset();
  await configure({
    sinks: {
      agent: (record: LogRecord) => {
        const text = formatLine(record);
        hub.write(text);
        if (RANK[record.level] >= min) {
          write(options.json ? format(record) : text);
        }
      },
    },
    loggers: [
      { category: ["grapevine"], lowestLevel: "trace", sinks: ["agent"] },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["agent"],
      },
    ],
  });
}
