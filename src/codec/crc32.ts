/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) and memberlist's hasCrc (type 12) wrapper.
 *
 * memberlist 0.2.2 prepends `0x0c | crc32(rest) u32 BE` to gossip packets and to probes of suspect
 * nodes, and checks it only as the outermost layer after decryption (SPEC §2.2 step 4, §2.3 step 3).
 * The checksum is Go's `crc32.ChecksumIEEE`.
 *
 * @module
 */

/** memberlist's `hasCrcMsg` type byte (SPEC §2.1). Local on purpose: this file imports nothing. */
const HAS_CRC = 12;

/**
 * Slicing-by-8 tables: table k maps a byte to its CRC contribution k bytes further on, so the main
 * loop folds 8 input bytes per step instead of 1 (about 3x faster on the 100-1400 byte packets).
 */
const TABLES: Int32Array = makeTables();

function makeTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

/**
 * CRC-32 (IEEE) of `bytes`, the same value as Go's `crc32.ChecksumIEEE`.
 *
 * @param bytes Input bytes.
 * @returns The checksum as an unsigned 32-bit integer.
 * @example
 * ```ts
 * crc32(new TextEncoder().encode("123456789")); // 0xcbf43926
 * ```
 */
export function crc32(bytes: Uint8Array): number {
  const t = TABLES;
  const n = bytes.length;
  let crc = -1;
  let i = 0;
  for (const end = n - 7; i < end; i += 8) {
    const a = crc ^
      (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) |
        (bytes[i + 3] << 24));
    crc = t[1792 + (a & 0xff)] ^ t[1536 + ((a >>> 8) & 0xff)] ^
      t[1280 + ((a >>> 16) & 0xff)] ^ t[1024 + (a >>> 24)] ^
      t[768 + bytes[i + 4]] ^ t[512 + bytes[i + 5]] ^ t[256 + bytes[i + 6]] ^
      t[bytes[i + 7]];
  }
  for (; i < n; i++) crc = t[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

/**
 * Wrap a message in memberlist's hasCrc layer: `0x0c | crc32(msg) u32 BE | msg` (SPEC §2.2 step 4).
 *
 * @param msg The complete inner message (type byte first; may be a compound or compress message).
 * @returns A new buffer of `msg.length + 5` bytes.
 */
export function addCrc(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(msg.length + 5);
  const crc = crc32(msg);
  out[0] = HAS_CRC;
  out[1] = crc >>> 24;
  out[2] = crc >>> 16;
  out[3] = crc >>> 8;
  out[4] = crc;
  out.set(msg, 5);
  return out;
}

/**
 * Check and remove the hasCrc layer, as memberlist's `ingestPacket` does (SPEC §2.3 step 3).
 *
 * memberlist drops a packet whose checksum does not match; `null` lets the caller count and drop
 * it without the cost of an exception on the hot receive path.
 *
 * @param buf A packet whose first byte is 12 (hasCrc).
 * @returns The inner message (a subarray, no copy), or `null` when `buf` is shorter than 5 bytes,
 *   does not start with 12, or the checksum does not match.
 */
export function stripCrc(buf: Uint8Array): Uint8Array | null {
  if (buf.length < 5 || buf[0] !== HAS_CRC) return null;
  const expected =
    ((buf[1] << 24) | (buf[2] << 16) | (buf[3] << 8) | buf[4]) >>> 0;
  const rest = buf.subarray(5);
  return crc32(rest) === expected ? rest : null;
}
