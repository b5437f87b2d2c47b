/**
 * The pure half of Serf's snapshotter (snapshot.go): its text record
 * format, replay, compaction and the records Serf appends as it runs. The
 * file I/O (append, fsync, atomic rewrite) is the host's; the machine only
 * produces text.
 *
 * Records, one per line:
 * ```
 * alive: <name> <ip:port>     a member joined ("[v6]:port" for IPv6)
 * not-alive: <name>           it left or failed
 * clock: <n>                  member clock − 1 (written when it moved)
 * event-clock: <n>            last user event time seen
 * query-clock: <n>            last query time seen
 * coordinate: <json>          our Vivaldi coordinate, Go json.Marshal form
 * leave                       we left gracefully (forget the rest unless
 *                             rejoinAfterLeave)
 * # anything                  comment
 * ```
 * At restart Serf witnesses the three clocks, refuses events and queries at
 * or below the recorded times (dedupe across restarts), restores the
 * coordinate, and re-joins the alive members one by one.
 *
 * Bound: the log is compacted (rewritten as the live state) once it grows
 * past max(alive members × 128 B × 2, 128 KiB), as Serf does.
 *
 * @module
 */

import type { Address } from "../machine.ts";
import type { Coordinate } from "../codec/coordinate.ts";
import { ipFromString } from "../codec/messages.ts";
import type { MemberEvent } from "./events.ts";

/** Serf's smallest compaction threshold (`snapshotSizeLimit`, 128 KiB). */
export const SNAPSHOT_MIN_COMPACT_BYTES = 128 * 1024;
/** Serf's per-member size estimate (`snapshotBytesPerNode`). */
export const SNAPSHOT_BYTES_PER_NODE = 128;
/** Serf's growth factor before compaction (`snapshotCompactionThreshold`). */
export const SNAPSHOT_COMPACTION_THRESHOLD = 2;
/** How often the member clock is recorded (`clockUpdateInterval`). */
export const SNAPSHOT_CLOCK_INTERVAL_MS = 500;
/** How often the coordinate is recorded (`coordinateUpdateInterval`). */
export const SNAPSHOT_COORDINATE_INTERVAL_MS = 60_000;

/** What a snapshot remembers. */
export interface SnapshotState {
  /** Members last seen alive: name → "ip:port". */
  aliveNodes: Map<string, string>;
  /** Member clock − 1 at the last record. */
  lastClock: number;
  /** Newest user-event time recorded. */
  lastEventClock: number;
  /** Newest query time recorded. */
  lastQueryClock: number;
  /** Our last recorded coordinate. */
  lastCoordinate: Coordinate | null;
  /** Bytes of the log this state was read from (the append offset). */
  sizeBytes: number;
}

/** A state with nothing in it (a first start). */
export function emptySnapshotState(): SnapshotState {
  return {
    aliveNodes: new Map(),
    lastClock: 0,
    lastEventClock: 0,
    lastQueryClock: 0,
    lastCoordinate: null,
    sizeBytes: 0,
  };
}

function jsonNumber(x: number): string {
  // Go writes -0 as "-0"; otherwise Go's float format (shortest
  // round-trip, exponent below 1e-6 and from 1e21, "e-7" not "e-07") is
  // exactly JSON.stringify's.
  return Object.is(x, -0) ? "-0" : JSON.stringify(x);
}

/**
 * A coordinate as Go's `json.Marshal` writes it (field order Vec, Error,
 * Adjustment, Height).
 *
 * @param c the coordinate
 * @returns the JSON text
 */
export function encodeCoordinateJson(c: Coordinate): string {
  return `{"Vec":[${c.vec.map(jsonNumber).join(",")}],"Error":${
    jsonNumber(c.error)
  },"Adjustment":${jsonNumber(c.adjustment)},"Height":${jsonNumber(c.height)}}`;
}

/**
 * Parse a coordinate written by {@linkcode encodeCoordinateJson} (or by
 * Go; field names match case-insensitively, as Go's decoder does).
 *
 * @param text the JSON
 * @returns the coordinate, or the reason it is unreadable
 */
export function decodeCoordinateJson(text: string): Coordinate | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return "json: cannot unmarshal into Coordinate";
  }
  const c: Coordinate = { vec: [], error: 0, adjustment: 0, height: 0 };
  for (const [k, v] of Object.entries(raw)) {
    const key = k.toLowerCase();
    if (key === "vec") {
      if (
        v !== null &&
        (!Array.isArray(v) || !v.every((x) => typeof x === "number"))
      ) {
        return "json: cannot unmarshal Vec";
      }
      c.vec = v === null ? [] : [...v];
    } else if (key === "error" || key === "adjustment" || key === "height") {
      if (typeof v !== "number") return `json: cannot unmarshal ${k}`;
      c[key] = v;
    }
  }
  return c;
}

/**
 * Parse a snapshot address ("ip:port" or "[v6]:port").
 *
 * @param text the address
 * @returns the address, or null when it is not an IP literal and port
 */
