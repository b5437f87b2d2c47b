/**
 * The `-h` texts of grapevine's commands, worded after Serf's own (serf
 * `cmd/serf/command/*.go`), plus grapevine's additions.
 *
 * @module
 */

/** The version line of `grapevine version`. */
export const VERSION_TEXT: string =
  `grapevine 0.1.0 (speaks Serf 0.9.4 / memberlist 0.2.2)
Agent Protocol: 5 (Understands back to: 2)`;

const RPC =
  `  -rpc-addr=127.0.0.1:7373  RPC address of the agent ($SERF_RPC_ADDR).
  -rpc-auth=""              RPC auth token of the agent ($SERF_RPC_AUTH).`;

const FLAG_STYLE =
  `Flags may be written -flag=value, -flag value, --flag=value or --flag value.`;

/** `grapevine agent -h`. */
export const AGENT: string = `Usage: grapevine agent [options]

  Starts the agent and runs until an interrupt is received. The agent
  represents a single node in a cluster. Ctrl-C leaves the cluster
  gracefully; SIGTERM shuts down without leaving (unless leave_on_terminate
  is set); a second Ctrl-C exits at once.

Options:

  -bind=0.0.0.0:7946       Address to bind network listeners to (UDP and TCP).
  -advertise=IP:PORT       Address to advertise to the other cluster members.
  -config-file=foo         JSON file to read configuration from (repeatable).
  -config-dir=foo          Directory whose *.json files are read, in order.
  -encrypt=KEY             Base64 key for encrypting gossip ("grapevine keygen").
  -keyring-file=PATH       JSON keyring file, kept up to date by key commands.
  -event-handler=SCRIPT    Script to run on events (repeatable), see below.
  -handler-timeout=60s     Kill an event handler running longer than this.
  -join=ADDR               Agent to join at start (repeatable); failure exits.
  -replay                  Replay past user events when joining at start.
  -retry-join=ADDR         Agent to join, retried until it works (repeatable).
  -retry-interval=30s      Time between -retry-join attempts (at least 1s).
  -retry-max=0             Most -retry-join attempts (0: no limit).
  -log-level=info          Log level: trace, debug, info, warn, err.
  -log-json                Log one JSON object per line.
  -node=hostname           Name of this node; must be unique in the cluster.
  -profile=lan             Timing profile: lan, wan or local.
  -protocol=5              Serf protocol version (2 to 5).
  -rejoin                  Ignore a previous leave and rejoin from the snapshot.
  -snapshot=PATH           Snapshot file used to rejoin after a restart.
  -rpc-addr=127.0.0.1:7373 Address of the RPC listener.
  -rpc-auth=TOKEN          Token RPC clients must send.
  -tag key=value           Tag of this node (repeatable).
  -tags-file=PATH          JSON file persisting the tags (not with -tag).
  -disable-compression     Turn message compression off.
  -broadcast-timeout=5s    How long a leave waits for its broadcast.
  -metrics-addr=IP:PORT    Serve OpenMetrics text at http://IP:PORT/metrics.

Gossip tuning (each overrides the profile; prefix "wan-" for the WAN pool):

  -probe-interval=1s       Time between failure-detection probes.
  -probe-timeout=500ms     Wait for a direct ack; must be under the interval.
  -indirect-checks=3       Members asked to probe when a direct probe fails.
  -gossip-interval=200ms   Time between gossip rounds.
  -gossip-nodes=3          Members gossiped to per round.
  -suspicion-mult=4        Suspicion timeout multiplier.
  -push-pull-interval=30s  Time between full-state syncs (0: off).
  -retransmit-mult=4       Broadcast retransmit multiplier.
  -udp-buffer-size=1400    Byte budget of one UDP packet.

WAN pool (two datacenters: each agent also joins a WAN pool):

  -datacenter=NAME         Datacenter of this agent; its WAN name is NODE.NAME.
  -wan-bind=IP:PORT        WAN gossip address (required with -datacenter).
  -wan-advertise=IP:PORT   WAN address to advertise.
  -wan-encrypt=KEY         Base64 key of the WAN pool.
  -wan-join=ADDR           WAN agent to join at start (repeatable).
  -wan-profile=wan         Timing profile of the WAN pool.

Config file keys are Serf's (node_name, bind, encrypt_key, start_join,
event_handlers, tags, leave_on_terminate, skip_leave_on_interrupt, …) and
the flag names above with "_" for "-" (probe_interval, wan_bind, …).

Event handlers:

  - A plain script, such as "event.sh", receives every event; it tells
    them apart with $SERF_EVENT.
  - "TYPE=SCRIPT", such as "member-join=join.sh", receives one type; a
    comma list of types is allowed.
  - "user:EVENT=SCRIPT" and "query:NAME=SCRIPT" receive one user event or
    query by name. What a query handler prints is the response.

${FLAG_STYLE}`;

