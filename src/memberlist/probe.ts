/**
 * Failure detection bookkeeping (SWIM §4 + Lifeguard; memberlist state.go
 * `probe`, `probeNode`, net.go `handleIndirectPing`, SPEC §6.2): the
 * round-robin target choice, the one probe in flight, and the indirect
 * probes we relay for others. The machine drives the sends and deadlines.
 *
 * @module
 */

import type { Address } from "../machine.ts";
import type { Ping } from "../codec/messages.ts";
import { deadOrLeft, type MemberTable, type NodeState } from "./members.ts";

/** The probe in flight (memberlist probes one node at a time). */
export interface ProbeRun {
  /** Our sequence number for this probe (shared by relayed acks). */
  readonly seqNo: number;
  /** Target name. */
  readonly target: string;
  /** Target incarnation when the probe started (used to suspect it). */
  readonly incarnation: number;
  /** When the ping was sent (RTT origin). */
  readonly startMs: number;
  /** Probe interval scaled by local health: the probe's total budget. */
  readonly intervalMs: number;
  /** `direct` until ProbeTimeout, then `indirect`. */
  phase: "direct" | "indirect";
  /** Relays asked for a nack (peers with PMax ≥ 4). */
  expectedNacks: number;
  /** Nacks received (at most indirectChecks + 1, memberlist's channel size). */
  nacks: number;
  /** The ping sent (the TCP fallback resends it as is). */
  readonly ping: Ping;
  /** TCP fallback ping status. */
  tcp: "none" | "pending" | "ok" | "failed";
}

/** An indirect probe we run for another member (memberlist relay role). */
export interface Relay {
  /** The requester's sequence number, echoed in our ack or nack. */
  readonly originSeqNo: number;
  /** Where the ack or nack goes. */
  readonly replyTo: Address;
  /** Whether the requester wants a nack when the target stays silent. */
  readonly nack: boolean;
}

/**
 * Pick the next probe target (memberlist `probe`): walk the probe order,
 * skipping ourselves and dead/left nodes; at the end of the list start a new
 * round (reap + shuffle). Gives up after one full lap.
 *
 * @param table the member table
 * @param localName our name
 * @param index the probe cursor
 * @param opts reset parameters: current time, gossipToTheDeadTimeMs, prng
 * @returns the target (or null) and the new cursor
 */
export function nextProbeTarget(
  table: MemberTable,
  localName: string,
  index: number,
  opts: { now: number; gossipToTheDeadTimeMs: number; prng: () => number },
): { node: NodeState | null; index: number } {
  let numCheck = 0;
  for (;;) {
    if (numCheck >= table.length) return { node: null, index };
    if (index >= table.length) {
      table.reset(opts.now, opts.gossipToTheDeadTimeMs, opts.prng);
      index = 0;
      numCheck++;
      continue;
    }
    const node = table.nodes[index];
    index++;
    if (node.name === localName || deadOrLeft(node)) {
      numCheck++;
      continue;
    }
    return { node, index };
  }
}

/**
 * Awareness change after a failed probe (Lifeguard §IV-A, memberlist
 * `probeNode`): with nack-capable relays, each missing nack counts against
 * *our* health (the relays could not hear us either); without any, +1.
 *
 * @param expectedNacks relays asked for a nack
 * @param nacks nacks received
 * @returns the delta to apply
 */
export function failedProbeDelta(expectedNacks: number, nacks: number): number {
  if (expectedNacks > 0) return Math.max(0, expectedNacks - nacks);
  return 1;
}
