/**
 * Serf's queries (query.go, serf.go `handleQuery`, `handleQueryResponse`,
 * `shouldProcessQuery`, `relayResponse`; SPEC §8.7): the dedupe ring, the
 * filters, the default timeout, relay selection and the bookkeeping of our
 * own outstanding queries.
 *
 * Bounds: the dedupe ring has `queryBuffer` (512) slots of at most
 * {@linkcode MAX_QUERY_IDS_PER_SLOT} ids (past it a new id at that time is
 * dropped); an outstanding query records at most
 * {@linkcode MAX_QUERY_RESPONDERS} distinct acks and responses (Serf's
 * response channel holds `NumMembers()` entries and drops the rest with
 * "Failed to deliver query response, dropping").
 *
 * @module
 */

import {
  decodeFilter,
  encodeNodeFilter,
  encodeTagFilter,
  QueryFlag,
  type QueryResponseMessage,
} from "../codec/serf_messages.ts";
import { goMatchString } from "./go_regexp.ts";

/** Most query ids kept per Lamport time (see the module doc). */
export const MAX_QUERY_IDS_PER_SLOT = 128;
/** Most distinct responders recorded per outstanding query. */
export const MAX_QUERY_RESPONDERS = 65_536;
/** The prefix of Serf's internal query names (serf `InternalQueryPrefix`). */
export const INTERNAL_QUERY_PREFIX = "_serf_";

/** Options of a query (serf `QueryParam`). */
export interface QueryParams {
  /** Only these nodes process it (a node filter). */
  filterNodes?: readonly string[];
  /** Only nodes whose tags match these Go regexps (one tag filter each). */
  filterTags?: ReadonlyMap<string, string>;
  /** Ask each processing node for an ack. */
  requestAck?: boolean;
  /** Relay each response through this many extra members (0..255). */
  relayFactor?: number;
  /** How long to collect responses; 0 or absent = the default timeout. */
  timeoutMs?: number;
}

/**
 * Serf's default query timeout (serf `DefaultQueryTimeout`):
 * `gossipInterval × queryTimeoutMult × ceil(log10(n + 1))`, e.g. 3.2 s for
 * 2..9 members on a LAN.
 *
 * @param gossipIntervalMs memberlist `gossipIntervalMs`
 * @param queryTimeoutMult config `queryTimeoutMult`
 * @param numMembers alive members (memberlist `NumMembers`)
 * @returns the timeout in ms
 */
export function defaultQueryTimeoutMs(
  gossipIntervalMs: number,
  queryTimeoutMult: number,
  numMembers: number,
): number {
  return gossipIntervalMs * queryTimeoutMult *
    Math.ceil(Math.log10(numMembers + 1));
}

/**
 * Encode query filters as Serf does (`QueryParam.encodeFilters`): the node
 * filter first, then one tag filter per tag; `null` (Go's nil, `c0` on the
 * wire) when there are none.
 *
 * @param params the query options
 * @returns the raw filter entries, or null
 */
export function encodeQueryFilters(params: QueryParams): Uint8Array[] | null {
  const out: Uint8Array[] = [];
  if (params.filterNodes !== undefined && params.filterNodes.length > 0) {
    out.push(encodeNodeFilter(params.filterNodes));
  }
  for (const [tag, expr] of params.filterTags ?? []) {
    out.push(encodeTagFilter(tag, expr));
  }
  return out.length === 0 ? null : out;
}

/** Whether a node processes a query, and why not. */
export interface FilterVerdict {
  /** True when every filter matches. */
  readonly process: boolean;
  /** Serf's warning when a filter could not be read or compiled. */
  readonly warning: string | null;
}

/**
 * Serf's `shouldProcessQuery`: every filter must match — our name is in
 * the node filter; each tag filter's Go regexp matches our tag value
 * (unanchored; a missing tag is ""). A filter that cannot be decoded or
 * compiled, or of an unknown type, means "not processed".
 *
 * @param filters the query's raw filters (null = none)
 * @param nodeName our name
 * @param tags our configured tags
 * @returns the verdict
 */
export function shouldProcessQuery(
  filters: readonly Uint8Array[] | null,
  nodeName: string,
  tags: ReadonlyMap<string, string>,
): FilterVerdict {
  for (const raw of filters ?? []) {
    let f;
    try {
      f = decodeFilter(raw);
    } catch (e) {
      const type = raw[0] === 0 ? "filterNodeType" : "filterTagType";
      return {
        process: false,
        warning: `failed to decode ${type}: ${(e as Error).message}`,
      };
    }
    switch (f.type) {
      case "node":
        if (!f.nodes.includes(nodeName)) {
          return { process: false, warning: null };
        }
        break;
      case "tag": {
        const m = goMatchString(f.expr, tags.get(f.tag) ?? "");
        if (typeof m === "string") {
          return {
            process: false,
            warning: `failed to compile filter regex (${f.expr}): ${m}`,
          };
        }
        if (!m) return { process: false, warning: null };
        break;
      }
      case "unknown":
        return {
          process: false,
          warning: `query has unrecognized filter type: ${f.filterType}`,
        };
    }
  }
  return { process: true, warning: null };
}

