/**
 * memberlist's configuration and its three profiles, with memberlist's exact
 * defaults (`DefaultLANConfig`, `DefaultWANConfig`, `DefaultLocalConfig`;
 * SPEC §7). Durations are integer milliseconds, named with units last.
 *
 * @module
 */

/** Every tunable of a memberlist member. */
export interface MemberlistConfig {
  /** Unique node name in the cluster. */
  name: string;
  /** IP to bind (the host's concern; kept here for the advertise default). */
  bindAddr: string;
  /** Port to bind for UDP and TCP (0 = any). */
  bindPort: number;
  /** IP other members should use to reach us ("" = the bind address). */
  advertiseAddr: string;
  /** Port other members should use (0 = the bind port). */
  advertisePort: number;
  /** memberlist protocol version spoken (1..5; Serf speaks 2). */
  protocolVersion: number;
  /** Delegate (Serf) protocol: min, max, current (0 without a delegate). */
  delegateProtocolMin: number;
  /** Delegate protocol maximum understood. */
  delegateProtocolMax: number;
  /** Delegate protocol version spoken. */
  delegateProtocolVersion: number;
  /** Deadline of a whole stream exchange (push-pull, join). */
  tcpTimeoutMs: number;
  /** Members asked to probe on our behalf when a direct probe fails. */
  indirectChecks: number;
  /** Broadcast retransmits = retransmitMult × ceil(log10(n + 1)). */
  retransmitMult: number;
  /** Suspicion timeout base multiplier (× log10(n) × probe interval). */
  suspicionMult: number;
  /** Upper bound of the suspicion timeout as a multiple of its minimum. */
  suspicionMaxTimeoutMult: number;
  /**
   * Liveness veto (a deliberate deviation from memberlist 0.2.2, in
   * Lifeguard's spirit): when a suspicion times out but the suspect showed
   * fresh signs of life since it began (a packet from its address, an ack
   * to our probe), keep it suspect for another period and push-pull with it
   * to fetch its refutation, instead of declaring it dead at an incarnation
   * it may already have refuted. At most 3 extensions; a crashed node shows
   * no signs of life, so crash detection is unchanged. Nothing on the wire
   * changes. Default true; false is memberlist's behaviour.
   */
  suspicionLivenessVeto: boolean;
  /** Full-state sync period (0 turns periodic push-pull off). */
  pushPullIntervalMs: number;
  /** How long to wait for a direct ack before indirect probes. */
  probeTimeoutMs: number;
  /** Time between probe rounds. */
  probeIntervalMs: number;
  /** Turn off the TCP fallback probe. */
  disableTcpPings: boolean;
  /** Lifeguard local health: the score lives in [0, this − 1]. */
  awarenessMaxMultiplier: number;
  /** Random members gossiped to per gossip interval. */
  gossipNodes: number;
  /** Time between gossip rounds (0 turns gossip off). */
  gossipIntervalMs: number;
  /**
   * Eager gossip (a deliberate deviation from memberlist 0.2.2, like
   * `suspicionLivenessVeto`): when a new broadcast is queued — our own
   * alive/suspect/dead, one received from the network that we forward, or
   * a Serf event, query or intent — run a gossip round at once instead of
   * at the next tick, so each hop costs the network delay instead of half a
   * gossip interval on average. The round is memberlist's `gossip()`
   * unchanged (the same messages to `gossipNodes` random targets, one
   * transmit per target), so every broadcast is sent the same number of
   * times and nothing on the wire changes but the timing. The regular
   * ticks stay phase-aligned as memberlist's ticker. Default true; false is
   * memberlist's timing.
   */
  eagerGossip: boolean;
  /**
   * Least time between an eager round and the round before it (whole ms,
   * ≥ 1), so a burst of broadcasts coalesces into one packet per target.
   * Default: the profile's `gossipIntervalMs` (LAN 200, WAN 500, Local
   * 100). A broadcast that reaches a member which has not gossiped for an
   * interval leaves at once; under sustained load rounds fall back on the
   * regular ticks, so a member never runs more gossip rounds a second than
   * memberlist would (an eager round can only fill a gap left by ticks
   * that had nothing to send). Measured: half an interval cut the per-hop
   * wait under 50 user events a second too, but cost 1.3× the packets and
   * 1.2–1.3× the CPU (bench/load/README.md); one event at a time spreads
   * as fast either way. Set it again when you change `gossipIntervalMs`.
   */
  eagerGossipMinIntervalMs: number;
  /** How long dead members still get gossip (and stay in the list). */
  gossipToTheDeadTimeMs: number;
  /** Drop incoming traffic that is not encrypted when a keyring is set. */
  gossipVerifyIncoming: boolean;
  /** Encrypt outgoing traffic when a keyring is set. */
  gossipVerifyOutgoing: boolean;
  /** LZW-compress packets (when smaller) and streams. */
  enableCompression: boolean;
  /** Bound of the queue of pending gossip messages (drops past it). */
  handoffQueueDepth: number;
  /** Byte budget of one outgoing UDP packet. */
  udpBufferSize: number;
  /** A dead member's name may be reclaimed by a new address after this (0 = never). */
  deadNodeReclaimTimeMs: number;
  /** Label that must match on every packet and stream ("" = none). */
  label: string;
  /** Accept unlabeled input as if it carried our label. */
  skipInboundLabelCheck: boolean;
}

