/**
 * A schema-aware msgpack writer and reader for the two dialects HashiCorp's
 * tools put on the wire (SPEC §1):
 *
 * - `"legacy"`: go-msgpack 0.5.5 `MsgpackHandle{}` used by memberlist and Serf
 *   gossip. The old spec has no str8 and no bin: strings *and* `[]byte` go out
 *   as fixstr / str16 / str32.
 * - `"rpc"`: the agent RPC handle (`RawToString: true, WriteExt: true`), the
 *   new spec: str8 for 32..255-byte strings and bin for `[]byte`.
 *
 * In both, integers use the smallest unsigned form whatever the Go type, and
 * floats are always float64. Callers write struct keys in sorted order, as
 * go-msgpack does (SPEC §1.1).
 *
 * The reader accepts every format of both dialects (and the signed integer
 * forms of go-msgpack v2 peers, SPEC §11) and throws only {@link DecodeError}.
 *
 * @module
 */

import { DecodeError } from "./errors.ts";

/** Which msgpack dialect a {@linkcode MsgpackWriter} emits. */
export type MsgpackMode = "legacy" | "rpc";

/** The deepest nesting {@linkcode MsgpackReader.value} and `skip` accept. */
export const MAX_DEPTH = 32;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });
const TWO_32 = 0x1_0000_0000;

/** Number of bytes `s` takes in UTF-8, without allocating. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

const SLAB_BYTES = 64 * 1024;
const SLAB_MAX_ITEM = 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabOffset = 0;

function slabTake(n: number): Uint8Array {
  if (slabOffset + n > SLAB_BYTES) {
    // The old slab lives on only through the views still held.
    slab = new Uint8Array(SLAB_BYTES);
    slabOffset = 0;
  }
  const out = slab.subarray(slabOffset, slabOffset + n);
  slabOffset += (n + 7) & ~7;
  return out;
}

/**
 * A growable msgpack writer. Reuse one with {@linkcode MsgpackWriter.reset}
 * on hot paths to avoid allocating a buffer per message.
 */
export class MsgpackWriter {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;
  readonly #rpc: boolean;

  /**
   * Make a writer for one dialect.
   *
   * @param mode `"legacy"` for gossip (default) or `"rpc"` for agent RPC
   * @param initialBytes starting capacity; the buffer grows as needed
   */
  constructor(mode: MsgpackMode = "legacy", initialBytes = 256) {
    this.#rpc = mode === "rpc";
    this.#buf = new Uint8Array(initialBytes);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#pos;
  }

  /** Forget what was written, keeping the buffer. */
  reset(): this {
    this.#pos = 0;
    return this;
  }

  /**
   * A copy of the bytes written so far. Small results are views into a
   * shared slab (like Node's Buffer pool): allocating an ArrayBuffer per
   * message costs more than encoding it on V8. Always honour `byteOffset`.
   */
  finish(): Uint8Array {
    const n = this.#pos;
    if (n > SLAB_MAX_ITEM) return this.#buf.slice(0, n);
    const out = slabTake(n);
    const b = this.#buf;
    if (n < 64) { for (let i = 0; i < n; i++) out[i] = b[i]; }
    else out.set(b.subarray(0, n));
    return out;
  }

