/**
 * Top self-time and inclusive-time functions of a V8/JSC .cpuprofile.
 * Run: deno run -A bench/load/prof_top.ts FILE.cpuprofile [count]
 */
import { readFileSync } from "node:fs";
import process from "node:process";
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const p = JSON.parse(readFileSync(process.argv[2], "utf8")) as {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
};
const top = Number(process.argv[3] ?? 40);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const key = (n: Node): string =>
  `${n.callFrame.functionName || "(anon)"} ${
    n.callFrame.url.replace(/^.*\/work\/main\//, "")
  }:${n.callFrame.lineNumber + 1}`;
const self = new Map<string, number>();
const incl = new Map<string, number>();
let total = 0;
p.samples.forEach((id, i) => {
  const dt = p.timeDeltas[i] ?? 0;
  total += dt;
  const n = byId.get(id)!;
  self.set(key(n), (self.get(key(n)) ?? 0) + dt);
  const seen = new Set<string>();
  for (
    let cur: number | undefined = id;
    cur !== undefined;
    cur = parent.get(cur)
  ) {
    const k = key(byId.get(cur)!);
    if (!seen.has(k)) incl.set(k, (incl.get(k) ?? 0) + dt), seen.add(k);
  }
});
const show = (m: Map<string, number>, title: string): void => {
  console.log(`\n${title} (total ${(total / 1000).toFixed(0)} ms)`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(
      `${(v / 1000).toFixed(0).padStart(7)} ms ${
        (100 * v / total).toFixed(1).padStart(5)
      }%  ${k}`,
    );
  }
};
show(self, "self");
show(incl, "inclusive");