/** memberlist's limit on node metadata (`MetaMaxSize`). */
export const META_MAX_SIZE = 512;
/** memberlist's cap on concurrent inbound push-pulls (`maxPushPullRequests`). */
export const MAX_PUSH_PULL_REQUESTS = 128;
/** memberlist's cap on a push-pull message (`maxPushStateBytes`, 20 MiB). */
export const MAX_PUSH_STATE_BYTES = 20 * 1024 * 1024;
/** Cluster size above which push-pull slows down (`pushPullScaleThreshold`). */
export const PUSH_PULL_SCALE_THRESHOLD = 32;
/** Lowest and highest memberlist protocol versions we speak. */
export const PROTOCOL_VERSION_MIN = 1;
/** Highest memberlist protocol version we understand (CRC, SPEC §5). */
export const PROTOCOL_VERSION_MAX = 5;

/** memberlist's `DefaultLANConfig`, tuned for a local network. */
export function lanConfig(
  overrides: Partial<MemberlistConfig> = {},
): MemberlistConfig {
  return validateConfig({
    name: "",
    bindAddr: "0.0.0.0",
    bindPort: 7946,
    advertiseAddr: "",
    advertisePort: 7946,
    protocolVersion: 2,
    delegateProtocolMin: 0,
    delegateProtocolMax: 0,
    delegateProtocolVersion: 0,
    tcpTimeoutMs: 10_000,
    indirectChecks: 3,
    retransmitMult: 4,
    suspicionMult: 4,
    suspicionMaxTimeoutMult: 6,
    suspicionLivenessVeto: true,
    pushPullIntervalMs: 30_000,
    probeTimeoutMs: 500,
    probeIntervalMs: 1_000,
    disableTcpPings: false,
    awarenessMaxMultiplier: 8,
    gossipNodes: 3,
    gossipIntervalMs: 200,
    eagerGossip: true,
    eagerGossipMinIntervalMs: 200,
    gossipToTheDeadTimeMs: 30_000,
    gossipVerifyIncoming: true,
    gossipVerifyOutgoing: true,
    enableCompression: true,
    handoffQueueDepth: 1024,
    udpBufferSize: 1400,
    deadNodeReclaimTimeMs: 0,
    label: "",
    skipInboundLabelCheck: false,
    ...overrides,
  });
}

/** memberlist's `DefaultWANConfig`, tuned for links between datacenters. */
export function wanConfig(
  overrides: Partial<MemberlistConfig> = {},
): MemberlistConfig {
  return lanConfig({
    tcpTimeoutMs: 30_000,
    suspicionMult: 6,
    pushPullIntervalMs: 60_000,
    probeTimeoutMs: 3_000,
    probeIntervalMs: 5_000,
    gossipNodes: 4,
    gossipIntervalMs: 500,
    eagerGossipMinIntervalMs: 500,
    gossipToTheDeadTimeMs: 60_000,
    ...overrides,
  });
}

