/**
 * Serf's name-conflict resolution (serf.go `handleNodeConflict`,
 * `resolveNodeConflict`; internal_query.go `handleConflict`; SPEC §8.9).
 *
 * ```
 * us (name X, addr A)       other members              impostor (name X, addr B)
 *   --query _serf_conflict, payload "X"-->  each answers 0x06 {its view of X}
 *   <--0x06 Member{Addr A …} / 0x06 c0 (unknown)--
 * at the deadline: matching = answers whose Addr:Port is ours;
 * matching < responses/2 + 1  →  we lost: shut down.
 * ```
 *
 * Pure pieces: the responder's answer and the originator's tally.
 *
 * @module
 */

import {
  decodeSerfMessage,
  encodeConflictResponse,
  type SerfMember,
} from "../codec/serf_messages.ts";
import { ipFromString, ipToString } from "../codec/messages.ts";
import { SERF_STATUS_CODES, type SerfMemberInfo } from "./events.ts";

/** The originator's count of `_serf_conflict` answers. */
export interface ConflictTally {
  /** Valid answers received. */
  responses: number;
  /** Answers that know the name at our address and port. */
  matching: number;
}

/**
 * Serf's `Member` struct for a member (the body of a conflict response).
 *
 * @param m the member as Serf sees it
 * @returns the wire struct
 */
export function toWireMember(m: SerfMemberInfo): SerfMember {
  return {
    name: m.name,
    addr: ipFromString(m.addr.host) ?? new Uint8Array(0),
    port: m.addr.port,
    tags: new Map(m.tags),
    status: SERF_STATUS_CODES[m.status],
    protocolMin: m.protocolMin,
    protocolMax: m.protocolMax,
    protocolCur: m.protocolCur,
    delegateMin: m.delegateMin,
    delegateMax: m.delegateMax,
    delegateCur: m.delegateCur,
  };
}

/**
 * A responder's answer: its view of the contested name, or nil
 * (`0x06 c0`) when it does not know it.
 *
 * @param member what we know of the name, if anything
 * @returns the response payload
 */
export function conflictAnswer(member: SerfMemberInfo | undefined): Uint8Array {
  return encodeConflictResponse({
    member: member === undefined ? null : toWireMember(member),
  });
}

/**
 * Count one answer (serf `resolveNodeConflict`'s loop). A payload that is
 * not a conflict response, or does not decode, is not counted; a nil member
 * counts as a response that does not match.
 *
 * @param tally the running count (updated)
 * @param payload the response payload
 * @param local our address and port
 * @returns null when counted, else Serf's error text
 */
export function countConflictAnswer(
  tally: ConflictTally,
  payload: Uint8Array | null,
  local: { readonly host: string; readonly port: number },
): string | null {
  if (payload === null || payload.length < 1 || payload[0] !== 6) {
    return "Invalid conflict query response type";
  }
  let m;
  try {
    m = decodeSerfMessage(payload);
  } catch (e) {
    return `Failed to decode conflict query response: ${(e as Error).message}`;
  }
  if (m.type !== "conflictResponse") {
    return "Invalid conflict query response type";
  }
  tally.responses++;
  const member = m.body.member;
  // net.IP.Equal: a 4-byte and an IPv4-mapped 16-byte address are equal.
  if (
    member !== null &&
    ipToString(member.addr) ===
      ipToString(ipFromString(local.host) ?? new Uint8Array(0)) &&
    member.port === local.port
  ) tally.matching++;
  return null;
}

/**
 * The verdict at the query's deadline: we survive with a majority of the
 * answers, `matching ≥ responses/2 + 1` (integer division).
 *
 * @param tally the final count
 * @returns the majority needed and whether we keep running
 */
export function conflictVerdict(
  tally: ConflictTally,
): { majority: number; survive: boolean } {
  const majority = Math.floor(tally.responses / 2) + 1;
  return { majority, survive: tally.matching >= majority };
}
