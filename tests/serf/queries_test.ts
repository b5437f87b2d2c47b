import { test } from "node:test";
import assert from "node:assert/strict";
import {
  defaultQueryTimeoutMs,
  encodeQueryFilters,
  kRandomMembers,
  MAX_QUERY_IDS_PER_SLOT,
  OutstandingQuery,
  QueryBuffer,
  shouldProcessQuery,
} from "../../src/serf/queries.ts";
import { goMatchString } from "../../src/serf/go_regexp.ts";
import {
  encodeNodeFilter,
  encodeTagFilter,
} from "../../src/codec/serf_messages.ts";
import { seeded } from "../helpers/prng.ts";
import { toHex } from "../helpers/serf_vectors.ts";

test("default query timeout = GossipInterval × 16 × ceil(log10(n + 1))", {
  timeout: 5_000,
}, () => {
  const rows: Array<[number, number]> = [
    [1, 3_200],
    [2, 3_200],
    [9, 3_200],
    [10, 6_400],
    [99, 6_400],
    [100, 9_600],
    [1000, 12_800],
  ];
  for (const [n, want] of rows) {
    assert.equal(defaultQueryTimeoutMs(200, 16, n), want, `n=${n}`);
  }
  // WAN: 500 ms gossip.
  assert.equal(defaultQueryTimeoutMs(500, 16, 5), 8_000);
});

test("filters: node first, then one per tag; nil when none (captured bytes)", {
  timeout: 5_000,
}, () => {
  assert.equal(encodeQueryFilters({}), null);
  const f = encodeQueryFilters({
    filterNodes: ["s2"],
    filterTags: new Map([["role", "web"]]),
  })!;
  // udp-query-filters-relayfactor: 92 a5 00 91 a2 "s2" b4 01 82 a4 "Expr" a3 "web" a3 "Tag" a4 "role"
  assert.deepEqual(f.map(toHex), [
    "0091a27332",
    "0182a445787072a3776562a3546167a4726f6c65",
  ]);
});

test(
  "shouldProcessQuery: every filter must match; unknown or broken filters never match",
  { timeout: 5_000 },
  () => {
    const tags = new Map([["role", "web-1"], ["dc", "east"]]);
    const run = (filters: Uint8Array[] | null) =>
      shouldProcessQuery(filters, "s2", tags).process;
    assert.equal(run(null), true);
    assert.equal(run([encodeNodeFilter(["s1", "s2"])]), true);
    assert.equal(run([encodeNodeFilter(["s1"])]), false);
    assert.equal(run([encodeTagFilter("role", "web")]), true, "unanchored");
    assert.equal(run([encodeTagFilter("role", "^web$")]), false);
    assert.equal(run([encodeTagFilter("role", "^web-[0-9]$")]), true);
    assert.equal(
      run([encodeTagFilter("missing", "^$")]),
      true,
      'a missing tag is ""',
    );
    assert.equal(run([encodeTagFilter("missing", ".")]), false);
    assert.equal(
      run([encodeNodeFilter(["s2"]), encodeTagFilter("dc", "west")]),
      false,
    );
    const unknown = shouldProcessQuery([Uint8Array.of(7, 0x90)], "s2", tags);
    assert.deepEqual(unknown, {
      process: false,
      warning: "query has unrecognized filter type: 7",
    });
    const badRe = shouldProcessQuery(
      [encodeTagFilter("role", "(?=web)")],
      "s2",
      tags,
    );
    assert.equal(badRe.process, false);
    assert.match(
      badRe.warning!,
      /^failed to compile filter regex \(\(\?=web\)\)/,
    );
    assert.equal(
      run([Uint8Array.of(0, 0xc1)]),
      false,
      "undecodable node filter",
    );
    assert.equal(run([new Uint8Array(0)]), false, "empty filter");
  },
);