/** memberlist's `DefaultLocalConfig`, tuned for one machine (loopback). */
export function localConfig(
  overrides: Partial<MemberlistConfig> = {},
): MemberlistConfig {
  return lanConfig({
    tcpTimeoutMs: 1_000,
    indirectChecks: 1,
    retransmitMult: 2,
    suspicionMult: 3,
    pushPullIntervalMs: 15_000,
    probeTimeoutMs: 200,
    probeIntervalMs: 1_000,
    gossipIntervalMs: 100,
    eagerGossipMinIntervalMs: 100,
    gossipToTheDeadTimeMs: 15_000,
    ...overrides,
  });
}

/** The profile names accepted by {@linkcode profileConfig}. */
export type ProfileName = "lan" | "wan" | "local";

/** The config of a profile by name, with overrides. */
export function profileConfig(
  profile: ProfileName,
  overrides: Partial<MemberlistConfig> = {},
): MemberlistConfig {
  switch (profile) {
    case "lan":
      return lanConfig(overrides);
    case "wan":
      return wanConfig(overrides);
    case "local":
      return localConfig(overrides);
  }
  throw new TypeError(
    `Invalid profile: ${JSON.stringify(profile)} (use "lan", "wan" or "local")`,
  );
}

function wholeAtLeast(
  c: MemberlistConfig,
  field: keyof MemberlistConfig,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): void {
  const v = c[field];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER
      ? `≥ ${min}`
      : `in ${min}..${max}`;
    throw new RangeError(
      `Invalid config ${field}: ${
        JSON.stringify(v)
      } must be a whole number ${range}`,
    );
  }
}

/**
 * Check a config and return it; throws `TypeError`/`RangeError` naming the
 * field and what to fix.
 */
export function validateConfig(c: MemberlistConfig): MemberlistConfig {
  for (const [field, value] of Object.entries(c)) {
    if (value === undefined) {
      throw new TypeError(`Invalid config ${field}: undefined`);
    }
  }
  wholeAtLeast(c, "bindPort", 0, 65535);
  wholeAtLeast(c, "advertisePort", 0, 65535);
  wholeAtLeast(
    c,
    "protocolVersion",
    PROTOCOL_VERSION_MIN,
    PROTOCOL_VERSION_MAX,
  );
  wholeAtLeast(c, "delegateProtocolMin", 0, 255);
  wholeAtLeast(c, "delegateProtocolMax", 0, 255);
  wholeAtLeast(c, "delegateProtocolVersion", 0, 255);
  for (
    const f of [
      "tcpTimeoutMs",
      "probeTimeoutMs",
      "probeIntervalMs",
      "suspicionMult",
      "suspicionMaxTimeoutMult",
      "awarenessMaxMultiplier",
      "retransmitMult",
      "handoffQueueDepth",
      "eagerGossipMinIntervalMs",
    ] as const
  ) wholeAtLeast(c, f, 1);
  for (
    const f of [
      "indirectChecks",
      "gossipNodes",
      "gossipIntervalMs",
      "pushPullIntervalMs",
      "gossipToTheDeadTimeMs",
      "deadNodeReclaimTimeMs",
    ] as const
  ) wholeAtLeast(c, f, 0);
  // A packet must at least hold a compound header and one small message.
  wholeAtLeast(c, "udpBufferSize", 128, 65507);
  if (typeof c.name !== "string") {
    throw new TypeError("Invalid config name: must be a string");
  }
  for (const f of ["suspicionLivenessVeto", "eagerGossip"] as const) {
    if (typeof c[f] !== "boolean") {
      throw new TypeError(
        `Invalid config ${f}: ${JSON.stringify(c[f])} must be true or false`,
      );
    }
  }
  if (c.probeTimeoutMs >= c.probeIntervalMs) {
    // memberlist waits for indirect acks until the end of the interval; a
    // timeout that reaches it leaves no time for indirect probes.
    throw new RangeError(
      `Invalid config probeTimeoutMs: ${c.probeTimeoutMs} must be shorter than probeIntervalMs (${c.probeIntervalMs})`,
    );
  }
  if (new TextEncoder().encode(c.label).length > 255) {
    throw new RangeError("Invalid config label: must be at most 255 bytes");
  }
  return c;
}
