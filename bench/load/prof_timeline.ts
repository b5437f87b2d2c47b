// deno-lint-ignore-file no-explicit-any
/** Analysis helper for .cpuprofile files (see bench/load/README.md). @module */
import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync(Deno.args[0], "utf8"));
const byId = new Map(p.nodes.map((n: any) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n: any) =>
  `${n.callFrame.functionName || "(anon)"} ${
    n.callFrame.url.replace(/^.*\/work\/main\//, "").replace(
      /^.*node_modules\//,
      "nm/",
    )
  }:${n.callFrame.lineNumber + 1}`;
let t = p.startTime;
const re = new RegExp(Deno.args[1]);
let start = -1;
const span = Number(Deno.args[2] ?? 80) * 1000;
let prev = "";
p.samples.forEach((id: number, i: number) => {
  t += p.timeDeltas[i] ?? 0;
  const chain: string[] = [];
  for (let c: number | undefined = id; c !== undefined; c = parent.get(c)) {
    chain.push(name(byId.get(c)));
  }
  if (start < 0 && chain.some((x) => re.test(x))) start = t;
  if (start < 0 || t - start > span) return;
  const leaf = chain[0];
  const src = chain.slice(0, 30).filter((x) =>
    /src\/|transports\/|nm\//.test(x)
  ).slice(0, 9).join(" < ");
  const line = `${leaf} | ${src}`;
  if (line !== prev) {
    console.log(`${((t - start) / 1000).toFixed(1).padStart(6)} ${line}`);
  }
  prev = line;
});
