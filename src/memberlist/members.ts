/**
 * The member table (memberlist `nodes` + `nodeMap`, state.go): every known
 * node in *probe order* plus a name index, and the leaf operations on it —
 * random insertion, round-robin reset (reap + shuffle), random selection and
 * protocol verification.
 *
 * Bound: at most `maxMembers` entries. Past it, alive messages about new
 * names are dropped (counted by the caller); dead nodes are reaped after
 * `gossipToTheDeadTimeMs`, which makes room again. memberlist has no such
 * bound; without one a peer spamming alive messages with fresh names would
 * grow the table without limit.
 *
 * @module
 */

import { ipToString } from "../codec/messages.ts";
import type { Member, MemberState } from "../types.ts";
import { randomOffset } from "./formulas.ts";

/** Our mutable view of one node (memberlist `nodeState`). */
export interface NodeState {
  /** Node name. */
  readonly name: string;
  /** IP bytes (4 or 16). */
  addr: Uint8Array;
  /** Port. */
  port: number;
  /** Metadata. */
  meta: Uint8Array;
  /** Last known incarnation. */
  incarnation: number;
  /** Current state. */
  state: MemberState;
  /** When `state` last changed (our clock, ms). */
  stateChangeMs: number;
  /**
   * `[pmin, pmax, pcur, dmin, dmax, dcur]`, shared between entries with
   * the same versions (see {@linkcode vsnFromWire}): never mutate it.
   */
  vsn: Uint8Array;
}

/** A snapshot of `s` for users and delegates. */
export function toMember(s: NodeState): Member {
  return {
    name: s.name,
    addr: { host: ipToString(s.addr), port: s.port },
    meta: s.meta,
    incarnation: s.incarnation,
    state: s.state,
    stateChangeMs: s.stateChangeMs,
    vsn: vsnList(s.vsn),
  };
}

// A plain array of the version bytes (Array.from on a typed array goes
// through the iterator protocol, several times slower on V8).
function vsnList(vsn: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < vsn.length; i++) out.push(vsn[i]);
  return out;
}

/** Whether `s` is dead or left (memberlist `DeadOrLeft`). */
export function deadOrLeft(s: NodeState): boolean {
  return s.state === "dead" || s.state === "left";
}

// Interned version vectors and addresses. A table of n members holds n of
// each, and a simulator holds n tables: sharing one array per distinct
// value keeps a 10,000-member simulation in memory. Bounded: cleared when
// full (entries already handed out stay valid; they are only not shared).
const MAX_INTERNED = 65_536;
const vsnCache = new Map<number, Uint8Array>();
const ipCache = new Map<string | number, Uint8Array>();
const NO_VSN = new Uint8Array(6);

/**
 * Six version bytes from a wire Vsn, zeros when absent or short. The
 * result is shared with every entry of the same versions: read only.
 *
 * @param vsn the wire Vsn
 * @returns the interned six bytes
 */
export function vsnFromWire(vsn: Uint8Array): Uint8Array {
  if (vsn.length < 6) return NO_VSN;
  // Six bytes fit a double exactly (48 bits).
  const low = ((vsn[2] << 24) | (vsn[3] << 16) | (vsn[4] << 8) | vsn[5]) >>> 0;
  const key = (vsn[0] * 0x100 + vsn[1]) * 0x1_0000_0000 + low;
  let hit = vsnCache.get(key);
  if (hit === undefined) {
    if (vsnCache.size >= MAX_INTERNED) vsnCache.clear();
    hit = vsn.slice(0, 6);
    vsnCache.set(key, hit);
  }
  return hit;
}

/**
 * A shared copy of IP bytes (4 or 16; decoded bytes are views into the
 * host's packet buffer, so entries must not keep them): read only.
 *
 * @param ip the address bytes
 * @returns the interned copy
 */
export function internIp(ip: Uint8Array): Uint8Array {
  const key = ip.length === 4
    ? ((ip[0] << 24) | (ip[1] << 16) | (ip[2] << 8) | ip[3]) >>> 0
    : ip.join(".");
  let hit = ipCache.get(key);
  if (hit === undefined || hit.length !== ip.length) {
    if (ipCache.size >= MAX_INTERNED) ipCache.clear();
    hit = ip.slice();
    ipCache.set(key, hit);
  }
  return hit;
}

/**
 * Whether two byte strings are equal (monomorphic: Uint8Array only).
 *
 * @param a bytes
 * @param b bytes
 * @returns true when same length and content
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The member table in probe order, with a name index. */
export class MemberTable {
  readonly #maxMembers: number;
  #nodes: NodeState[] = [];
  readonly #byName = new Map<string, NodeState>();

  /**
   * An empty table.
   *
   * @param maxMembers bound of the table (see the module doc)
   */
  constructor(maxMembers: number) {
    this.#maxMembers = maxMembers;
  }

