/**
 * Serf tags in memberlist's node meta (SPEC §8.3).
 *
 * - Serf protocol ≥ 3: `0xFF || msgpack(map[string]string)` in the legacy
 *   dialect. Go writes its map in random order; we write the `Map`'s
 *   insertion order, so a decoded-then-encoded meta keeps its wire bytes.
 *   Empty tags are `ff 80`.
 * - Serf protocol < 3: the raw bytes of `tags.role` (nothing else survives).
 *
 * The encoded tags must fit memberlist's `MetaMaxSize` (512 bytes): Serf
 * refuses to start or to `SetTags` otherwise ("Encoded length of tags exceeds
 * limit of 512 bytes").
 *
 * @module
 */

import {
  MsgpackReader,
  MsgpackWriter,
  utf8Decode,
  utf8Encode,
  utf8Length,
} from "./msgpack.ts";

/** The magic first byte of msgpack-encoded tags (serf `tagMagicByte`). */
export const TAG_MAGIC_BYTE = 0xff;

/** The most bytes node meta may take (memberlist `MetaMaxSize`). */
export const TAGS_MAX_BYTES = 512;

/** The first Serf protocol version that encodes tags as a msgpack map. */
export const TAGS_MSGPACK_MIN_PROTOCOL = 3;

const w = new MsgpackWriter("legacy", TAGS_MAX_BYTES + 64);

/**
 * Encode tags for node meta, as Serf's `encodeTags` does.
 *
 * @param tags The tags, written in insertion order.
 * @param protocolVersion The local Serf protocol version (the agent uses 5).
 * @returns A new buffer of at most {@linkcode TAGS_MAX_BYTES} bytes.
 * @throws {RangeError} When the encoding is longer than 512 bytes.
 * @example
 * ```ts
 * encodeTags(new Map([["role", "web"]]), 5); // ff 81 a4 "role" a3 "web"
 * ```
 */
export function encodeTags(
  tags: ReadonlyMap<string, string>,
  protocolVersion: number,
): Uint8Array {
  assertTagsFit(tags, protocolVersion);
  if (protocolVersion < TAGS_MSGPACK_MIN_PROTOCOL) {
    // Role-only backwards compatibility (serf encodeTags).
    return utf8Encode(tags.get("role") ?? "");
  }
  return w.reset().byte(TAG_MAGIC_BYTE).stringMap(tags).finish();
}

/**
 * Bytes {@linkcode encodeTags} would produce, computed without encoding, so a
 * caller can check new tags against {@linkcode TAGS_MAX_BYTES} up front.
 *
 * @param tags The tags.
 * @param protocolVersion The local Serf protocol version.
 * @returns The encoded length in bytes.
 */
export function encodedTagsSize(
  tags: ReadonlyMap<string, string>,
  protocolVersion: number,
): number {
  if (protocolVersion < TAGS_MSGPACK_MIN_PROTOCOL) {
    return utf8Length(tags.get("role") ?? "");
  }
  let n = 1 + containerHeaderSize(tags.size);
  for (const [k, v] of tags) {
    n += strSize(utf8Length(k)) + strSize(utf8Length(v));
  }
  return n;
}

// Legacy dialect sizes (SPEC §1.1): fixstr, str16, str32; fixmap, map16, map32.
function strSize(len: number): number {
  return len + (len < 32 ? 1 : len < 0x10000 ? 3 : 5);
}

function containerHeaderSize(count: number): number {
  return count < 16 ? 1 : count < 0x10000 ? 3 : 5;
}

/**
 * Decode node meta to tags, as Serf's `decodeTags` does: empty meta or a first
 * byte other than 0xFF is the old role-only form, `{role: meta as text}`.
 *
 * Serf logs a msgpack error and keeps the tags decoded so far; here it is a
 * `DecodeError` and the caller decides (Serf's behaviour is to go on
 * with what it has, which for a broken map is usually nothing).
 *
 * @param meta The node meta from an alive or push-pull node state.
 * @returns A new map in wire order.
 * @throws {DecodeError} When the msgpack after the magic byte is malformed
 *   (the reader's error, from `./errors.ts`).
 */
export function decodeTags(meta: Uint8Array): Map<string, string> {
  if (meta.length === 0 || meta[0] !== TAG_MAGIC_BYTE) {
    return new Map([["role", utf8Decode(meta)]]);
  }
  return new MsgpackReader(meta, 1).stringMap();
}

/**
 * Throw a `RangeError` unless the tags fit node meta (serf `Create` and
 * `SetTags` refuse them the same way).
 *
 * @param tags The tags to check.
 * @param protocolVersion The local Serf protocol version.
 * @throws {RangeError} When they encode to more than 512 bytes.
 */
export function assertTagsFit(
  tags: ReadonlyMap<string, string>,
  protocolVersion: number,
): void {
  const size = encodedTagsSize(tags, protocolVersion);
  if (size > TAGS_MAX_BYTES) {
    throw new RangeError(
      `Encoded tags exceed the limit of ${TAGS_MAX_BYTES} bytes: ${size} bytes`,
    );
  }
}
