/**
 * Unit tests of the agent's flag parsing, config files and validation, and
 * of the event-handler contract pieces (filters, environment, stdin).
 * No processes, no sockets.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../src/cli/usage.ts";
import {
  AGENT_FLAGS,
  configFromFlags,
  configFromJson,
  finishConfig,
  mergeConfig,
  parseTags,
  poolMemberlist,
  readConfigPaths,
} from "../../src/agent/config.ts";
import {
  flagBool,
  flagList,
  flagString,
  formatDurationMs,
  parseDurationMs,
  parseFlags,
  wantsHelp,
} from "../../src/agent/flags.ts";
import {
  type AgentEvent,
  filterMatches,
  handlerEnv,
  handlerStdin,
  parseEventFilter,
  parseEventScript,
  validEventFilter,
} from "../../src/agent/handlers.ts";
import {
  lineAtLeast,
  LOG_BACKLOG_LINES,
  LogHub,
} from "../../src/agent/logs.ts";
import { columnize, memberDatacenter } from "../../src/agent/commands.ts";
import { filterMembers } from "../../src/agent/rpc.ts";
import type { SerfMemberInfo } from "../../src/serf/events.ts";

function agentConfig(args: string[]) {
  const warnings: string[] = [];
  const fin = finishConfig(
    configFromFlags(parseFlags(args, AGENT_FLAGS), warnings),
  );
  return { config: fin.config, warnings: [...warnings, ...fin.warnings] };
}

function refused(args: string[], re: RegExp): void {
  assert.throws(() => agentConfig(args), (e: unknown) => {
    assert.ok(e instanceof UsageError, `UsageError expected, got ${e}`);
    assert.match(e.message, re);
    return true;
  });
}

test("flags: Go style and GNU style both work", { timeout: 5_000 }, () => {
  const specs = [
    { name: "rpc-addr", kind: "string" as const },
    { name: "tag", kind: "list" as const },
    { name: "coalesce", kind: "bool" as const },
  ];
  const p = parseFlags(
    [
      "-rpc-addr=1.2.3.4:1",
      "name",
      "--tag",
      "a=b",
      "-tag=c=d",
      "-coalesce=false",
      "--",
      "-x",
    ],
    specs,
  );
  assert.equal(flagString(p, "rpc-addr", ""), "1.2.3.4:1");
  assert.deepEqual(flagList(p, "tag"), ["a=b", "c=d"]);
  assert.equal(flagBool(p, "coalesce", true), false);
  assert.deepEqual(p.positionals, ["name", "-x"]);
  assert.equal(flagBool(parseFlags(["--coalesce"], specs), "coalesce"), true);
  assert.throws(
    () => parseFlags(["-bogus"], specs),
    /flag provided but not defined: -bogus/,
  );
  assert.throws(
    () => parseFlags(["-rpc-addr"], specs),
    /flag needs an argument: -rpc-addr/,
  );
  assert.throws(
    () => parseFlags(["-coalesce=maybe"], specs),
    /invalid boolean value/,
  );
  assert.ok(wantsHelp(["x", "--help"]));
  assert.ok(!wantsHelp(["--", "-h"]));
});

test("durations: Go syntax, clear refusal", { timeout: 5_000 }, () => {
  assert.equal(parseDurationMs("1m30s", "-x"), 90_000);
  assert.equal(parseDurationMs("1.5s", "-x"), 1500);
  assert.equal(parseDurationMs("250ms", "-x"), 250);
  assert.equal(parseDurationMs("0", "-x"), 0);
  assert.equal(parseDurationMs("2h", "-x"), 7_200_000);
  assert.throws(
    () => parseDurationMs("10", "-timeout"),
    /Invalid -timeout "10": use a duration like 500ms/,
  );
  assert.throws(
    () => parseDurationMs("5 parsecs", "-timeout"),
    /Invalid -timeout/,
  );
  assert.equal(formatDurationMs(90_000), "1m30s");
  assert.equal(formatDurationMs(500), "500ms");
});

test("config: Serf's defaults and flags", { timeout: 5_000 }, () => {
  const { config } = agentConfig([
    "-node=a",
    "-tag",
    "role=web",
    "-tag=dc=east",
    "-join=x",
    "-join=y",
    "-profile=wan",
  ]);
  assert.equal(config.nodeName, "a");
  assert.equal(config.bind, "0.0.0.0:7946");
  assert.equal(config.rpcAddr, "127.0.0.1:7373");
  assert.equal(config.protocol, 5);
  assert.equal(config.logLevel, "info");
  assert.equal(config.retryIntervalMs, 30_000);
  assert.deepEqual([...config.tags], [["role", "web"], ["dc", "east"]]);
  assert.deepEqual(config.startJoin, ["x", "y"]);
  assert.equal(config.profile, "wan");
  assert.ok(
    agentConfig([]).config.nodeName.length > 0,
    "defaults to the host name",
  );
  assert.equal(agentConfig(["-log-level=DEBUG"]).config.logLevel, "debug");
  refused(
    ["-log-level=loud"],
    /Invalid -log-level "loud": use one of TRACE, DEBUG, INFO, WARN, ERR/,
  );
  refused(["-profile=fast"], /Invalid -profile "fast": use lan, wan or local/);
  refused(["-protocol=7"], /Invalid -protocol=7: Serf speaks protocols 2 to 5/);
  refused(["-tag", "novalue"], /Invalid tag: 'novalue'/);
  refused(["-retry-interval=soon"], /Invalid -retry-interval "soon"/);
  refused(["-event-handler=member-explode=x.sh"], /Invalid event script/);
  refused(
    ["-encrypt=k", "-keyring-file=f"],
    /not allowed while using a keyring/,
  );
  refused(["-tag=a=b", "-tags-file=f"], /not allowed while using a tags file/);
});

test(
  "config: the role flag is deprecated into a tag",
  { timeout: 5_000 },
  () => {
    const { config, warnings } = agentConfig(["-role=web"]);
    assert.equal(config.tags.get("role"), "web");
    assert.ok(warnings.some((w) => /Deprecation warning/.test(w)));
  },
);

test("config: Serf's warnings and corrections", { timeout: 5_000 }, () => {
  const { config, warnings } = agentConfig([
    "-retry-interval=10ms",
    "-broadcast-timeout=1ms",
    "-rejoin",
  ]);
  assert.equal(config.retryIntervalMs, 1000);
  assert.equal(config.broadcastTimeoutMs, 1000);
  assert.ok(
    warnings.includes("Warning: 'RetryInterval' is too low. Setting to 1s"),
  );
  assert.ok(
    warnings.includes("Warning: 'BroadcastTimeout' is too low. Setting to 1s"),
  );
  assert.ok(
    warnings.includes(
      "Warning: 'RejoinAfterLeave' enabled without snapshot file",
    ),
  );
});

test(
  "config: gossip tuning is checked as a combination",
  { timeout: 5_000 },
  () => {
    refused(
      ["-probe-interval=1s", "-probe-timeout=1s"],
      /Invalid -probe-timeout=1s: the probe timeout must be shorter than -probe-interval=1s/,
    );
    // The profile's interval counts too: local probes every 1 s.
    refused(
      ["-profile=local", "-probe-timeout=2s"],
      /-probe-timeout=2s.*-probe-interval=1s/,
    );
    refused(
      ["-udp-buffer-size=512"],
      /Invalid -udp-buffer-size=512: too small for query_size_limit=1024/,
    );
    refused(["-udp-buffer-size=100"], /must be between 128 and 65507/);
    refused(
      ["-probe-interval=0s"],
      /Invalid -probe-interval=0: must be at least 1/,
    );
    refused(
      ["-indirect-checks=-1"],
      /Invalid -indirect-checks=-1: must not be negative/,
    );
    const w = agentConfig([
      "-probe-interval=1s",
      "-probe-timeout=900ms",
      "-gossip-nodes=0",
      "-push-pull-interval=0s",
      "-udp-buffer-size=9000",
      "-indirect-checks=0",
    ]).warnings.join("\n");
    assert.match(
      w,
      /-gossip-interval=200ms with -gossip-nodes=0 turns gossip off/,
    );
    assert.match(w, /-push-pull-interval=0 turns periodic push-pull off/);
    assert.match(w, /-udp-buffer-size=9000 is above 1472 bytes/);
    assert.match(w, /-indirect-checks=0 turns indirect probes off/);
    const ok = agentConfig([
      "-probe-interval=2s",
      "-probe-timeout=300ms",
      "-gossip-nodes=5",
    ]);
    assert.equal(ok.warnings.length, 0, ok.warnings.join("\n"));
    const ml = poolMemberlist(ok.config, "lan");
    assert.equal(ml.probeIntervalMs, 2000);
    assert.equal(ml.probeTimeoutMs, 300);
    assert.equal(ml.gossipNodes, 5);
    assert.equal(
      ml.gossipIntervalMs,
      200,
      "the rest comes from the lan profile",
    );
  },
);

test(
  "config: the WAN pool has its own flags and checks",
  { timeout: 5_000 },
  () => {
    const { config } = agentConfig([
      "-bind=127.0.0.1:7946",
      "-datacenter=dc1",
      "-wan-bind=127.0.0.1:7947",
      "-wan-probe-interval=4s",
      "-wan-join=10.0.0.1:7947",
    ]);
    assert.equal(config.datacenter, "dc1");
    assert.deepEqual(config.wanJoin, ["10.0.0.1:7947"]);
    const wan = poolMemberlist(config, "wan");
    assert.equal(wan.probeIntervalMs, 4000);
    assert.equal(wan.probeTimeoutMs, 3000, "the wan profile's timeout");
    assert.equal(wan.gossipIntervalMs, 500, "the wan profile underneath");
    refused(["-datacenter=dc1"], /-datacenter and -wan-bind go together/);
    refused(
      ["-datacenter=d.c", "-wan-bind=127.0.0.1:1"],
      /Invalid -datacenter=d.c/,
    );
    refused([
      "-bind=127.0.0.1:7946",
      "-datacenter=dc",
      "-wan-bind=127.0.0.1:7946",
    ], /needs its own address/);
    refused(
      ["-datacenter=dc", "-wan-bind=127.0.0.1:7947", "-wan-probe-timeout=6s"],
      /Invalid -wan-probe-timeout=6s: .* -wan-probe-interval=5s/,
    );
  },
);

test(
  "config files: Serf's keys, merge order, refusals",
  { timeout: 5_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "grapevine-config-"));
    try {
      writeFileSync(
        join(dir, "a.json"),
        JSON.stringify({
          node_name: "file-node",
          tags: { role: "db", zone: "a" },
          start_join: ["x"],
          event_handlers: ["user:deploy=./d.sh"],
          leave_on_terminate: true,
          retry_interval: "5s",
          probe_interval: "2s",
          wan_gossip_nodes: 2,
        }),
      );
      writeFileSync(
        join(dir, "b.json"),
        JSON.stringify({ tags: { zone: "b" }, start_join: ["y"] }),
      );
      writeFileSync(join(dir, "ignored.txt"), "not json");
      const warnings: string[] = [];
      const files = readConfigPaths([dir], warnings);
      const flags = configFromFlags(
        parseFlags(["-node=flag-node", "-join=z"], AGENT_FLAGS),
        warnings,
      );
      const { config } = finishConfig(mergeConfig(files, flags));
      assert.equal(config.nodeName, "flag-node", "flags win");
      assert.deepEqual(
        config.startJoin,
        ["x", "y", "z"],
        "lists append in order",
      );
      assert.deepEqual(Object.fromEntries(config.tags), {
        role: "db",
        zone: "b",
      });
      assert.equal(config.leaveOnTerminate, true);
      assert.equal(config.retryIntervalMs, 5000);
      assert.equal(config.lan.probeIntervalMs, 2000);
      assert.equal(config.wan.gossipNodes, 2);
      assert.deepEqual(config.eventHandlers, ["user:deploy=./d.sh"]);
      writeFileSync(join(dir, "c.json"), JSON.stringify({ nodename: "typo" }));
      assert.throws(
        () => readConfigPaths([join(dir, "c.json")], []),
        /unknown key 'nodename'/,
      );
      writeFileSync(join(dir, "c.json"), JSON.stringify({ protocol: "five" }));
      assert.throws(
        () => readConfigPaths([join(dir, "c.json")], []),
        /Invalid 'protocol' in .*: must be a whole number/,
      );
      writeFileSync(join(dir, "c.json"), "{ nope");
      assert.throws(
        () => readConfigPaths([join(dir, "c.json")], []),
        /Error decoding/,
      );
      assert.throws(
        () => readConfigPaths([join(dir, "missing.json")], []),
        /Error reading/,
      );
      const w: string[] = [];
      configFromJson({ discover: "cluster" }, "x.json", w);
      assert.match(
        w[0],
        /'discover' in x.json is ignored: grapevine has no mDNS discovery/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("tags: key=value pairs", { timeout: 5_000 }, () => {
  assert.deepEqual(Object.fromEntries(parseTags(["a=1", "b=x=y", "c="])), {
    a: "1",
    b: "x=y",
    c: "",
  });
  assert.throws(() => parseTags(["=v"]), /Invalid tag: '=v'/);
});

function member(
  name: string,
  tags: Record<string, string>,
  status = "alive",
): SerfMemberInfo {
  return {
    name,
    addr: { host: "127.0.0.9", port: 7946 },
    tags: new Map(Object.entries(tags)),
    status: status as SerfMemberInfo["status"],
    protocolMin: 1,
    protocolMax: 5,
    protocolCur: 2,
    delegateMin: 2,
    delegateMax: 5,
    delegateCur: 5,
  };
}

test("event filters and scripts: Serf's grammar", { timeout: 5_000 }, () => {
  assert.deepEqual(parseEventScript("handler.sh"), [{
    event: "*",
    name: "",
    script: "handler.sh",
  }]);
  assert.deepEqual(parseEventScript("member-join,user:deploy=run.sh a=b"), [
    { event: "member-join", name: "", script: "run.sh a=b" },
    { event: "user", name: "deploy", script: "run.sh a=b" },
  ]);
  assert.deepEqual(parseEventFilter("query:uptime"), [{
    event: "query",
    name: "uptime",
  }]);
  assert.ok(validEventFilter({ event: "member-reap", name: "" }));
  assert.ok(!validEventFilter({ event: "member-explode", name: "" }));
  const deploy: AgentEvent = {
    type: "user",
    ltime: 3,
    name: "deploy",
    payload: null,
    coalesce: true,
  };
  const join: AgentEvent = { type: "memberJoin", members: [member("a", {})] };
  assert.ok(filterMatches({ event: "*", name: "" }, deploy));
  assert.ok(filterMatches({ event: "user", name: "" }, deploy));
  assert.ok(filterMatches({ event: "user", name: "deploy" }, deploy));
  assert.ok(!filterMatches({ event: "user", name: "other" }, deploy));
  assert.ok(!filterMatches({ event: "member-join", name: "" }, deploy));
  assert.ok(filterMatches({ event: "member-join", name: "" }, join));
});

test(
  "handler environment and stdin: Serf's contract",
  { timeout: 5_000 },
  () => {
    const self = member("web-1", { role: "web", "dc-name": "east" });
    const q: AgentEvent = {
      type: "query",
      id: 1,
      ltime: 7,
      name: "uptime",
      payload: new TextEncoder().encode("hi"),
      sourceNode: "x",
      deadlineMs: 0,
    };
    assert.deepEqual(handlerEnv(self, q), {
      SERF_EVENT: "query",
      SERF_SELF_NAME: "web-1",
      SERF_SELF_ROLE: "web",
      SERF_TAG_ROLE: "web",
      SERF_TAG_DC_NAME: "east",
      SERF_QUERY_NAME: "uptime",
      SERF_QUERY_LTIME: "7",
    });
    assert.equal(
      new TextDecoder().decode(handlerStdin(q)),
      "hi\n",
      "a newline is added",
    );
    const e: AgentEvent = {
      type: "memberFailed",
      members: [member("a\tb", { role: "x\ny", k: "v" }), member("c", {})],
    };
    assert.equal(
      new TextDecoder().decode(handlerStdin(e)),
      "a\\tb\t127.0.0.9\tx\\ny\trole=x\\ny,k=v\nc\t127.0.0.9\t\t\n",
    );
    assert.equal(handlerEnv(self, e).SERF_EVENT, "member-failed");
  },
);

test("members-filtered: anchored Go regexps", { timeout: 5_000 }, () => {
  const ms = [
    member("web-1", { role: "web" }),
    member("web-10", { role: "db" }, "failed"),
  ];
  const names = (
    f: { tags?: Map<string, string> | null; status?: string; name?: string },
  ) =>
    filterMembers(ms, {
      tags: f.tags ?? null,
      status: f.status ?? "",
      name: f.name ?? "",
    }).map((m) => m.name);
  assert.deepEqual(
    names({ name: "web-1" }),
    ["web-1"],
    "anchored: web-10 does not match",
  );
  assert.deepEqual(names({ name: "web-.*" }), ["web-1", "web-10"]);
  assert.deepEqual(names({ status: "fail.*" }), ["web-10"]);
  assert.deepEqual(names({ tags: new Map([["role", "w.b"]]) }), ["web-1"]);
  assert.deepEqual(names({ tags: new Map([["zone", ""]]) }), [
    "web-1",
    "web-10",
  ], "a missing tag is empty");
  assert.throws(() => names({ name: "[" }), /Failed to compile regex/);
});

test(
  "log hub: ring of 512 lines, level filter by tag",
  { timeout: 5_000 },
  () => {
    const hub = new LogHub();
    for (let i = 0; i < LOG_BACKLOG_LINES + 10; i++) hub.write(`line ${i}`);
    const back = hub.backlog();
    assert.equal(back.length, LOG_BACKLOG_LINES);
    assert.equal(back[0], "line 10");
    const seen: string[] = [];
    const stop = hub.subscribe((l) => seen.push(l));
    hub.write("new");
    stop();
    hub.write("after");
    assert.equal(seen.length, LOG_BACKLOG_LINES + 1);
    assert.equal(seen.at(-1), "new");
    assert.ok(lineAtLeast("INFO", "2026/01/01 00:00:00 [WARN] x"));
    assert.ok(!lineAtLeast("INFO", "2026/01/01 00:00:00 [DEBUG] x"));
    assert.ok(lineAtLeast("ERR", "no level tag passes"));
  },
);

test("output helpers: columns and datacenters", { timeout: 5_000 }, () => {
  assert.deepEqual(columnize([["a", "bbb", "c"], ["dddd", "e", ""]]), [
    "a     bbb  c",
    "dddd  e    ",
  ]);
  const m = {
    name: "web-1.dc2",
    addr: new Uint8Array([127, 0, 0, 1]),
    port: 1,
    tags: new Map<string, string>(),
    status: "alive",
    protocolMin: 1,
    protocolMax: 5,
    protocolCur: 2,
    delegateMin: 2,
    delegateMax: 5,
    delegateCur: 5,
  };
  assert.equal(memberDatacenter(m), "dc2");
  assert.equal(
    memberDatacenter({ ...m, tags: new Map([["dc", "east"]]) }),
    "east",
  );
});
