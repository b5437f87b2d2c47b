import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decode as oracleDecode,
  encode as oracleEncode,
} from "@msgpack/msgpack";
import {
  MsgpackReader,
  MsgpackWriter,
  readStruct,
  utf8Length,
} from "../../src/codec/msgpack.ts";
import { DecodeError } from "../../src/codec/errors.ts";
import { seeded } from "../helpers/prng.ts";

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

test("legacy strings: fixstr, then str16 for 32..255 bytes (no str8)", () => {
  const w = new MsgpackWriter("legacy");
  assert.equal(hex(w.str("s1").finish()), "a27331");
  const s32 = "x".repeat(32);
  assert.equal(hex(w.reset().str(s32).finish()).slice(0, 6), "da0020");
  assert.equal(
    hex(w.reset().str("y".repeat(255)).finish()).slice(0, 6),
    "da00ff",
  );
  const big = "z".repeat(70000);
  assert.equal(hex(w.reset().str(big).finish()).slice(0, 10), "db00011170");
});

test("legacy []byte goes out as str, rpc []byte as bin", () => {
  const ip = new Uint8Array([127, 0, 0, 2]);
  assert.equal(
    hex(new MsgpackWriter("legacy").bytes(ip).finish()),
    "a47f000002",
  );
  assert.equal(
    hex(new MsgpackWriter("rpc").bytes(ip).finish()),
    "c4047f000002",
  );
  const payload = new Uint8Array(480);
  assert.equal(
    hex(new MsgpackWriter("rpc").bytes(payload).finish()).slice(0, 6),
    "c501e0",
  );
  // nil and empty differ (SPEC §1.1 pitfall 6).
  assert.equal(hex(new MsgpackWriter().bytes(null).finish()), "c0");
  assert.equal(
    hex(new MsgpackWriter().bytes(new Uint8Array(0)).finish()),
    "a0",
  );
});

test("rpc strings use str8 for 32..255 bytes", () => {
  const w = new MsgpackWriter("rpc");
  assert.equal(hex(w.str("e".repeat(71)).finish()).slice(0, 4), "d947");
});

test("integers take the smallest unsigned form whatever the Go type", () => {
  const cases: Array<[number, string]> = [
    [0, "00"],
    [127, "7f"],
    [128, "cc80"],
    [255, "ccff"],
    [586, "cd024a"],
    [20451, "cd4fe3"],
    [3_000_000_000, "ceb2d05e00"],
    [2 ** 32, "cf0000000100000000"],
    [-1, "ff"],
    [-32, "e0"],
    [-33, "d0df"],
    [-200, "d1ff38"],
    [-70000, "d2fffeee90"],
  ];
  for (const [v, want] of cases) {
    assert.equal(hex(new MsgpackWriter().int(v).finish()), want, `int ${v}`);
    assert.equal(
      new MsgpackReader(new MsgpackWriter().int(v).finish()).int(),
      v,
    );
  }
});

test("floats are always float64, 0.0 included", () => {
  assert.equal(
    hex(new MsgpackWriter().float64(0).finish()),
    "cb0000000000000000",
  );
  const r = new MsgpackReader(new MsgpackWriter().float64(1.5).finish());
  assert.equal(r.float(), 1.5);
  // Go accepts integers and float32 where a float is expected.
  assert.equal(new MsgpackReader(new Uint8Array([0x05])).float(), 5);
  assert.equal(
    new MsgpackReader(new Uint8Array([0xca, 0x3f, 0xc0, 0, 0])).float(),
    1.5,
  );
});

test("reader accepts go-msgpack v2 signed forms (SPEC §11)", () => {
  assert.equal(
    new MsgpackReader(new Uint8Array([0xd1, 0x02, 0x4a])).int(),
    586,
  );
  const dur = new Uint8Array([0xd3, 0, 0, 0, 0, 0xb2, 0xd0, 0x5e, 0]);
  assert.equal(new MsgpackReader(dur).int(), 3_000_000_000);
});

test("uint range checks reject negatives and overflow with DecodeError", () => {
  assert.throws(
    () => new MsgpackReader(new Uint8Array([0xff])).uint(32),
    DecodeError,
  );
  assert.throws(
    () => new MsgpackReader(new Uint8Array([0xcd, 1, 0])).uint(8),
    DecodeError,
  );
});

test("headers for maps and arrays, with nil slices", () => {
  const w = new MsgpackWriter();
  assert.equal(hex(w.map(5).finish()), "85");
  assert.equal(hex(w.reset().map(16).finish()), "de0010");
  assert.equal(hex(w.reset().array(512).finish()), "dc0200");
  assert.equal(hex(w.reset().stringArray(null).finish()), "c0");
  assert.equal(hex(w.reset().stringArray([]).finish()), "90");
  assert.equal(new MsgpackReader(new Uint8Array([0xc0])).array(), -1);
});