export function parseSnapshotAddress(text: string): Address | null {
  const i = text.lastIndexOf(":");
  if (i < 0) return null;
  let host = text.slice(0, i);
  const port = Number(text.slice(i + 1));
  if (
    !Number.isInteger(port) || port < 0 || port > 65535 ||
    text.slice(i + 1) === ""
  ) return null;
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  else if (host.includes(":")) return null;
  return ipFromString(host) === null ? null : { host, port };
}

/**
 * Format an address as Go's `net.TCPAddr.String()` does.
 *
 * @param a the address
 * @returns "ip:port", or "[v6]:port"
 */
export function formatSnapshotAddress(a: Address): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * Replay a snapshot log (serf `Snapshotter.replay`). Unreadable lines are
 * skipped with a warning, as Serf does.
 *
 * @param text the whole file
 * @param options `rejoinAfterLeave`: ignore a recorded leave
 * @returns the state and Serf's warnings
 */
export function replaySnapshot(
  text: string,
  options: { rejoinAfterLeave?: boolean } = {},
): { state: SnapshotState; warnings: string[] } {
  const s = emptySnapshotState();
  const warnings: string[] = [];
  s.sizeBytes = new TextEncoder().encode(text).length;
  const clock = (line: string, prefix: string): number | null => {
    const t = line.slice(prefix.length);
    if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) {
      warnings.push(`Failed to convert ${prefix.slice(0, -2)} time: ${t}`);
      return null;
    }
    return Number(t);
  };
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("alive: ")) {
      const info = line.slice(7);
      const sp = info.lastIndexOf(" ");
      if (sp < 0) {
        warnings.push(`Failed to parse address: ${line}`);
        continue;
      }
      s.aliveNodes.set(info.slice(0, sp), info.slice(sp + 1));
    } else if (line.startsWith("not-alive: ")) {
      s.aliveNodes.delete(line.slice(11));
    } else if (line.startsWith("clock: ")) {
      s.lastClock = clock(line, "clock: ") ?? s.lastClock;
    } else if (line.startsWith("event-clock: ")) {
      s.lastEventClock = clock(line, "event-clock: ") ?? s.lastEventClock;
    } else if (line.startsWith("query-clock: ")) {
      s.lastQueryClock = clock(line, "query-clock: ") ?? s.lastQueryClock;
    } else if (line.startsWith("coordinate: ")) {
      const c = decodeCoordinateJson(line.slice(12));
      if (typeof c === "string") {
        warnings.push(`Failed to decode coordinate: ${c}`);
      } else s.lastCoordinate = c;
    } else if (line === "leave") {
      if (options.rejoinAfterLeave) {
        warnings.push("Ignoring previous leave in snapshot");
        continue;
      }
      s.aliveNodes = new Map();
      s.lastClock = 0;
      s.lastEventClock = 0;
      s.lastQueryClock = 0;
    } else if (!line.startsWith("#")) {
      warnings.push(`Unrecognized snapshot line: ${line}`);
    }
  }
  return { state: s, warnings };
}

/**
 * The compacted log of a state (serf `compact`): alive members (sorted by
 * name here; Go's map order is random), then the three clocks and the
 * coordinate.
 *
 * @param s the state
 * @returns the new file content
 */
export function compactSnapshot(s: SnapshotState): string {
  let out = "";
  for (const name of [...s.aliveNodes.keys()].sort()) {
    out += `alive: ${name} ${s.aliveNodes.get(name)}\n`;
  }
  out += `clock: ${s.lastClock}\n`;
  out += `event-clock: ${s.lastEventClock}\n`;
  out += `query-clock: ${s.lastQueryClock}\n`;
  if (s.lastCoordinate !== null) {
    out += `coordinate: ${encodeCoordinateJson(s.lastCoordinate)}\n`;
  }
  return out;
}

/** A member to re-join at restart. */
export interface RejoinTarget {
  /** Its name. */
  readonly name: string;
  /** The recorded address text. */
  readonly text: string;
  /** The parsed address, or null when it is not "ip:port". */
  readonly addr: Address | null;
}

/**
 * The members to re-join at restart (serf `AliveNodes` + `handleRejoin`):
 * every recorded alive member but ourselves, in random order (Serf
 * shuffles "to prevent hot shards"); tried one at a time until one answers.
 *
 * @param state the replayed state
 * @param selfName our name (skipped)
 * @param prng shuffle randomness (omit to keep name order)
 * @returns the targets
 */
export function rejoinAddresses(
  state: SnapshotState,
  selfName = "",
  prng?: () => number,
): RejoinTarget[] {
  const out: RejoinTarget[] = [];
  for (const name of [...state.aliveNodes.keys()].sort()) {
    if (name === selfName) continue;
    const text = state.aliveNodes.get(name) ?? "";
    out.push({ name, text, addr: parseSnapshotAddress(text) });
  }
  if (prng !== undefined) {
    // Serf's in-place shuffle: j = rand.Intn(i + 1).
    for (let i = 0; i < out.length; i++) {
      const j = Math.min(i, Math.floor(prng() * (i + 1)));
      [out[i], out[j]] = [out[j], out[i]];
    }
  }
  return out;
}

