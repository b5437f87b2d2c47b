/**
 * A small scenario language for the simulator, one command per line, so a
 * test (or a VOPR failure report) reads like the story it tells:
 *
 * ```text
 * start 5
 * join all
 * run 30s
 * partition a,b | c,d,e
 * run 40s
 * expect c dead on a,b
 * heal
 * crash c
 * pause b 3s
 * loss 20%
 * expect alive d on all within 10s
 * expect converged within 60s
 * ```
 *
 * Commands: `start N`; `join all [to S]`, `join X[,Y] [to S[,T]]`;
 * `run D`; `partition A | B [| C]` (unlisted members form one more group);
 * `heal`; `crash X`; `restart X [norejoin]`; `pause X [D]`; `resume X`;
 * `leave X`; `loss P%`; `dup P%`; `latency D`; `jitter D`;
 * `block X->Y`; `unblock X->Y`; `expect X STATE on LIST|all [within D]`
 * (also `expect STATE X on …`), STATE being alive, suspect, dead, left,
 * unknown (not in the table) or gone (dead, left or unknown);
 * `expect converged [within D]`; `expect no false positives`.
 * Durations: `500ms`, `3s`, `1.5s`, `2m`. `#` starts a comment.
 *
 * @module
 */

import type { Machine } from "../machine.ts";
import type { SimCluster } from "./sim_cluster.ts";
import { formatMs } from "./trace.ts";

/** Member states an expectation can name. */
export type ExpectedState =
  | "alive"
  | "suspect"
  | "dead"
  | "left"
  | "unknown"
  | "gone";

/** What a command does, with its arguments. */
export type ScenarioOp =
  | { readonly op: "start"; readonly count: number }
  | {
    readonly op: "join";
    readonly who: readonly string[] | "all";
    readonly to: readonly string[] | null;
  }
  | { readonly op: "run"; readonly ms: number }
  | {
    readonly op: "partition";
    readonly groups: readonly (readonly string[])[];
  }
  | { readonly op: "heal" }
  | { readonly op: "crash" | "resume" | "leave"; readonly who: string }
  | { readonly op: "restart"; readonly who: string; readonly rejoin: boolean }
  | { readonly op: "pause"; readonly who: string; readonly ms: number | null }
  | { readonly op: "loss" | "dup"; readonly rate: number }
  | { readonly op: "latency" | "jitter"; readonly ms: number }
  | {
    readonly op: "block" | "unblock";
    readonly from: string;
    readonly to: string;
  }
  | {
    readonly op: "expectState";
    readonly target: string;
    readonly state: ExpectedState;
    readonly on: readonly string[] | "all";
    readonly withinMs: number | null;
  }
  | { readonly op: "expectConverged"; readonly withinMs: number | null }
  | { readonly op: "expectNoFalsePositives" };

/** One parsed command. */
export type ScenarioCommand = ScenarioOp & {
  /** 1-based line number in the script. */
  readonly line: number;
  /** The line as written (trimmed, without comment). */
  readonly text: string;
};

/** A script that does not parse, or an expectation that failed. */
export class ScenarioError extends Error {
  /** 1-based line number. */
  readonly line: number;
  /**
   * An error at a line of the script.
   *
   * @param line 1-based line number
   * @param message what went wrong
   */
  constructor(line: number, message: string) {
    super(`Scenario line ${line}: ${message}`);
    this.name = "ScenarioError";
    this.line = line;
  }
}

const STATES: readonly ExpectedState[] = [
  "alive",
  "suspect",
  "dead",
  "left",
  "unknown",
  "gone",
];

/**
 * Parse a duration such as `500ms`, `3s`, `1.5s`, `2m`, `1h`.
 *
 * @param text the duration
 * @returns whole milliseconds
 * @throws {SyntaxError} when malformed
 */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (m === null) {
    throw new SyntaxError(
      `Invalid duration: ${JSON.stringify(text)} (use 500ms, 3s, 2m)`,
    );
  }
  const unit = {
    ms: 1,
    s: 1_000,
    m: 60_000,
    h: 3_600_000,
  }[m[2] as "ms" | "s" | "m" | "h"];
  return Math.round(Number(m[1]) * unit);
}

function parsePercent(text: string): number {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(text.trim());
  if (m === null) {
    throw new SyntaxError(
      `Invalid percentage: ${JSON.stringify(text)} (use 20%)`,
    );
  }
  const p = Number(m[1]) / 100;
  if (p > 1) throw new SyntaxError(`Invalid percentage: ${text} is above 100%`);
  return p;
}

function parseNames(text: string): string[] {
  const names = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (names.length === 0) {
    throw new SyntaxError(`Invalid member list: ${JSON.stringify(text)}`);
  }
  for (const n of names) {
    if (!/^[A-Za-z0-9_.-]+$/.test(n)) {
      throw new SyntaxError(`Invalid member name: ${JSON.stringify(n)}`);
    }
  }
  return names;
}