  #ensure(n: number): void {
    const need = this.#pos + n;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** Append one raw byte (e.g. a message type). */
  byte(b: number): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = b;
    return this;
  }

  /** Append raw bytes verbatim. */
  raw(bytes: Uint8Array): this {
    const n = bytes.length;
    this.#ensure(n);
    if (n < 16) {
      // A loop beats TypedArray#set for the few bytes of a key.
      const b = this.#buf;
      for (let i = 0; i < n; i++) b[this.#pos + i] = bytes[i];
    } else this.#buf.set(bytes, this.#pos);
    this.#pos += n;
    return this;
  }

  /** nil (`0xc0`). */
  nil(): this {
    return this.byte(0xc0);
  }

  /** bool (`0xc2` / `0xc3`). */
  bool(v: boolean): this {
    return this.byte(v ? 0xc3 : 0xc2);
  }

  /**
   * An integer in the smallest form: unsigned for v ≥ 0 whatever the Go
   * type (SPEC §1.1), signed forms only for negatives.
   */
  int(v: number): this {
    if (!Number.isInteger(v)) throw new RangeError(`Not an integer: ${v}`);
    this.#ensure(9);
    const b = this.#buf;
    if (v >= 0) {
      if (v < 0x80) b[this.#pos++] = v;
      else if (v < 0x100) {
        b[this.#pos++] = 0xcc;
        b[this.#pos++] = v;
      } else if (v < 0x10000) {
        b[this.#pos++] = 0xcd;
        this.#view.setUint16(this.#pos, v);
        this.#pos += 2;
      } else if (v < TWO_32) {
        b[this.#pos++] = 0xce;
        this.#view.setUint32(this.#pos, v);
        this.#pos += 4;
      } else {
        b[this.#pos++] = 0xcf;
        this.#view.setBigUint64(this.#pos, BigInt(v));
        this.#pos += 8;
      }
    } else if (v >= -32) b[this.#pos++] = v & 0xff;
    else if (v >= -128) {
      b[this.#pos++] = 0xd0;
      this.#view.setInt8(this.#pos++, v);
    } else if (v >= -32768) {
      b[this.#pos++] = 0xd1;
      this.#view.setInt16(this.#pos, v);
      this.#pos += 2;
    } else if (v >= -0x8000_0000) {
      b[this.#pos++] = 0xd2;
      this.#view.setInt32(this.#pos, v);
      this.#pos += 4;
    } else {
      b[this.#pos++] = 0xd3;
      this.#view.setBigInt64(this.#pos, BigInt(v));
      this.#pos += 8;
    }
    return this;
  }

  /** A float64 (`0xcb`), 0.0 included, as Go writes every float64. */
  float64(v: number): this {
    this.#ensure(9);
    this.#buf[this.#pos++] = 0xcb;
    this.#view.setFloat64(this.#pos, v);
    this.#pos += 8;
    return this;
  }

  #strHeader(n: number): void {
    this.#ensure(5 + n);
    const b = this.#buf;
    if (n < 32) b[this.#pos++] = 0xa0 | n;
    else if (n < 0x100 && this.#rpc) {
      b[this.#pos++] = 0xd9;
      b[this.#pos++] = n;
    } else if (n < 0x10000) {
      // The legacy spec has no str8: 32..255 bytes take str16 (SPEC §1.1).
      b[this.#pos++] = 0xda;
      this.#view.setUint16(this.#pos, n);
      this.#pos += 2;
    } else {
      b[this.#pos++] = 0xdb;
      this.#view.setUint32(this.#pos, n);
      this.#pos += 4;
    }
  }

  /** A string (UTF-8). */
  str(s: string): this {
    // ASCII fast path: most names and keys are short ASCII.
    let ascii = s.length < 64;
    if (ascii) {
      for (let i = 0; i < s.length; i++) {
        if (s.charCodeAt(i) >= 0x80) {
          ascii = false;
          break;
        }
      }
    }
    if (ascii) {
      this.#strHeader(s.length);
      const b = this.#buf;
      for (let i = 0; i < s.length; i++) b[this.#pos++] = s.charCodeAt(i);
      return this;
    }
    const bytes = encoder.encode(s);
    this.#strHeader(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
    return this;
  }

  /**
   * A Go `[]byte`: str family in legacy mode, bin in rpc mode; `null` is nil
   * (Go's nil slice, distinct from empty, SPEC §1.1).
   */
  bytes(v: Uint8Array | null): this {
    if (v === null) return this.nil();
    const n = v.length;
    if (!this.#rpc) this.#strHeader(n);
    else {
      this.#ensure(5 + n);
      const b = this.#buf;
      if (n < 0x100) {
        b[this.#pos++] = 0xc4;
        b[this.#pos++] = n;
      } else if (n < 0x10000) {
        b[this.#pos++] = 0xc5;
        this.#view.setUint16(this.#pos, n);
        this.#pos += 2;
      } else {
        b[this.#pos++] = 0xc6;
        this.#view.setUint32(this.#pos, n);
        this.#pos += 4;
      }
    }
    if (n < 16) {
      // A loop beats TypedArray#set for addresses and version bytes.
      const b = this.#buf;
      for (let i = 0; i < n; i++) b[this.#pos + i] = v[i];
    } else this.#buf.set(v, this.#pos);
    this.#pos += n;
    return this;
  }

  /** A map header for `n` entries. */
  map(n: number): this {
    this.#ensure(5);
    if (n < 16) this.#buf[this.#pos++] = 0x80 | n;
    else if (n < 0x10000) {
      this.#buf[this.#pos++] = 0xde;
      this.#view.setUint16(this.#pos, n);
      this.#pos += 2;
    } else {
      this.#buf[this.#pos++] = 0xdf;
      this.#view.setUint32(this.#pos, n);
      this.#pos += 4;
    }
    return this;
  }

  /** An array header for `n` items. */
  array(n: number): this {
    this.#ensure(5);
    if (n < 16) this.#buf[this.#pos++] = 0x90 | n;
    else if (n < 0x10000) {
      this.#buf[this.#pos++] = 0xdc;
      this.#view.setUint16(this.#pos, n);
      this.#pos += 2;
    } else {
      this.#buf[this.#pos++] = 0xdd;
      this.#view.setUint32(this.#pos, n);
      this.#pos += 4;
    }
    return this;
  }

  /** A `map[string]string` (Go map: order as given), nil when `null`. */
  stringMap(m: ReadonlyMap<string, string> | null): this {
    if (m === null) return this.nil();
    this.map(m.size);
    for (const [k, v] of m) this.str(k).str(v);
    return this;
  }

  /** A `[]string`, nil when `null`. */
  stringArray(a: readonly string[] | null): this {
    if (a === null) return this.nil();
    this.array(a.length);
    for (const s of a) this.str(s);
    return this;
  }

  /**
   * A generic value: null, boolean, integer or float, string, Uint8Array
   * (as `[]byte`), arrays, `Map`s and plain objects (keys in their order).
   * Non-integer numbers are float64. Used for RPC bodies and tests.
   */
  value(v: unknown): this {
    if (v === null || v === undefined) return this.nil();
    switch (typeof v) {
      case "boolean":
        return this.bool(v);
      case "number":
        return Number.isInteger(v) ? this.int(v) : this.float64(v);
      case "bigint":
        return this.int(Number(v));
      case "string":
        return this.str(v);
    }
    if (v instanceof Uint8Array) return this.bytes(v);
    if (Array.isArray(v)) {
      this.array(v.length);
      for (const x of v) this.value(x);
      return this;
    }
    if (v instanceof Map) {
      this.map(v.size);
      for (const [k, x] of v) this.value(k).value(x);
      return this;
    }
    if (typeof v === "object") {
      const entries = Object.entries(v as Record<string, unknown>);
      this.map(entries.length);
      for (const [k, x] of entries) this.str(k).value(x);
      return this;
    }
    throw new TypeError(`Cannot encode ${typeof v} as msgpack`);
  }
}

/** A decoded generic msgpack value (see {@linkcode MsgpackReader.value}). */
export type MsgpackValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | MsgpackValue[]
  | Map<string | number, MsgpackValue>;

/**
 * A cursor over msgpack bytes. Every read checks bounds and format and throws
 * {@link DecodeError} on anything else, so callers never see a RangeError
 * from a short buffer.
 */
export class MsgpackReader {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  #pos: number;
  readonly #end: number;

  /**
   * Read `buf` from `start`.
   *
   * @param buf the bytes to read
   * @param start offset of the first byte to read
   */
  constructor(buf: Uint8Array, start = 0) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#pos = start;
    this.#end = buf.length;
  }

  /** Offset of the next unread byte. */
  get offset(): number {
    return this.#pos;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.#end - this.#pos;
  }

  /** The unread bytes (a view, no copy). */
  rest(): Uint8Array {
    return this.#buf.subarray(this.#pos);
  }

  #need(n: number): void {
    if (this.#pos + n > this.#end) {
      throw new DecodeError("truncated", "msgpack: unexpected end of input");
    }
  }

  #u8(): number {
    this.#need(1);
    return this.#buf[this.#pos++];
  }

  /** The next format byte, without consuming it. */
  peek(): number {
    this.#need(1);
    return this.#buf[this.#pos];
  }

  /** True (and consumes it) if the next item is nil. */
  tryNil(): boolean {
    if (this.peek() === 0xc0) {
      this.#pos++;
      return true;
    }
    return false;
  }

  /** A bool; like Go, also accepts the fixints 0 and 1, and nil as false. */
  bool(): boolean {
    const b = this.#u8();
    if (b === 0xc3 || b === 0x01) return true;
    if (b === 0xc2 || b === 0x00 || b === 0xc0) return false;
    throw this.#typeError("bool", b);
  }

  #typeError(want: string, b: number): DecodeError {
    return new DecodeError(
      "type",
      `msgpack: expected ${want}, found format 0x${b.toString(16)} at ${
        this.#pos - 1
      }`,
    );
  }

  /** Any integer format (and nil as 0, as Go decodes it into a number). */
  int(): number {
    const b = this.#u8();
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    let v: number;
    switch (b) {
      case 0xc0:
        return 0;
      case 0xcc:
        this.#need(1);
        return this.#buf[this.#pos++];
      case 0xcd:
        this.#need(2);
        v = this.#view.getUint16(this.#pos);
        this.#pos += 2;
        return v;
      case 0xce:
        this.#need(4);
        v = this.#view.getUint32(this.#pos);
        this.#pos += 4;
        return v;
      case 0xcf:
        this.#need(8);
        v = Number(this.#view.getBigUint64(this.#pos));
        this.#pos += 8;
        return v;
      case 0xd0:
        this.#need(1);
        return this.#view.getInt8(this.#pos++);
      case 0xd1:
        this.#need(2);
        v = this.#view.getInt16(this.#pos);
        this.#pos += 2;
        return v;
      case 0xd2:
        this.#need(4);
        v = this.#view.getInt32(this.#pos);
        this.#pos += 4;
        return v;
      case 0xd3:
        this.#need(8);
        v = Number(this.#view.getBigInt64(this.#pos));
        this.#pos += 8;
        return v;
    }
    throw this.#typeError("integer", b);
  }

  /** An unsigned integer that must fit in `bits` bits (Go rejects overflow). */
  uint(bits: 8 | 16 | 32 | 64 = 64): number {
    const v = this.int();
    const max = bits === 64 ? Number.MAX_SAFE_INTEGER : 2 ** bits - 1;
    if (v < 0 || v > max) {
      throw new DecodeError(
        "range",
        `msgpack: ${v} does not fit in uint${bits}`,
      );
    }
    return v;
  }

  /** A float (float32, float64 or any integer, as Go accepts). */
  float(): number {
    const b = this.peek();
    if (b === 0xcb) {
      this.#pos++;
      this.#need(8);
      const v = this.#view.getFloat64(this.#pos);
      this.#pos += 8;
      return v;
    }
    if (b === 0xca) {
      this.#pos++;
      this.#need(4);
      const v = this.#view.getFloat32(this.#pos);
      this.#pos += 4;
      return v;
    }
    return this.int();
  }

  /** Length of a str or bin item whose format byte is `b`, or -1. */
  #rawLength(b: number): number {
    if ((b & 0xe0) === 0xa0) return b & 0x1f;
    switch (b) {
      case 0xd9:
      case 0xc4:
        return this.#u8();
      case 0xda:
      case 0xc5: {
        this.#need(2);
        const n = this.#view.getUint16(this.#pos);
        this.#pos += 2;
        return n;
      }
      case 0xdb:
      case 0xc6: {
        this.#need(4);
        const n = this.#view.getUint32(this.#pos);
        this.#pos += 4;
        return n;
      }
    }
    return -1;
  }

  /**
   * Raw bytes of a str or bin item (a view into the input, no copy), or
   * `null` for nil (Go's nil slice).
   */
  bytes(): Uint8Array | null {
    const b = this.#u8();
    if (b === 0xc0) return null;
    const n = this.#rawLength(b);
    if (n < 0) throw this.#typeError("bytes", b);
    this.#need(n);
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** A string (str or bin, UTF-8); nil reads as "" as in Go. */
  str(): string {
    const b = this.#u8();
    if (b === 0xc0) return "";
    const n = this.#rawLength(b);
    if (n < 0) throw this.#typeError("string", b);
    this.#need(n);
    const start = this.#pos;
    this.#pos += n;
    // Short ASCII strings (struct keys, node names) are interned, so the hot
    // path neither allocates nor decodes them again.
    if (n <= 24) return internAscii(this.#buf, start, n);
    return decoder.decode(this.#buf.subarray(start, start + n));
  }

  /** A map header's entry count; nil counts as an empty map. */
  map(): number {
    const b = this.#u8();
    if ((b & 0xf0) === 0x80) return b & 0x0f;
    if (b === 0xc0) return 0;
    if (b === 0xde) {
      this.#need(2);
      const n = this.#view.getUint16(this.#pos);
      this.#pos += 2;
      return this.#checkCount(n, 2);
    }
    if (b === 0xdf) {
      this.#need(4);
      const n = this.#view.getUint32(this.#pos);
      this.#pos += 4;
      return this.#checkCount(n, 2);
    }
    throw this.#typeError("map", b);
  }

  /**
   * An array header's item count, or -1 for nil (Go's nil slice). A count
   * larger than the bytes left could hold is rejected before anything is
   * allocated for it.
   */
  array(): number {
    const b = this.#u8();
    if ((b & 0xf0) === 0x90) return b & 0x0f;
    if (b === 0xc0) return -1;
    if (b === 0xdc) {
      this.#need(2);
      const n = this.#view.getUint16(this.#pos);
      this.#pos += 2;
      return this.#checkCount(n, 1);
    }
    if (b === 0xdd) {
      this.#need(4);
      const n = this.#view.getUint32(this.#pos);
      this.#pos += 4;
      return this.#checkCount(n, 1);
    }
    throw this.#typeError("array", b);
  }

  // Every item takes at least one byte, so a declared count that exceeds
  // the input is a lie: refuse it before a caller allocates for it.
  #checkCount(n: number, bytesPerItem: number): number {
    if (n * bytesPerItem > this.#end - this.#pos) {
      throw new DecodeError(
        "truncated",
        `msgpack: declared ${n} items but only ${
          this.#end - this.#pos
        } bytes left`,
      );
    }
    return n;
  }

  /** A `map[string]string` (nil → empty); values of other types are an error. */
  stringMap(): Map<string, string> {
    const n = this.map();
    const m = new Map<string, string>();
    for (let i = 0; i < n; i++) {
      const k = this.str();
      m.set(k, this.str());
    }
    return m;
  }

  /** A `[]string`, `null` for nil. */
  stringArray(): string[] | null {
    const n = this.array();
    if (n < 0) return null;
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = this.str();
    return out;
  }

  /** Skip one item of any type, nested ones included (bounded depth). */
  skip(depth = 0): void {
    if (depth > MAX_DEPTH) {
      throw new DecodeError("depth", "msgpack: nesting too deep");
    }
    const b = this.peek();
    if (b < 0x80 || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
      this.#pos++;
      return;
    }
    if ((b & 0xf0) === 0x80 || b === 0xde || b === 0xdf) {
      const n = this.map();
      for (let i = 0; i < 2 * n; i++) this.skip(depth + 1);
      return;
    }
    if ((b & 0xf0) === 0x90 || b === 0xdc || b === 0xdd) {
      const n = this.array();
      for (let i = 0; i < n; i++) this.skip(depth + 1);
      return;
    }
    this.#pos++;
    const n = this.#rawLength(b);
    if (n >= 0) {
      this.#need(n);
      this.#pos += n;
      return;
    }
    const fixed = FIXED_SIZES[b];
    if (fixed !== undefined) {
      this.#need(fixed);
      this.#pos += fixed;
      return;
    }
    const ext = EXT_SIZES[b];
    if (ext !== undefined) {
      this.#need(ext + 1);
      this.#pos += ext + 1;
      return;
    }
    let len: number;
    if (b === 0xc7) len = this.#u8();
    else if (b === 0xc8) {
      this.#need(2);
      len = this.#view.getUint16(this.#pos);
      this.#pos += 2;
    } else if (b === 0xc9) {
      this.#need(4);
      len = this.#view.getUint32(this.#pos);
      this.#pos += 4;
    } else throw this.#typeError("a msgpack item", b);
    this.#need(len + 1);
    this.#pos += len + 1;
  }

  /**
   * A generic value: maps become `Map`s, str becomes a string (UTF-8) unless
   * `rawStrings`, where str becomes `Uint8Array` (legacy gossip cannot tell
   * strings from bytes). bin is always `Uint8Array`. Depth is bounded.
   */
  value(rawStrings = false, depth = 0): MsgpackValue {
    if (depth > MAX_DEPTH) {
      throw new DecodeError("depth", "msgpack: nesting too deep");
    }
    const b = this.peek();
    if (b < 0x80 || b >= 0xe0 || (b >= 0xcc && b <= 0xd3)) return this.int();
    if (b === 0xc0) {
      this.#pos++;
      return null;
    }
    if (b === 0xc2 || b === 0xc3) return this.bool();
    if (b === 0xca || b === 0xcb) return this.float();
    if ((b & 0xe0) === 0xa0 || (b >= 0xd9 && b <= 0xdb)) {
      return rawStrings ? this.bytes() as Uint8Array : this.str();
    }
    if (b >= 0xc4 && b <= 0xc6) return this.bytes() as Uint8Array;
    if ((b & 0xf0) === 0x90 || b === 0xdc || b === 0xdd) {
      const n = this.array();
      const out: MsgpackValue[] = [];
      for (let i = 0; i < n; i++) out.push(this.value(rawStrings, depth + 1));
      return out;
    }
    if ((b & 0xf0) === 0x80 || b === 0xde || b === 0xdf) {
      const n = this.map();
      const out = new Map<string | number, MsgpackValue>();
      for (let i = 0; i < n; i++) {
        const k = this.value(false, depth + 1);
        if (typeof k !== "string" && typeof k !== "number") {
          throw new DecodeError("type", "msgpack: unsupported map key type");
        }
        out.set(k, this.value(rawStrings, depth + 1));
      }
      return out;
    }
    throw this.#typeError("a supported msgpack item", b);
  }
}

// Interned short strings, keyed by a hash of their bytes. Bounded: cleared
// when full, so a peer sending endless distinct names cannot grow it. Sized
// for the names of a 65,536-member cluster (memberlist's table bound): a
// smaller cache thrashes on push-pulls of large clusters.
const INTERN_MAX = 65_536;
const interned = new Map<number, string>();

function internAscii(buf: Uint8Array, start: number, n: number): string {
  let h = n;
  for (let i = start; i < start + n; i++) {
    const c = buf[i];
    if (c >= 0x80) return decoder.decode(buf.subarray(start, start + n));
    h = (Math.imul(h, 31) + c) | 0;
  }
  const hit = interned.get(h);
  if (hit !== undefined && hit.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (hit.charCodeAt(i) !== buf[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return hit;
  }
  const s = String.fromCharCode.apply(
    null,
    buf.subarray(start, start + n) as unknown as number[],
  );
  if (interned.size >= INTERN_MAX) interned.clear();
  interned.set(h, s);
  return s;
}

// Payload sizes after the format byte for fixed-width items.
const FIXED_SIZES: Record<number, number> = {
  0xca: 4,
  0xcb: 8,
  0xcc: 1,
  0xcd: 2,
  0xce: 4,
  0xcf: 8,
  0xd0: 1,
  0xd1: 2,
  0xd2: 4,
  0xd3: 8,
};
// fixext 1/2/4/8/16: type byte + data.
const EXT_SIZES: Record<number, number> = {
  0xd4: 1,
  0xd5: 2,
  0xd6: 4,
  0xd7: 8,
  0xd8: 16,
};

/**
 * Read a struct-shaped map, calling `field` for each key. The callback must
 * consume the value, or return false to have it skipped (Go skips unknown
 * keys, SPEC §1.2). Keys may come in any order.
 */
export function readStruct(
  r: MsgpackReader,
  field: (key: string) => boolean,
): void {
  const b = r.peek();
  if (b === 0xc0) {
    r.tryNil();
    return;
  }
  const n = r.map();
  for (let i = 0; i < n; i++) {
    if (!field(r.str())) r.skip();
  }
}

/**
 * A struct key (or any constant string) pre-encoded as a legacy fixstr, for
 * {@linkcode MsgpackWriter.raw} on hot paths.
 */
export function keyBytes(key: string): Uint8Array {
  return new MsgpackWriter("legacy", 64).str(key).finish();
}

/** Encode a string as UTF-8 (shared so codec files need no globals). */
export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Decode UTF-8 bytes to a string, replacing invalid sequences. */
export function utf8Decode(b: Uint8Array): string {
  return decoder.decode(b);
}