/**
 * The records Serf appends while it runs (serf `Snapshotter.stream`),
 * tracking the live state so it can compact.
 */
export class SnapshotRecorder {
  readonly #state: SnapshotState;
  readonly #rejoinAfterLeave: boolean;
  #leaving = false;
  #offset: number;

  /**
   * Record on top of a replayed state.
   *
   * @param restored the state replayed at start (copied)
   * @param options `rejoinAfterLeave` as configured
   */
  constructor(restored: SnapshotState, options: { rejoinAfterLeave: boolean }) {
    this.#state = {
      ...restored,
      aliveNodes: new Map(restored.aliveNodes),
    };
    this.#rejoinAfterLeave = options.rejoinAfterLeave;
    this.#offset = restored.sizeBytes;
  }

  /** Bytes in the log (since the last compaction). */
  get offsetBytes(): number {
    return this.#offset;
  }

  /** A copy of the live state. */
  state(): SnapshotState {
    return {
      ...this.#state,
      aliveNodes: new Map(this.#state.aliveNodes),
      sizeBytes: this.#offset,
    };
  }

  /**
   * Record a member event (serf `processMemberEvent`, then `updateClock`).
   *
   * @param e the event
   * @param memberClock the member clock now
   * @returns lines to append ("" when none)
   */
  memberEvent(e: MemberEvent, memberClock: number): string {
    if (this.#leaving) return "";
    let out = "";
    if (e.type === "memberJoin") {
      for (const m of e.members) {
        const addr = formatSnapshotAddress(m.addr);
        this.#state.aliveNodes.set(m.name, addr);
        out += `alive: ${m.name} ${addr}\n`;
      }
    } else if (e.type === "memberLeave" || e.type === "memberFailed") {
      for (const m of e.members) {
        this.#state.aliveNodes.delete(m.name);
        out += `not-alive: ${m.name}\n`;
      }
    }
    return this.#count(out + this.clock(memberClock, true));
  }

  /**
   * Record a user event's time if newer (serf `processUserEvent`).
   *
   * @param ltime the event time
   * @returns lines to append
   */
  userEvent(ltime: number): string {
    if (this.#leaving || ltime <= this.#state.lastEventClock) return "";
    this.#state.lastEventClock = ltime;
    return this.#count(`event-clock: ${ltime}\n`);
  }

  /**
   * Record a query's time if newer (serf `processQuery`).
   *
   * @param ltime the query time
   * @returns lines to append
   */
  query(ltime: number): string {
    if (this.#leaving || ltime <= this.#state.lastQueryClock) return "";
    this.#state.lastQueryClock = ltime;
    return this.#count(`query-clock: ${ltime}\n`);
  }

  /**
   * Record the member clock if it moved (serf `updateClock`: the last
   * time seen is the clock − 1).
   *
   * @param memberClock the member clock now
   * @param uncounted internal: the caller counts the bytes
   * @returns lines to append
   */
  clock(memberClock: number, uncounted = false): string {
    const lastSeen = memberClock - 1;
    if (lastSeen <= this.#state.lastClock) return "";
    this.#state.lastClock = lastSeen;
    const line = `clock: ${lastSeen}\n`;
    return uncounted ? line : this.#count(line);
  }

  /**
   * Record our coordinate if it changed (serf `updateCoordinate`).
   *
   * @param c our coordinate
   * @returns lines to append
   */
  coordinate(c: Coordinate): string {
    const last = this.#state.lastCoordinate;
    if (
      last !== null && encodeCoordinateJson(last) === encodeCoordinateJson(c)
    ) return "";
    this.#state.lastCoordinate = { ...c, vec: [...c.vec] };
    return this.#count(`coordinate: ${encodeCoordinateJson(c)}\n`);
  }

  /**
   * Record our graceful leave (serf `Snapshotter.Leave`); later member,
   * event and query records are not written.
   *
   * @returns lines to append
   */
  leave(): string {
    this.#leaving = true;
    if (!this.#rejoinAfterLeave) this.#state.aliveNodes = new Map();
    return this.#count("leave\n");
  }

  /** The size past which the log is compacted (serf `snapshotMaxSize`). */
  maxSizeBytes(): number {
    const est = this.#state.aliveNodes.size * SNAPSHOT_BYTES_PER_NODE *
      SNAPSHOT_COMPACTION_THRESHOLD;
    return Math.max(est, SNAPSHOT_MIN_COMPACT_BYTES);
  }

  /**
   * If the log outgrew {@linkcode maxSizeBytes}, the compacted content to
   * write in its place.
   *
   * @returns the new file content, or null
   */
  compactIfNeeded(): string | null {
    if (this.#offset <= this.maxSizeBytes()) return null;
    const text = compactSnapshot(this.#state);
    this.#offset = new TextEncoder().encode(text).length;
    return text;
  }

  #count(text: string): string {
    this.#offset += new TextEncoder().encode(text).length;
    return text;
  }
}