function parseLink(text: string): { from: string; to: string } {
  const m = /^([A-Za-z0-9_.-]+)\s*->\s*([A-Za-z0-9_.-]+)$/.exec(text.trim());
  if (m === null) {
    throw new SyntaxError(`Invalid link: ${JSON.stringify(text)} (use a->b)`);
  }
  return { from: m[1], to: m[2] };
}

// Split "… within D" off an expectation.
function splitWithin(rest: string): { body: string; withinMs: number | null } {
  const m = /^(.*?)\s+within\s+(\S+)$/.exec(rest);
  if (m === null) return { body: rest, withinMs: null };
  return { body: m[1], withinMs: parseDuration(m[2]) };
}

function parseExpect(rest: string): ScenarioOp {
  const { body, withinMs } = splitWithin(rest.trim());
  if (body === "converged") return { op: "expectConverged", withinMs };
  if (body === "no false positives") return { op: "expectNoFalsePositives" };
  const m = /^(\S+)\s+(\S+)\s+on\s+(.+)$/.exec(body);
  if (m === null) {
    throw new SyntaxError(
      `Invalid expectation: ${
        JSON.stringify(rest)
      } (use "expect c dead on a,b")`,
    );
  }
  let [target, state] = [m[1], m[2]];
  if (STATES.includes(target as ExpectedState)) {
    [target, state] = [state, target];
  }
  if (!STATES.includes(state as ExpectedState)) {
    throw new SyntaxError(
      `Invalid state: ${JSON.stringify(state)} (use ${STATES.join(", ")})`,
    );
  }
  const on = m[3].trim() === "all" ? "all" : parseNames(m[3]);
  return {
    op: "expectState",
    target: parseNames(target)[0],
    state: state as ExpectedState,
    on,
    withinMs,
  };
}

function parseLine(line: string): ScenarioOp {
  const sp = line.indexOf(" ");
  const word = sp < 0 ? line : line.slice(0, sp);
  const rest = sp < 0 ? "" : line.slice(sp + 1).trim();
  const one = (): string => {
    const names = parseNames(rest);
    if (names.length !== 1) {
      throw new SyntaxError(`Invalid command: ${word} takes one member`);
    }
    return names[0];
  };
  switch (word) {
    case "start": {
      const count = Number(rest);
      if (!Number.isInteger(count) || count < 1) {
        throw new SyntaxError(`Invalid count: ${JSON.stringify(rest)}`);
      }
      return { op: "start", count };
    }
    case "join": {
      const m = /^(.+?)(?:\s+to\s+(.+))?$/.exec(rest);
      if (m === null || rest === "") {
        throw new SyntaxError('Invalid join: use "join all" or "join c to a"');
      }
      const who = m[1].trim() === "all" ? "all" : parseNames(m[1]);
      return {
        op: "join",
        who,
        to: m[2] === undefined ? null : parseNames(m[2]),
      };
    }
    case "run":
      return { op: "run", ms: parseDuration(rest) };
    case "partition": {
      const groups = rest.split("|").map(parseNames);
      if (groups.length < 1) {
        throw new SyntaxError('Invalid partition: use "partition a,b | c,d"');
      }
      return { op: "partition", groups };
    }
    case "heal":
      return { op: "heal" };
    case "crash":
    case "resume":
    case "leave":
      return { op: word, who: one() };
    case "restart": {
      const parts = rest.split(/\s+/);
      const rejoin = parts[1] !== "norejoin";
      if (parts.length > 2 || (parts.length === 2 && rejoin)) {
        throw new SyntaxError(
          'Invalid restart: use "restart c" or "restart c norejoin"',
        );
      }
      return { op: "restart", who: parseNames(parts[0])[0], rejoin };
    }
    case "pause": {
      const parts = rest.split(/\s+/);
      return {
        op: "pause",
        who: parseNames(parts[0])[0],
        ms: parts.length > 1 ? parseDuration(parts[1]) : null,
      };
    }
    case "loss":
    case "dup":
      return { op: word, rate: parsePercent(rest) };
    case "latency":
    case "jitter":
      return { op: word, ms: parseDuration(rest) };
    case "block":
    case "unblock":
      return { op: word, ...parseLink(rest) };
    case "expect":
      return parseExpect(rest);
  }
  throw new SyntaxError(`Unknown command: ${JSON.stringify(word)}`);
}

/**
 * Parse a script.
 *
 * @param script the text
 * @returns its commands
 * @throws {ScenarioError} naming the first bad line
 */
export function parseScenario(script: string): ScenarioCommand[] {
  const out: ScenarioCommand[] = [];
  script.split("\n").forEach((raw, i) => {
    const hash = raw.indexOf("#");
    const text = (hash < 0 ? raw : raw.slice(0, hash)).trim().replace(
      /\s+/g,
      " ",
    );
    if (text === "") return;
    try {
      out.push({ line: i + 1, text, ...parseLine(text) } as ScenarioCommand);
    } catch (e) {
      throw new ScenarioError(
        i + 1,
        e instanceof Error ? e.message : String(e),
      );
    }
  });
  return out;
}

