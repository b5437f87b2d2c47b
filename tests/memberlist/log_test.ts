import { test } from "node:test";
import assert from "node:assert/strict";
import { configureSync, type LogRecord, resetSync } from "@logtape/logtape";
import { Net } from "./_harness.ts";
import { encodeAccusation, MessageType } from "../../src/codec/messages.ts";

// memberlist's log lines, verbatim, at the same moments (memberlist
// state.go). The sink is configured only here, never by the core.
test("memberlist's log lines: suspect, mark failed, refute, TCP-only warning", () => {
  const lines: string[] = [];
  configureSync({
    reset: true,
    sinks: {
      mem: (r: LogRecord) =>
        lines.push(`${r.level} ${r.message.map(String).join("")}`),
    },
    loggers: [
      {
        category: ["grapevine", "memberlist"],
        sinks: ["mem"],
        lowestLevel: "debug",
      },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "error" },
    ],
  });
  try {
    const net = new Net();
    for (const n of ["a", "b", "c"]) net.add(n);
    net.join("b", ["a"]);
    net.join("c", ["a"]);
    net.run(3000);
    net.down.add("c");
    net.run(15_000);
    assert.ok(
      lines.includes("info Suspect c has failed, no acks received"),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) =>
        /^info Marking c as failed, suspect timeout reached \(\d peer confirmations\)$/
          .test(l)
      ),
      lines.join("\n"),
    );
    // an accusation about ourselves is refuted
    const a = net.get("a");
    a.handlePacket(
      encodeAccusation(MessageType.suspect, {
        node: "a",
        incarnation: a.localMember().incarnation,
        from: "b",
      }),
      net.addr("b"),
      net.now,
    );
    assert.ok(lines.includes("warning Refuting a suspect message (from: b)"));
    // UDP toward b is cut, TCP works
    lines.length = 0;
    net.dropPacket = (from, to) => to === "b" || from === "b";
    net.run(5000);
    assert.ok(
      lines.includes(
        "warning Was able to connect to b but other probes failed, network may be misconfigured",
      ),
      lines.join("\n"),
    );
  } finally {
    resetSync();
  }
});