test(
  "Go regexp semantics on JS: a table of RE2 matches",
  { timeout: 5_000 },
  () => {
    // [pattern, text, Go's regexp.MatchString result (true/false) or "error"]
    const rows: Array<[string, string, boolean | "error"]> = [
      ["web", "webserver", true],
      ["^web$", "webserver", false],
      ["(?i)WEB", "web", true],
      ["(?s)a.b", "a\nb", true],
      ["a.b", "a\nb", false],
      ["a.b", "a\rb", true], // JS "." refuses \r; Go's only refuses \n
      ["(?m)^b$", "a\nb\nc", true],
      ["(?m)^b$", "a\rb\rc", false], // only \n ends a line in Go
      ["^b$", "a\nb", false],
      ["\\Qa.b\\E", "a.b", true],
      ["\\Qa.b\\E", "axb", false],
      ["\\Aab", "ab", true],
      ["ab\\z", "ab", true],
      ["ab\\z", "ab\n", false],
      ["[[:digit:]]+", "abc1", true],
      ["[[:alpha:]]", "123", false],
      ["\\s", "\v", false], // Go's \s has no \v
      ["\\s", "\t", true],
      ["[\\s]", "\u00a0", false], // nor Unicode spaces
      ["\\pL", "é", true],
      ["\\p{Greek}", "λ", true],
      ["\\x{263a}", "☺", true],
      ["\\x41", "A", true],
      ["\\101", "A", true], // octal
      ["a{", "a{", true], // a literal brace
      ["a{2}", "aa", true],
      ["a{2,3}b", "aab", true],
      ["x{1001}", "x", "error"],
      ["\\-\\#\\~", "-#~", true],
      ["[\\-a]", "-", true],
      ["[]a]", "]", true],
      ["(?P<n>x)y", "xy", true],
      ["(?=x)", "x", "error"],
      ["(?!x)", "x", "error"],
      ["(?<=x)y", "xy", "error"],
      ["(a)\\1", "aa", "error"],
      ["(?<n>x)", "x", "error"], // Go 1.19 lacks this form
      ["a**", "a", "error"],
      ["*a", "a", "error"],
      ["(", "(", "error"],
      ["[a", "a", "error"],
      ["\\y", "y", "error"],
      ["web|db", "db-1", true],
      ["", "anything", true],
    ];
    for (const [re, text, want] of rows) {
      const got = goMatchString(re, text);
      if (want === "error") {
        assert.equal(
          typeof got,
          "string",
          `${re} should not compile`,
        );
      } else {assert.equal(
          got,
          want,
          `${JSON.stringify(re)} on ${JSON.stringify(text)}`,
        );}
    }
  },
);

test("query ring: dedupe by (LTime, ID), min time, too old, bounded slots", {
  timeout: 5_000,
}, () => {
  const b = new QueryBuffer(512);
  assert.equal(b.accept(3, 77, 4), "new");
  assert.equal(b.accept(3, 77, 4), "duplicate");
  assert.equal(b.accept(3, 78, 4), "new");
  assert.equal(b.accept(1, 1, 1000), "tooOld");
  b.minTime = 10;
  assert.equal(b.accept(9, 5, 11), "beforeMinTime");
  for (let i = 0; i < MAX_QUERY_IDS_PER_SLOT; i++) b.accept(20, 1000 + i, 21);
  assert.equal(b.accept(20, 5, 21), "slotFull");
});

test("outstanding query: matches the id, counts each member once per kind", {
  timeout: 5_000,
}, () => {
  const q = new OutstandingQuery({
    queryId: 1,
    ltime: 4,
    id: 99,
    deadlineMs: 3200,
    ackRequested: true,
    owner: { kind: "user" },
    numNodes: 3,
  });
  const r = (from: string, flags: number, id = 99) =>
    q.record({ ltime: 4, id, from, flags, payload: null });
  assert.equal(r("a", 1), "ack");
  assert.equal(r("a", 1), "duplicate");
  assert.equal(r("a", 0), "response");
  assert.equal(r("a", 0), "duplicate", "a relayed copy");
  assert.equal(r("b", 0, 98), "mismatch");
  assert.deepEqual([q.acks, q.responses], [1, 1]);
});

test("relay selection (kRandomMembers): distinct, filtered, at most k", {
  timeout: 5_000,
}, () => {
  const members = ["a", "b", "c", "d", "e"].map((name) => ({
    name,
    ok: name !== "c",
  }));
  const prng = seeded(7);
  for (let i = 0; i < 50; i++) {
    const k = 1 + (i % 4);
    const got = kRandomMembers(k, members, (m) => !m.ok, prng);
    assert.ok(got.length <= k);
    assert.equal(new Set(got.map((m) => m.name)).size, got.length);
    assert.ok(got.every((m) => m.ok));
  }
  assert.deepEqual(kRandomMembers(3, [{ name: "x" }], () => true, prng), []);
});
