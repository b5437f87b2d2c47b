/**
 * The CLI's log sinks. The library only calls `getLogger`; configuring sinks
 * is the application's job (LogTape's library-first rule), so it lives here.
 * Lines look like memberlist's and Serf's:
 * `2026/11/23 12:00:00 [INFO] memberlist: Suspect b has failed, no acks received`.
 *
 * @module
 */

import {
  configure,
  type LogLevel,
  type LogRecord,
  reset,
} from "@logtape/logtape";

const LEVEL_TAGS: Record<LogLevel, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARN",
  error: "ERR",
  fatal: "ERR",
};

/** The log levels a user may pick, lowest first. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "err"] as const;

/** A `--log-level` value. */
export type CliLogLevel = (typeof LOG_LEVELS)[number];

const TO_LOGTAPE: Record<CliLogLevel, LogLevel> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warn: "warning",
  err: "error",
};

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

function render(record: LogRecord): string {
  // Values are printed bare, as Go's log.Printf("%s") prints them.
  return record.message.map((p) => typeof p === "string" ? p : String(p)).join(
    "",
  );
}

/** Format a record the way memberlist's and Serf's loggers do. */
export function formatLine(record: LogRecord): string {
  const d = new Date(record.timestamp);
  const ts = `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${
    pad(d.getHours())
  }:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const source = record.category.at(-1) ?? "grapevine";
  const text = render(record);
  // Serf's own lines already carry "serf: " in their text, as in Go.
  const prefixed = text.startsWith(`${source}: `) ? text : `${source}: ${text}`;
  return `${ts} [${LEVEL_TAGS[record.level]}] ${prefixed}`;
}

/** Format a record as one JSON object (`--log-json`). */
export function formatJson(record: LogRecord): string {
  return JSON.stringify({
    time: new Date(record.timestamp).toISOString(),
    level: record.level,
    source: record.category.join("."),
    message: render(record),
  });
}

/**
 * Send the library's logs at `level` and above to stderr.
 *
 * @param level lowest level shown
 * @param json one JSON object per line instead of text
 * @param write where lines go (default: stderr)
 */
export async function configureLogging(
  level: CliLogLevel,
  json = false,
  write: (line: string) => void = (line) => console.error(line),
): Promise<void> {
  if (!(level in TO_LOGTAPE)) {
    throw new TypeError(
      `Invalid log level ${JSON.stringify(level)}: use ${
        LOG_LEVELS.join(", ")
      }`,
    );
  }
  const format = json ? formatJson : formatLine;
  await reset();
  await configure({
    sinks: { stderr: (record: LogRecord) => write(format(record)) },
    loggers: [
      {
        category: ["grapevine"],
        lowestLevel: TO_LOGTAPE[level],
        sinks: ["stderr"],
      },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["stderr"],
      },
    ],
  });
}
