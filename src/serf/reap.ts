/**
 * Serf's housekeeping of failed and left members (serf.go `handleReap`,
 * `reap`, `reconnect`, `removeOldMember`; SPEC §8.5), as pure functions.
 *
 * - Every ReapInterval (15 s): failed members older than ReconnectTimeout
 *   and left members older than TombstoneTimeout (24 h each) are erased
 *   with an EventMemberReap; intents older than RecentIntentTimeout go.
 * - Every ReconnectInterval (30 s): with probability
 *   `failed / (members − failed − left)`, one random failed member is
 *   retried with a memberlist join, so that the cluster as a whole tries
 *   each failed member about once per interval.
 *
 * Serf keeps its failed and left lists as slices and removes by swapping
 * with the last element; the same order is kept here because the left list
 * travels in push-pull state and the reconnect draw indexes the failed one.
 *
 * @module
 */

/**
 * Remove `name` from `list` by swapping in the last element (serf
 * `removeOldMember`).
 *
 * @param list the names (changed in place)
 * @param name the name to remove
 * @returns true when it was there
 */
export function removeName(list: string[], name: string): boolean {
  const i = list.indexOf(name);
  if (i < 0) return false;
  list[i] = list[list.length - 1];
  list.pop();
  return true;
}

/**
 * Take the members whose timeout passed out of `list` (serf `reap`: the
 * timeout must be strictly exceeded).
 *
 * @param list the failed or left names (changed in place)
 * @param leftAtMs when each became failed or left
 * @param nowMs current time
 * @param timeoutMs ReconnectTimeout or TombstoneTimeout
 * @returns the reaped names, in Serf's order
 */
export function reapExpired(
  list: string[],
  leftAtMs: (name: string) => number,
  nowMs: number,
  timeoutMs: number,
): string[] {
  const reaped: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const name = list[i];
    if (nowMs - leftAtMs(name) <= timeoutMs) continue;
    list[i] = list[list.length - 1];
    list.pop();
    i--;
    reaped.push(name);
  }
  return reaped;
}

/**
 * Pick the failed member to retry, if any (serf `reconnect`).
 *
 * @param counts members (all states), failed and left
 * @param prng uniform numbers in [0, 1)
 * @returns an index into the failed list, or null to skip this round
 */
export function reconnectPick(
  counts: {
    readonly members: number;
    readonly failed: number;
    readonly left: number;
  },
  prng: () => number,
): number | null {
  if (counts.failed === 0) return null;
  let alive = counts.members - counts.failed - counts.left;
  if (alive === 0) alive = 1; // Serf's guard against dividing by zero
  const prob = counts.failed / alive;
  // rand.Float32() > prob: skip ("forgoing reconnect for random throttling").
  if (prng() > prob) return null;
  return Math.min(counts.failed - 1, Math.floor(prng() * counts.failed));
}
