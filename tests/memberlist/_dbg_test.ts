import { test } from "node:test";
import { Net } from "./_harness.ts";
test("dbg", () => {
  const net = new Net();
  net.add("a"); net.add("b"); net.add("c");
  net.join("b", ["a"]); net.join("c", ["a"]);
  net.run(3000);
  net.dropPacket = (from, to) => from === "a" || to === "a";
  net.refuseStream = (from, to) => from === "a" || to === "a";
  net.runUntil(4999);
  const m = net.get("a");
  console.log(m.deadlines(), m.stats().probes);
  m.handleTimeout(5000);
  console.log(m.deadlines(), m.stats().probes);
});
