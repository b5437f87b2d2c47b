// deno-lint-ignore-file no-explicit-any
/** Analysis helper for .cpuprofile files (see bench/load/README.md). @module */
import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync(Deno.args[0], "utf8"));
const byId = new Map(p.nodes.map((n: any) => [n.id, n]));
const selfT = new Map<number, number>();
p.samples.forEach((id: number, i: number) =>
  selfT.set(id, (selfT.get(id) ?? 0) + (p.timeDeltas[i] ?? 0))
);
const tot = (id: number): number => {
  const n: any = byId.get(id);
  return (selfT.get(id) ?? 0) +
    (n.children ?? []).reduce((a: number, c: number) => a + tot(c), 0);
};
const name = (n: any) =>
  `${n.callFrame.functionName || "(anon)"} ${
    n.callFrame.url.replace(/^.*\/work\/main\//, "")
  }:${n.callFrame.lineNumber + 1}`;
const re = new RegExp(Deno.args[1]);
const minMs = Number(Deno.args[2] ?? 3);
const show = (id: number, d: number) => {
  const n: any = byId.get(id);
  const t = tot(id) / 1000;
  if (t < minMs) return;
  console.log(`${" ".repeat(d * 2)}${t.toFixed(0)} ms ${name(n)}`);
  for (const c of n.children ?? []) show(c, d + 1);
};
for (const n of p.nodes) if (re.test(name(n))) show(n.id, 0);
