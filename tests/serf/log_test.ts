import { test } from "node:test";
import assert from "node:assert/strict";
import { configureSync, type LogRecord, resetSync } from "@logtape/logtape";
import { recordEvents, serfCluster } from "./_harness.ts";
import { TinyNet } from "./_harness.ts";

// Serf's own log lines (serf.go, delegate.go), at the same moments. The
// sink is configured only here, never by the core.
test("Serf's log lines: member events, intents, conflict vote", {
  timeout: 30_000,
}, () => {
  const lines: string[] = [];
  configureSync({
    reset: true,
    sinks: {
      mem: (r: LogRecord) =>
        lines.push(`${r.level} ${r.message.map(String).join("")}`),
    },
    loggers: [
      { category: ["grapevine", "serf"], sinks: ["mem"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "error" },
    ],
  });
  try {
    const c = serfCluster({ seed: 31 });
    c.start(4);
    recordEvents(c);
    c.joinAll();
    c.run(5_000);
    assert.ok(
      lines.includes("info serf: EventMemberJoin: b 10.0.0.2"),
      lines.slice(0, 20).join("\n"),
    );
    assert.ok(lines.includes("debug serf: messageJoinType: b"));
    c.leave("d");
    c.run(8_000);
    assert.ok(lines.includes("info serf: EventMemberLeave: d 10.0.0.4"));
    assert.ok(lines.includes("debug serf: messageLeaveType: d"));
    c.crash("c");
    c.run(30_000);
    assert.ok(lines.includes("info serf: EventMemberFailed: c 10.0.0.3"));
    const net = new TinyNet();
    net.add("s1", "127.0.0.1");
    net.add("s2", "127.0.0.2");
    net.invoke(
      "s2",
      (s, now) => s.join([{ host: "127.0.0.1", port: 7946 }], false, now),
    );
    net.run(2_000);
    net.add("s1b", "127.0.0.3", { nodeName: "s1" });
    net.invoke(
      "s1b",
      (s, now) => s.join([{ host: "127.0.0.2", port: 7946 }], false, now),
    );
    net.run(6_000);
    assert.ok(
      lines.includes(
        "warning serf: minority in name conflict resolution, quitting [0 / 1]",
      ),
    );
    assert.ok(
      lines.some((l) =>
        l.startsWith(
          "error serf: Node name conflicts with another node at 127.0.0.",
        )
      ),
    );
  } finally {
    resetSync();
  }
});