test("readStruct reads keys in any order and skips unknown ones", () => {
  const w = new MsgpackWriter();
  w.map(3).str("Zzz").value([1, { a: [2, 3] }]).str("B").int(7).str("A").str(
    "x",
  );
  const r = new MsgpackReader(w.finish());
  const got: Record<string, unknown> = {};
  readStruct(r, (k) => {
    if (k === "A") got.A = r.str();
    else if (k === "B") got.B = r.int();
    else return false;
    return true;
  });
  assert.deepEqual(got, { A: "x", B: 7 });
  assert.equal(r.remaining, 0);
});

test("utf8Length matches TextEncoder", () => {
  for (const s of ["", "abc", "é", "日本語", "🎉x", "\ud800"]) {
    assert.equal(utf8Length(s), new TextEncoder().encode(s).length, s);
  }
});

// A random value that both codecs represent the same way in the new spec.
function randomValue(rand: () => number, depth: number): unknown {
  const kind = Math.floor(rand() * (depth > 3 ? 6 : 8));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2: {
      const mags = [1, 2 ** 7, 2 ** 8, 2 ** 16, 2 ** 32, 2 ** 40];
      const m = mags[Math.floor(rand() * mags.length)];
      const v = Math.floor(rand() * m);
      return rand() < 0.3 ? -v : v;
    }
    case 3:
      return rand() * 1e6 + 0.5;
    case 4: {
      const n = Math.floor(rand() * (rand() < 0.1 ? 300 : 40));
      let s = "";
      for (let i = 0; i < n; i++) s += String.fromCharCode(32 + rand() * 2000);
      return s;
    }
    case 5: {
      const n = Math.floor(rand() * (rand() < 0.1 ? 70000 : 50));
      return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
    }
    case 6:
      return Array.from(
        { length: Math.floor(rand() * 5) },
        () => randomValue(rand, depth + 1),
      );
    default: {
      const o: Record<string, unknown> = {};
      const n = Math.floor(rand() * 5);
      for (let i = 0; i < n; i++) o[`k${i}`] = randomValue(rand, depth + 1);
      return o;
    }
  }
}

function toPlain(v: unknown): unknown {
  if (v instanceof Map) {
    return Object.fromEntries([...v].map(([k, x]) => [k, toPlain(x)]));
  }
  if (Array.isArray(v)) return v.map(toPlain);
  return v;
}

test("rpc mode is byte-identical to @msgpack/msgpack on random values", () => {
  const rand = seeded(42);
  for (let i = 0; i < 2000; i++) {
    const v = randomValue(rand, 0);
    const ours = new MsgpackWriter("rpc").value(v).finish();
    const theirs = oracleEncode(v);
    assert.equal(hex(ours), hex(theirs), `value #${i}`);
    const back = new MsgpackReader(ours).value();
    assert.deepEqual(toPlain(back), oracleDecode(theirs));
  }
});

test("legacy mode round-trips random values (strings read back raw)", () => {
  const rand = seeded(7);
  for (let i = 0; i < 2000; i++) {
    const v = randomValue(rand, 0);
    const bytes = new MsgpackWriter("legacy").value(v).finish();
    const r = new MsgpackReader(bytes);
    r.skip();
    assert.equal(r.remaining, 0);
    // Read back with strings kept raw (the old spec cannot tell strings from
    // bytes), then write again: the bytes must be identical.
    const back = new MsgpackReader(bytes).value(true);
    assert.equal(
      hex(new MsgpackWriter("legacy").value(back).finish()),
      hex(bytes),
    );
    // The oracle reads the old spec too; it must agree on the shape.
    oracleDecode(bytes);
  }
});

test("reader on garbage throws only DecodeError and never hangs", () => {
  const rand = seeded(99);
  let errors = 0;
  for (let i = 0; i < 20000; i++) {
    const n = Math.floor(rand() * 40);
    const buf = Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
    try {
      const r = new MsgpackReader(buf);
      while (r.remaining > 0) r.value(i % 2 === 0);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `unexpected ${e}`);
      errors++;
    }
  }
  assert.ok(errors > 1000);
});

test("huge declared sizes are refused before allocation", () => {
  // array32 of 4 billion items with 3 bytes behind it.
  const arr = new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
  assert.throws(() => new MsgpackReader(arr).value(), DecodeError);
  const map = new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff, 1]);
  assert.throws(() => new MsgpackReader(map).value(), DecodeError);
  const str = new Uint8Array([0xdb, 0xff, 0xff, 0xff, 0xff, 1]);
  assert.throws(() => new MsgpackReader(str).str(), DecodeError);
});

test("deep nesting is refused with DecodeError", () => {
  const deep = new Uint8Array(1000).fill(0x91);
  assert.throws(() => new MsgpackReader(deep).value(), DecodeError);
  assert.throws(() => new MsgpackReader(deep).skip(), DecodeError);
});