/** Options of {@linkcode runScenario}. */
export interface RunScenarioOptions {
  /** How often `within` expectations are re-checked (virtual ms, default 100). */
  pollMs?: number;
  /** Called before each command (progress, logging). */
  onCommand?: (command: ScenarioCommand, nowMs: number) => void;
}

/**
 * Run a script on a cluster (normally empty: `start N` adds the members).
 * An unmet expectation throws a {@linkcode ScenarioError} with what each
 * observer saw; an invariant violation throws the cluster's
 * `SimulationError`.
 *
 * @param cluster the cluster
 * @param script text or parsed commands
 * @param options polling and progress
 * @example
 * ```ts
 * const c = memberlistCluster({ seed: 1 });
 * runScenario(c, "start 3\njoin all\nrun 5s\ncrash c\nexpect c dead on a,b within 20s");
 * ```
 */
export function runScenario<M extends Machine<E>, E>(
  cluster: SimCluster<M, E>,
  script: string | readonly ScenarioCommand[],
  options: RunScenarioOptions = {},
): void {
  const commands = typeof script === "string" ? parseScenario(script) : script;
  for (const cmd of commands) {
    options.onCommand?.(cmd, cluster.nowMs);
    try {
      execute(cluster, cmd, options.pollMs ?? 100);
    } catch (e) {
      if (e instanceof RangeError || e instanceof TypeError) {
        throw new ScenarioError(cmd.line, `${cmd.text}: ${e.message}`);
      }
      throw e;
    }
  }
  cluster.finish();
}

function execute<M extends Machine<E>, E>(
  c: SimCluster<M, E>,
  cmd: ScenarioCommand,
  pollMs: number,
): void {
  switch (cmd.op) {
    case "start":
      c.start(cmd.count);
      return;
    case "join": {
      const running = c.running();
      const seeds = cmd.to ?? [running[0]];
      const who = cmd.who === "all"
        ? running.filter((n) => !seeds.includes(n))
        : cmd.who;
      for (const n of who) c.join(n, seeds.filter((s) => s !== n));
      return;
    }
    case "run":
      return c.run(cmd.ms);
    case "partition":
      return c.partition(cmd.groups);
    case "heal":
      return c.heal();
    case "crash":
      return c.crash(cmd.who);
    case "resume":
      return c.resume(cmd.who);
    case "leave":
      return c.leave(cmd.who);
    case "restart":
      return c.restart(cmd.who, { rejoin: cmd.rejoin });
    case "pause":
      return c.pause(cmd.who, cmd.ms ?? undefined);
    case "loss":
      return c.setLink({ lossRate: cmd.rate });
    case "dup":
      return c.setLink({ duplicateRate: cmd.rate });
    case "latency":
      return c.setLink({ latencyMs: cmd.ms });
    case "jitter":
      return c.setLink({ jitterMs: cmd.ms });
    case "block":
    case "unblock":
      return c.block(cmd.from, cmd.to, cmd.op === "block");
    case "expectState":
    case "expectConverged":
      return expectEventually(c, cmd, pollMs);
    case "expectNoFalsePositives":
      if (c.falsePositiveCount > 0) {
        const list = c.falsePositives.slice(0, 10).map((f) =>
          `${f.observer} declared ${f.target} dead at ${formatMs(f.timeMs)}`
        );
        throw new ScenarioError(
          cmd.line,
          `${c.falsePositiveCount} false positives: ${list.join("; ")}`,
        );
      }
      return;
  }
}

function expectEventually<M extends Machine<E>, E>(
  c: SimCluster<M, E>,
  cmd: Extract<ScenarioCommand, { op: "expectState" | "expectConverged" }>,
  pollMs: number,
): void {
  const problems = (): string[] =>
    cmd.op === "expectConverged" ? c.convergence() : stateProblems(c, cmd);
  let found = problems();
  if (found.length > 0 && cmd.withinMs !== null) {
    const elapsed = c.runUntil(
      () => (found = problems()).length === 0,
      cmd.withinMs,
      pollMs,
    );
    if (elapsed !== null) return;
  }
  if (found.length > 0) {
    const when = cmd.withinMs === null ? "" : ` within ${cmd.withinMs} ms`;
    throw new ScenarioError(
      cmd.line,
      `${cmd.text}: not met${when} at ${formatMs(c.nowMs)}: ${
        found.slice(0, 10).join("; ")
      }`,
    );
  }
}

function stateProblems<M extends Machine<E>, E>(
  c: SimCluster<M, E>,
  cmd: Extract<ScenarioCommand, { op: "expectState" }>,
): string[] {
  const observers = cmd.on === "all"
    ? c.running().filter((n) => n !== cmd.target && c.status(n) === "up")
    : cmd.on;
  const out: string[] = [];
  for (const o of observers) {
    if (c.machine(o) === null) {
      out.push(`${o} is not running`);
      continue;
    }
    const state = c.viewOf(o, cmd.target)?.state ?? "unknown";
    const ok = cmd.state === "gone"
      ? state === "dead" || state === "left" || state === "unknown"
      : state === cmd.state;
    if (!ok) out.push(`${o} sees ${cmd.target} ${state}`);
  }
  return out;
}