  /** Number of entries, dead ones included (memberlist `estNumNodes`). */
  get length(): number {
    return this.#nodes.length;
  }

  /** Whether a new name can still be added. */
  get hasRoom(): boolean {
    return this.#nodes.length < this.#maxMembers;
  }

  /** The entries in probe order (do not mutate the array). */
  get nodes(): readonly NodeState[] {
    return this.#nodes;
  }

  /**
   * The entry named `name`.
   *
   * @param name node name
   * @returns the entry or undefined
   */
  get(name: string): NodeState | undefined {
    return this.#byName.get(name);
  }

  /**
   * Add `s` at a random position of the probe order: appended, then swapped
   * with a random index, so a newcomer is probed within one round on average
   * (memberlist `aliveNode`: "failure detection bound is low on average").
   *
   * @param s the new entry (its name must be unknown)
   * @param prng randomness
   */
  insert(s: NodeState, prng: () => number): void {
    const nodes = this.#nodes;
    const n = nodes.length;
    const offset = randomOffset(n, prng);
    nodes.push(nodes[offset] ?? s);
    nodes[offset] = s;
    this.#byName.set(s.name, s);
  }

  /**
   * Start a new probe round (memberlist `resetNodes`): drop nodes dead for
   * longer than `gossipToTheDeadTimeMs` (0.2.2 reaps only Dead, Left nodes
   * stay, SPEC §6.2), then Fisher-Yates shuffle the rest.
   *
   * @param now current time
   * @param gossipToTheDeadTimeMs config value
   * @param prng randomness
   */
  reset(now: number, gossipToTheDeadTimeMs: number, prng: () => number): void {
    const kept: NodeState[] = [];
    for (const s of this.#nodes) {
      if (s.state === "dead" && now - s.stateChangeMs > gossipToTheDeadTimeMs) {
        this.#byName.delete(s.name);
      } else kept.push(s);
    }
    for (let i = kept.length - 1; i > 0; i--) {
      const j = randomOffset(i + 1, prng);
      [kept[i], kept[j]] = [kept[j], kept[i]];
    }
    this.#nodes = kept;
  }

  /**
   * Up to `k` distinct random nodes passing `keep`, trying at most 3n draws
   * (memberlist `kRandomNodes`: exhaustive enough for small n).
   *
   * @param k how many
   * @param keep filter
   * @param prng randomness
   * @returns the chosen nodes
   */
  randomNodes(
    k: number,
    keep: (s: NodeState) => boolean,
    prng: () => number,
  ): NodeState[] {
    const n = this.#nodes.length;
    const out: NodeState[] = [];
    for (let i = 0; i < 3 * n && out.length < k; i++) {
      const s = this.#nodes[randomOffset(n, prng)];
      if (!keep(s) || out.includes(s)) continue;
      out.push(s);
    }
    return out;
  }
}

/** One remote node state as verifyProtocol sees it. */
export interface VersionedState {
  /** Node name, for the error text. */
  readonly name: string;
  /** State code: 0 alive … 3 left. */
  readonly state: number;
  /** Wire Vsn (may be empty or short). */
  readonly vsn: Uint8Array;
}

/**
 * memberlist `verifyProtocol` (SPEC §5): every node's current protocol and
 * delegate versions must lie within the ranges all *alive* nodes (remote and
 * local) understand.
 *
 * @param remote the remote node states
 * @param local our table
 * @returns null when compatible, else memberlist's error text
 */
export function verifyProtocol(
  remote: readonly VersionedState[],
  local: readonly NodeState[],
): string | null {
  let maxpmin = 0, minpmax = 255, maxdmin = 0, mindmax = 255;
  const widen = (v: ArrayLike<number>): void => {
    maxpmin = Math.max(maxpmin, v[0] ?? 0);
    minpmax = Math.min(minpmax, v[1] ?? 0);
    maxdmin = Math.max(maxdmin, v[3] ?? 0);
    mindmax = Math.min(mindmax, v[4] ?? 0);
  };
  for (const r of remote) if (r.state === 0 && r.vsn.length > 0) widen(r.vsn);
  for (const n of local) if (n.state === "alive") widen(n.vsn);
  const check = (name: string, pcur: number, dcur: number): string | null => {
    if (pcur < maxpmin || pcur > minpmax) {
      return `Node '${name}' protocol version (${pcur}) is incompatible: [${maxpmin}, ${minpmax}]`;
    }
    if (dcur < maxdmin || dcur > mindmax) {
      return `Node '${name}' delegate protocol version (${dcur}) is incompatible: [${maxdmin}, ${mindmax}]`;
    }
    return null;
  };
  for (const r of remote) {
    const err = check(r.name, r.vsn[2] ?? 0, r.vsn[5] ?? 0);
    if (err !== null) return err;
  }
  for (const n of local) {
    const err = check(n.name, n.vsn[2], n.vsn[5]);
    if (err !== null) return err;
  }
  return null;
}
