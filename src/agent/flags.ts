/**
 * Command-line flags the way Serf's Go `flag` package reads them, made a
 * little more forgiving: `-flag=v`, `-flag v`, `--flag=v` and `--flag v` all
 * work, a boolean flag is `-flag` or `-flag=false`, a repeatable flag
 * collects every value (Serf's `AppendSliceValue`), and flags may come after
 * positional arguments (Go stops at the first one; `--` still ends the
 * flags). Also Go's duration syntax (`1m30s`, `500ms`), used by every
 * duration flag and config key.
 *
 * @module
 */

import { UsageError } from "../cli/usage.ts";

/** How a flag takes its value. */
export type FlagKind = "string" | "bool" | "list";

/** One accepted flag. */
export interface FlagSpec {
  /** Name without dashes, e.g. "rpc-addr". */
  readonly name: string;
  /** "bool" takes no separate value; "list" may repeat. */
  readonly kind: FlagKind;
}

/** Flags and positional arguments of one command line. */
export interface ParsedFlags {
  /** Every value given, by flag name, in order ("true"/"false" for bools). */
  readonly values: ReadonlyMap<string, readonly string[]>;
  /** The arguments that are not flags. */
  readonly positionals: readonly string[];
}

/**
 * Whether the arguments ask for help (`-h`, `-help`, `--help`).
 *
 * @param args the command's arguments
 * @returns true when one of them is a help flag (before any `--`)
 */
export function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === "--") return false;
    if (a === "-h" || a === "-help" || a === "--help" || a === "--h") {
      return true;
    }
  }
  return false;
}

/**
 * Parse Go-style flags.
 *
 * @param args the arguments after the command name
 * @param specs the flags this command accepts
 * @returns the values by flag and the positional arguments
 * @throws {UsageError} "flag provided but not defined: -x" or "flag needs an
 *   argument: -x", as Go words them
 * @example
 * ```ts
 * const p = parseFlags(["-rpc-addr=127.0.0.1:7373", "deploy"], [
 *   { name: "rpc-addr", kind: "string" },
 * ]);
 * p.positionals; // ["deploy"]
 * ```
 */
export function parseFlags(
  args: readonly string[],
  specs: readonly FlagSpec[],
): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (a.length < 2 || a[0] !== "-") {
      positionals.push(a);
      continue;
    }
    const body = a.startsWith("--") ? a.slice(2) : a.slice(1);
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = byName.get(name);
    if (spec === undefined || name === "") {
      throw new UsageError(`flag provided but not defined: -${name}`);
    }
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else if (spec.kind === "bool") value = "true";
    else if (i + 1 < args.length) value = args[++i];
    else throw new UsageError(`flag needs an argument: -${name}`);
    if (spec.kind === "bool") value = String(parseBool(value, name));
    const list = values.get(name) ?? [];
    list.push(value);
    values.set(name, list);
  }
  return { values, positionals };
}

function parseBool(text: string, name: string): boolean {
  // Go's strconv.ParseBool.
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  throw new UsageError(
    `invalid boolean value ${
      JSON.stringify(text)
    } for -${name}: use true or false`,
  );
}

/**
 * The last value of a flag (Go keeps the last), or a default.
 *
 * @param p parsed flags
 * @param name the flag
 * @param fallback used when the flag is absent
 * @returns the value
 */
export function flagString(
  p: ParsedFlags,
  name: string,
  fallback: string,
): string {
  return p.values.get(name)?.at(-1) ?? fallback;
}

/**
 * The last value of a boolean flag, or a default.
 *
 * @param p parsed flags
 * @param name the flag
 * @param fallback used when the flag is absent
 * @returns the value
 */
export function flagBool(
  p: ParsedFlags,
  name: string,
  fallback = false,
): boolean {
  const v = p.values.get(name)?.at(-1);
  return v === undefined ? fallback : v === "true";
}

/**
 * Every value of a repeatable flag.
 *
 * @param p parsed flags
 * @param name the flag
 * @returns the values in order (empty when absent)
 */
export function flagList(p: ParsedFlags, name: string): string[] {
  return [...(p.values.get(name) ?? [])];
}

/**
 * The last value of an integer flag, or a default.
 *
 * @param p parsed flags
 * @param name the flag
 * @param fallback used when the flag is absent
 * @returns the integer
 * @throws {UsageError} naming the flag when it is not a whole number
 */
export function flagInt(
  p: ParsedFlags,
  name: string,
  fallback: number,
): number {
  const v = p.values.get(name)?.at(-1);
  if (v === undefined) return fallback;
  return parseInteger(v, `-${name}`);
}

/**
 * Parse a whole number, naming the setting on error.
 *
 * @param text the text
 * @param what the flag or key, for the message
 * @returns the number
 * @throws {UsageError} when it is not a whole number
 */
export function parseInteger(text: string, what: string): number {
  if (!/^[-+]?\d+$/.test(text.trim())) {
    throw new UsageError(
      `Invalid ${what} ${JSON.stringify(text)}: use a whole number`,
    );
  }
  return Number(text);
}

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parse a Go duration (`time.ParseDuration`: "300ms", "1.5s", "1m30s",
 * "0") into milliseconds.
 *
 * @param text the duration
 * @param what the flag or key, for the message
 * @returns milliseconds (may be fractional below 1 ms)
 * @throws {UsageError} saying what a valid duration looks like
 */
export function parseDurationMs(text: string, what: string): number {
  const s = text.trim();
  const bad = (): UsageError =>
    new UsageError(
      `Invalid ${what} ${
        JSON.stringify(text)
      }: use a duration like 500ms, 1s or 1m30s`,
    );
  if (s === "0") return 0;
  const m = /^([-+]?)((?:\d*\.?\d*[a-zµμ]+)+)$/.exec(s);
  if (!m) throw bad();
  let total = 0;
  const part = /(\d*\.?\d*)([a-zµμ]+)/g;
  for (const [, num, unit] of m[2].matchAll(part)) {
    const scale = UNIT_MS[unit];
    if (scale === undefined || num === "" || num === ".") throw bad();
    total += Number(num) * scale;
  }
  return m[1] === "-" ? -total : total;
}

/**
 * Format milliseconds the way Go prints a `time.Duration` ("1s", "1m30s",
 * "500ms").
 *
 * @param ms milliseconds
 * @returns Go's text for it
 */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h > 0 ? `${h}h` : ""}${h > 0 || m > 0 ? `${m}m` : ""}${s}s`;
}