/** Why {@linkcode QueryBuffer.accept} took or refused a query. */
export type QueryVerdict =
  | "new"
  | "duplicate"
  | "beforeMinTime"
  | "tooOld"
  | "slotFull";

/** The query dedupe ring (serf `queryBuffer`) with its age rules. */
export class QueryBuffer {
  readonly #slots: ({ ltime: number; ids: number[] } | null)[];
  /** Queries below this time are dropped (serf `queryMinTime`). */
  minTime = 0;

  /**
   * @param size number of slots (config `queryBuffer`, 512)
   */
  constructor(size: number) {
    this.#slots = new Array(size).fill(null);
  }

  /**
   * Judge a query after its time was witnessed; a "new" one is recorded.
   *
   * @param ltime the query's time
   * @param id the query's random id
   * @param currentTime the query clock after witnessing `ltime`
   * @returns the verdict; only "new" is processed and re-broadcast
   */
  accept(ltime: number, id: number, currentTime: number): QueryVerdict {
    if (ltime < this.minTime) return "beforeMinTime";
    const n = this.#slots.length;
    if (currentTime > n && ltime < currentTime - n) return "tooOld";
    const idx = ltime % n;
    let slot = this.#slots[idx];
    if (slot !== null && slot.ltime === ltime) {
      if (slot.ids.includes(id)) return "duplicate";
      if (slot.ids.length >= MAX_QUERY_IDS_PER_SLOT) return "slotFull";
    } else {
      slot = { ltime, ids: [] };
      this.#slots[idx] = slot;
    }
    slot.ids.push(id);
    return "new";
  }
}

/** What Serf does with one of our queries (who consumes its responses). */
export type QueryOwner =
  | { readonly kind: "user" }
  | { readonly kind: "key"; readonly opId: number }
  | { readonly kind: "conflict" };

/** Our own query, collecting acks and responses (serf `QueryResponse`). */
export class OutstandingQuery {
  /** Local id returned by `Serf.query`. */
  readonly queryId: number;
  /** Its query-clock time (responses are matched by it). */
  readonly ltime: number;
  /** Its random wire id. */
  readonly id: number;
  /** When it closes (our clock). */
  readonly deadlineMs: number;
  /** Whether acks were requested. */
  readonly ackRequested: boolean;
  /** Who consumes the responses. */
  readonly owner: QueryOwner;
  /** Alive members when it started (serf's channel capacity). */
  readonly numNodes: number;
  readonly #acks = new Set<string>();
  readonly #responses = new Set<string>();

  /**
   * @param init the query's identity, deadline and owner
   */
  constructor(init: {
    queryId: number;
    ltime: number;
    id: number;
    deadlineMs: number;
    ackRequested: boolean;
    owner: QueryOwner;
    numNodes: number;
  }) {
    this.queryId = init.queryId;
    this.ltime = init.ltime;
    this.id = init.id;
    this.deadlineMs = init.deadlineMs;
    this.ackRequested = init.ackRequested;
    this.owner = init.owner;
    this.numNodes = init.numNodes;
  }

  /** Distinct members that acked. */
  get acks(): number {
    return this.#acks.size;
  }

  /** Distinct members that answered. */
  get responses(): number {
    return this.#responses.size;
  }

  /**
   * Record a response or ack (serf `handleQueryResponse`, after the LTime
   * lookup): the id must match, and each member counts once per kind.
   *
   * @param r the response
   * @returns "ack" or "response" when new, else why it is dropped
   */
  record(
    r: QueryResponseMessage,
  ): "ack" | "response" | "duplicate" | "mismatch" | "overflow" {
    if (r.id !== this.id) return "mismatch";
    const isAck = (r.flags & QueryFlag.ack) !== 0;
    // Serf only keeps an ack set when it asked for acks; others are
    // dropped as duplicates of nothing.
    if (isAck && !this.ackRequested) return "duplicate";
    const set = isAck ? this.#acks : this.#responses;
    if (set.has(r.from)) return "duplicate";
    if (set.size >= MAX_QUERY_RESPONDERS) return "overflow";
    set.add(r.from);
    return isAck ? "ack" : "response";
  }
}

/**
 * Serf's `kRandomMembers`: up to `k` distinct members, drawn at random
 * (at most 3n draws, so small lists are searched exhaustively), skipping
 * those `exclude` rejects.
 *
 * @param k how many
 * @param members candidates
 * @param exclude true to skip a member
 * @param prng uniform numbers in [0, 1)
 * @returns the chosen members
 */
export function kRandomMembers<T extends { readonly name: string }>(
  k: number,
  members: readonly T[],
  exclude: (m: T) => boolean,
  prng: () => number,
): T[] {
  const n = members.length;
  const out: T[] = [];
  for (let i = 0; i < 3 * n && out.length < k; i++) {
    const m = members[Math.min(n - 1, Math.floor(prng() * n))];
    if (exclude(m)) continue;
    if (out.some((o) => o.name === m.name)) continue;
    out.push(m);
  }
  return out;
}
