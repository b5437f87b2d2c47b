/**
 * LZW exactly as Go's `compress/lzw` with order LSB and litWidth 8, which memberlist uses for its
 * compress message (type 9, `{Algo: 0, Buf}`; SPEC §2.5).
 *
 * Codes 0-255 are literals, 256 is CLEAR, 257 is END and the first table entry is 258. Codes start
 * 9 bits wide, grow to at most 12 and are packed least-significant bit first. The output of
 * {@link lzwCompress} is byte-identical to the Go 1.19 writer in the captured Serf 0.9.4 binary;
 * {@link lzwDecompress} accepts everything Go's reader accepts and rejects what it rejects.
 *
 * @example
 * ```ts
 * const packed = lzwCompress(message);
 * const same = lzwDecompress(packed, 40 * 1024 * 1024);
 * ```
 *
 * @module
 */

import { DecodeError } from "./errors.ts";

const CLEAR = 256;
const END = 257;
/** Go's `maxCode`: the writer emits CLEAR instead of defining code 4095 (writer.go `incHi`). */
const MAX_CODE = 4095;
const MAX_WIDTH = 12;
/** Go's writer uses a 4 x 4096 open-addressed table keyed by `prefix << 8 | byte`. */
const HASH_SIZE = 4 << MAX_WIDTH;
const HASH_MASK = HASH_SIZE - 1;
/** Outputs up to this size reuse one scratch buffer, so small packets cost one exact allocation. */
const SCRATCH_MAX_BYTES = 64 * 1024;

// Compressor state, shared across calls: the functions are synchronous, so no call can interleave.
// A slot is live only when its stamp equals `stamp`, which makes clearing the table O(1) per call
// and per CLEAR instead of a 64 KiB fill.
const hashEntries = new Int32Array(HASH_SIZE);
const hashStamps = new Uint32Array(HASH_SIZE);
let stamp = 0;
let outScratch = new Uint8Array(4096);

// Decompressor tables. A code defined while decoding expands to the previous code's expansion plus
// one byte, and those bytes sit contiguously in the output already (the previous expansion, then
// the first byte of the one after it). So a code is stored as where its expansion starts in the
// output and how long it is, and expanding it is a forward copy within the output: no prefix-chain
// walk. Offsets stay valid across CLEARs and buffer growth (they are positions, not pointers).
const starts = new Int32Array(MAX_CODE + 1);
const lengths = new Uint16Array(MAX_CODE + 1);

function nextStamp(): number {
  stamp = (stamp + 1) >>> 0;
  if (stamp === 0) {
    hashStamps.fill(0);
    stamp = 1;
  }
  return stamp;
}

/** Worst case: every byte its own 12-bit code, plus the CLEARs (one per 3838 codes) and END. */
function compressBound(n: number): number {
  return Math.ceil((n + 5 + n / 3838) * 1.5) + 2;
}

/**
 * Compress like Go 1.19's `lzw.NewWriter(w, lzw.LSB, 8)` followed by `Write(input)` and `Close()`.
 *
 * Go 1.19 emits a leading CLEAR on the first Write, and Close emits CLEAR itself when nothing was
 * written, so empty input gives CLEAR then END (`00 03 02`). When the next code would be 4095 the
 * writer emits CLEAR at the current width and restarts at 9 bits (writer.go `incHi`).
 *
 * @param input Bytes to compress (any length).
 * @returns A new buffer holding the complete LZW stream, END code and final partial byte included.
 */
export function lzwCompress(input: Uint8Array): Uint8Array {
  const bound = compressBound(input.length);
  let out = outScratch;
  if (out.length < bound) {
    out = new Uint8Array(bound);
    if (bound <= SCRATCH_MAX_BYTES) outScratch = out;
  }
  return out.slice(0, compressInto(input, out));
}

/** The writer loop; returns the number of bytes written to `out` (sized by `compressBound`). */
function compressInto(input: Uint8Array, out: Uint8Array): number {
  const n = input.length;
  const entries = hashEntries;
  const stamps = hashStamps;
  let live = nextStamp();
  let o = 0;
  let bits = CLEAR; // the leading CLEAR, pending in the bit buffer
  let nBits = 9;
  let width = 9;
  let hi = END;
  let overflow = 1 << width;
  let code = n > 0 ? input[0] : -1;
  next: for (let i = 1; i < n; i++) {
    const literal = input[i];
    const key = (code << 8) | literal;
    let h = ((key >>> 12) ^ key) & HASH_MASK;
    while (stamps[h] === live) {
      const t = entries[h];
      if (t >>> 12 === key) {
        code = t & MAX_CODE;
        continue next;
      }
      h = (h + 1) & HASH_MASK;
    }
    bits |= code << nBits;
    for (nBits += width; nBits >= 8; nBits -= 8) {
      out[o++] = bits;
      bits >>>= 8;
    }
    code = literal;
    if (++hi === overflow) overflow = 1 << ++width;
    if (hi === MAX_CODE) {
      // Out of codes: CLEAR at the current width, then restart (writer.go `incHi`).
      bits |= CLEAR << nBits;
      for (nBits += width; nBits >= 8; nBits -= 8) {
        out[o++] = bits;
        bits >>>= 8;
      }
      width = 9;
      hi = END;
      overflow = 1 << width;
      live = nextStamp();
    } else {
      stamps[h] = live;
      entries[h] = (key << 12) | hi;
    }
  }
  if (code >= 0) {
    // Close(): the pending code, then the same hi increment (which may itself emit CLEAR).
    bits |= code << nBits;
    for (nBits += width; nBits >= 8; nBits -= 8) {
      out[o++] = bits;
      bits >>>= 8;
    }
    if (++hi === overflow) overflow = 1 << ++width;
    if (hi === MAX_CODE) {
      bits |= CLEAR << nBits;
      for (nBits += width; nBits >= 8; nBits -= 8) {
        out[o++] = bits;
        bits >>>= 8;
      }
      width = 9;
    }
  }
  bits |= END << nBits;
  for (nBits += width; nBits > 0; nBits -= 8) {
    out[o++] = bits;
    bits >>>= 8;
  }
  return o;
}