/** `grapevine join -h`. */
export const JOIN: string =
  `Usage: grapevine join --node NAME --bind IP:PORT [options] [SEED…]
       grapevine join -rpc-addr=IP:PORT [-replay] [-wan] ADDRESS…

  The first form runs a member in the foreground and joins the seeds
  (IP:PORT; none: a cluster of one). Membership changes are logged to
  stderr. Ctrl-C or SIGTERM leaves the cluster gracefully and exits 0.

  The second form tells a running agent to join the cluster by contacting
  at least one existing member.

Options of a foreground member:

  --node NAME         Unique name of this member (required).
  --bind IP:PORT      Address to listen on, UDP and TCP (required).
  --advertise IP:PORT Address other members should use (default: --bind).
  --encrypt KEY       Base64 AES key, e.g. from "grapevine keygen".
  --profile NAME      lan (default), wan or local: memberlist's timing profiles.
  --log-level LEVEL   Lowest level logged: trace, debug, info, warn, err.
  --log-json          Log one JSON object per line.

Options with -rpc-addr:

  -replay                   Replay past user events.
  -wan                      Join through the agent's WAN pool.
${RPC}

${FLAG_STYLE}`;

/** `grapevine members -h`. */
export const MEMBERS: string = `Usage: grapevine members [options]

  Outputs the members of a running agent.

Options:

  -detailed                 Additional information such as protocol versions
                            (only affects text output format).
  -format=text              Output format: text or json.
  -name=<regexp>            Only members whose name matches (anchored).
  -role=<regexp>            Deprecated: the same as -tag role=<regexp>.
  -status=<regexp>          Only members whose status matches (anchored).
  -tag <key>=<regexp>       Only members whose tag matches (repeatable, anchored).
  -wan                      The agent's WAN pool, grouped by datacenter.
${RPC}`;

/** `grapevine event -h`. */
export const EVENT: string = `Usage: grapevine event [options] name [payload]

  Dispatches a custom event across the cluster.

Options:

  -coalesce=true/false      Whether this event can be coalesced: repeated
                            events of the same name within a short period
                            are delivered once, the last. Default true.
${RPC}`;

/** `grapevine query -h`. */
export const QUERY: string = `Usage: grapevine query [options] name [payload]

  Dispatches a query to the cluster and prints acks and responses as they
  arrive, until the query's timeout.

Options:

  -format=text              Output format: text or json.
  -node=NAME                Only this node answers (repeatable).
  -tag key=regexp           Only nodes whose tag matches answer (repeatable).
  -timeout=15s              Overrides the default timeout.
  -no-ack                   Do not ask nodes to acknowledge the query.
  -relay-factor=N           Relay responses through N extra nodes (0 to 255).
${RPC}`;

/** `grapevine leave -h`. */
export const LEAVE: string = `Usage: grapevine leave [options]

  Causes the agent to gracefully leave the cluster and shut down.

Options:

${RPC}`;

/** `grapevine force-leave -h`. */
export const FORCE_LEAVE: string = `Usage: grapevine force-leave [options] name

  Forces a member of the cluster to enter the "left" state. If the member
  is still alive, it will eventually rejoin. Most useful to clean out
  "failed" nodes that are never coming back.

Options:

  -prune                    Remove the member from the member lists at once.
${RPC}`;