/**
 * Decompress a Go `compress/lzw` stream (LSB, litWidth 8), mirroring Go's `Reader.decode`.
 *
 * A stream with or without a leading CLEAR is accepted; bytes after END are ignored, as memberlist's
 * `decompressPayload` stops reading there. The output never grows past `maxOutputBytes`: the cap is
 * checked before each code is expanded, so a decompression bomb costs at most that much memory
 * (newer memberlist caps at 40 MiB, SPEC §2.5).
 *
 * @param input The LZW stream (memberlist's `Buf`).
 * @param maxOutputBytes Largest accepted output size in bytes.
 * @returns The decompressed bytes (a view of a freshly allocated buffer).
 * @throws {DecodeError} "lzw" when END is missing or a code is invalid, "too-large" when the output
 *   would exceed `maxOutputBytes`.
 */
export function lzwDecompress(
  input: Uint8Array,
  maxOutputBytes: number,
): Uint8Array {
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
    throw new RangeError(`Invalid maxOutputBytes: ${maxOutputBytes}`);
  }
  const n = input.length;
  let out: Uint8Array = new Uint8Array(
    Math.min(maxOutputBytes, Math.max(64, n * 4)),
  );
  let o = 0;
  let pos = 0;
  let bits = 0;
  let nBits = 0;
  let width = 9;
  let mask = (1 << width) - 1;
  let hi = END;
  let overflow = 1 << width;
  let last = -1;
  for (;;) {
    while (nBits < width) {
      if (pos >= n) {
        throw new DecodeError("lzw", "Invalid LZW stream: no END code");
      }
      bits |= input[pos++] << nBits;
      nBits += 8;
    }
    const code = bits & mask;
    bits >>>= width;
    nBits -= width;
    if (code === CLEAR) {
      width = 9;
      mask = (1 << width) - 1;
      hi = END;
      overflow = 1 << width;
      last = -1;
      continue;
    }
    if (code === END) return out.subarray(0, o);
    if (code > hi) {
      throw new DecodeError(
        "lzw",
        `Invalid LZW stream: code ${code} is past the table end ${hi}`,
      );
    }
    // Expand `code` by copying earlier output forward. code == hi (with a previous code) names the
    // entry being defined right now: the previous expansion, which ends right here, plus its own
    // first byte; the overlapping forward copy writes that byte before reading it (like an LZ77
    // match). A code == hi without a previous code only occurs once the table is full at 12 bits,
    // where entry hi is defined (Go's reader expands it from its table too).
    const lastLen = last < 0 ? 0 : last < CLEAR ? 1 : lengths[last];
    let len: number;
    if (code < CLEAR) {
      if (o >= out.length) out = grow(out, o, o + 1, maxOutputBytes);
      out[o] = code;
      len = 1;
    } else {
      const kwkwk = code === hi && last >= 0;
      len = kwkwk ? lastLen + 1 : lengths[code];
      if (o + len > out.length) out = grow(out, o, o + len, maxOutputBytes);
      let from = kwkwk ? o - lastLen : starts[code];
      const end = o + len;
      for (let i = o; i < end; i++) out[i] = out[from++];
    }
    if (last >= 0) {
      // The new entry: the previous expansion (just before this one) plus this one's first byte.
      starts[hi] = o - lastLen;
      lengths[hi] = lastLen + 1;
    }
    o += len;
    last = code;
    if (++hi >= overflow) {
      if (width === MAX_WIDTH) {
        // Go's reader stops defining codes at 12 bits until the next CLEAR (reader.go `decode`).
        last = -1;
        hi--;
      } else {
        overflow = 1 << ++width;
        mask = overflow - 1;
      }
    }
  }
}

function grow(
  out: Uint8Array,
  used: number,
  needed: number,
  max: number,
): Uint8Array {
  if (needed > max) {
    throw new DecodeError(
      "too-large",
      `LZW output exceeds the limit of ${max} bytes`,
    );
  }
  const next = new Uint8Array(Math.min(max, Math.max(needed, out.length * 2)));
  next.set(out.subarray(0, used));
  return next;
}