/** `grapevine tags -h`. */
export const TAGS: string = `Usage: grapevine tags [options]

  Modifies tags on a running agent.

Options:

  -set key=value            Creates or modifies the value of a tag (repeatable).
  -delete key               Removes a tag, if present (repeatable).
${RPC}`;

/** `grapevine keys -h`. */
export const KEYS: string = `Usage: grapevine keys [options]

  Manage the encryption keyring of the cluster. Changes are broadcast to
  every member. Exits 0 when every member replies without error, else 1.

Options:

  -install=<key>            Install a new key (used for decryption only).
  -use=<key>                Make an installed key the primary key.
  -remove=<key>             Remove a key (not the primary one).
  -list                     List the keys and how many members hold each.
${RPC}`;

/** `grapevine keygen -h`. */
export const KEYGEN: string = `Usage: grapevine keygen

  Generates a new 32-byte encryption key, base64-encoded, ready for -encrypt.`;

/** `grapevine rtt -h`. */
export const RTT: string = `Usage: grapevine rtt [options] node1 [node2]

  Estimates the round trip time between two nodes from the cluster's network
  coordinates. Without node2, the agent's own node is used.

Options:

${RPC}`;

/** `grapevine monitor -h`. */
export const MONITOR: string = `Usage: grapevine monitor [options]

  Shows recent log lines of an agent, then streams new ones and its events
  as they occur, until Ctrl-C.

Options:

  -log-level=info           Lowest level shown: trace, debug, info, warn, err.
${RPC}`;

/** `grapevine info -h`. */
export const INFO: string = `Usage: grapevine info [options]

  Provides debugging information for operators.

Options:

  -format=text              Output format: text or json.
${RPC}`;

/** `grapevine reachability -h`. */
export const REACHABILITY: string = `Usage: grapevine reachability [options]

  Tests the network reachability of this node: every live member must
  acknowledge a ping query.

Options:

  -verbose                  Verbose mode.
${RPC}`;

/** `grapevine version -h`. */
export const VERSION: string = `Usage: grapevine version

  Prints the version.`;

/** reachability: duplicate acks. */
export const DUPLICATE_RESPONSES =
  "Duplicate responses means there is a misconfiguration. Verify that node names are unique.";
/** reachability: more acks than live members. */
export const TOO_MANY_ACKS =
  "This could mean Serf is detecting false-failures due to a misconfiguration or network issue.";
/** reachability: fewer acks than live members. */
export const TOO_FEW_ACKS =
  "This could mean Serf gossip packets are being lost due to a misconfiguration or network issue.";
/** reachability: what to check. */
export const TROUBLESHOOTING = `
Troubleshooting tips:
* Ensure that the bind addr:port is accessible by all other nodes
* If an advertise address is set, ensure it routes to the bind address
* Check that no nodes are behind a NAT
* If nodes are behind firewalls or iptables, check that Serf traffic is permitted (UDP and TCP)
* Verify networking equipment is functional`;

/** `grapevine simulate -h`. */
export const SIMULATE: string = `Usage: grapevine simulate [options]

  Simulates a cluster with grapevine's deterministic simulator (the real
  memberlist code on a virtual network, no sockets) and prints how fast
  news and failures spread, how fast a failure is detected, false
  positives, and the traffic per member.

Options:

  -nodes=50                 Members in the cluster.
  -profile=lan              Timing profile: lan, wan or local.
  -loss=0                   Packet loss: a fraction (0.05) or a percentage (5%).
  -latency=1ms              One-way network latency.
  -jitter=2ms               Extra random delay per packet, up to this.
  -seed=1                   Seed; the same seed gives the same result.
  -window=10s               Steady-state window for the traffic figures.
  -max=120s                 Longest wait for a spread to complete.
  -svg=FILE                 Also write a chart of the spreads as SVG.
  -format=text              Output format: text or json.

  The gossip tuning flags of "grapevine agent" apply too (-probe-interval,
  -probe-timeout, -indirect-checks, -gossip-interval, -gossip-nodes,
  -suspicion-mult, -push-pull-interval, -retransmit-mult, -udp-buffer-size).`;
