/**
 * Serf's Vivaldi network coordinate and the ping-ack payload that carries it
 * (SPEC §8.10). Serf's ping delegate answers every direct probe with
 * `0x01 (PingVersion) || msgpack(Coordinate)`, keys sorted
 * `Adjustment, Error, Height, Vec`, every float a float64 `0xcb` (0.0 too).
 *
 * ```
 * A --ping--> B
 * A <--ack{Payload: 01 84 "Adjustment" cb.. "Error" cb.. "Height" cb.. "Vec" 98 cb..×8}-- B
 * ```
 *
 * @module
 */

import { DecodeError } from "./errors.ts";
import { MsgpackReader, MsgpackWriter, readStruct } from "./msgpack.ts";

/** The version byte in front of the coordinate in an ack payload (serf `PingVersion`). */
export const PING_VERSION = 1;

/** Dimensions of Serf's Vivaldi space (coordinate.DefaultConfig `Dimensionality`). */
export const COORDINATE_DIMENSIONS = 8;

/** A Vivaldi coordinate (hashicorp/serf `coordinate.Coordinate`). */
export interface Coordinate {
  /** Euclidean part, {@linkcode COORDINATE_DIMENSIONS} components in seconds. */
  vec: number[];
  /** Confidence in the coordinate; starts at 1.5 (VivaldiErrorMax). */
  error: number;
  /** Local adjustment term in seconds (mean of the adjustment window / 2). */
  adjustment: number;
  /** Height term in seconds, never below HeightMin (10e-6). */
  height: number;
}

/**
 * A coordinate as the wire may hold it: Go's zero `Coordinate` has a nil
 * `Vec` (the agent RPC sends it for an unknown node), which is `null` here.
 */
export interface WireCoordinate {
  /** Euclidean part, or `null` for Go's nil slice. */
  vec: number[] | null;
  /** Confidence in the coordinate. */
  error: number;
  /** Local adjustment term in seconds. */
  adjustment: number;
  /** Height term in seconds. */
  height: number;
}

/**
 * The coordinate a fresh node starts from (coordinate.NewCoordinate with the
 * default config): origin, error 1.5, no adjustment, height 1e-5. It is what
 * `udp-ack-coordinate-initial` carries.
 *
 * @returns A new coordinate.
 */
export function initialCoordinate(): Coordinate {
  return {
    vec: new Array<number>(COORDINATE_DIMENSIONS).fill(0),
    error: 1.5,
    adjustment: 0,
    height: 1e-5,
  };
}

/**
 * Write a coordinate as its msgpack struct (sorted keys, float64 everywhere).
 * Shared with the agent RPC, which embeds the same struct in `get-coordinate`.
 *
 * @param w The writer (either dialect; floats are the same in both).
 * @param c The coordinate; `vec: null` writes Go's nil slice (the zero value).
 */
export function writeCoordinate(
  w: MsgpackWriter,
  c: WireCoordinate,
): void {
  w.map(4).str("Adjustment").float64(c.adjustment).str("Error").float64(c.error)
    .str("Height").float64(c.height).str("Vec");
  if (c.vec === null) {
    w.nil();
    return;
  }
  w.array(c.vec.length);
  for (const x of c.vec) w.float64(x);
}

/**
 * Read a coordinate struct of any dimensionality. Go's decoder also accepts
 * integers for floats and nil for the slice, so this does too.
 *
 * @param r The reader, positioned at the struct.
 * @returns The coordinate; `vec` is `null` when the wire held nil.
 */
export function readCoordinate(r: MsgpackReader): WireCoordinate {
  const c: WireCoordinate = {
    vec: null,
    error: 0,
    adjustment: 0,
    height: 0,
  };
  readStruct(r, (k) => {
    switch (k) {
      case "Vec": {
        const n = r.array();
        if (n < 0) {
          c.vec = null;
          return true;
        }
        const vec = new Array<number>(n);
        for (let i = 0; i < n; i++) vec[i] = r.float();
        c.vec = vec;
        return true;
      }
      case "Error":
        c.error = r.float();
        return true;
      case "Adjustment":
        c.adjustment = r.float();
        return true;
      case "Height":
        c.height = r.float();
        return true;
    }
    return false;
  });
  return c;
}

const w = new MsgpackWriter("legacy", 160);

/**
 * Encode Serf's ack payload: `0x01 || msgpack(coordinate)` (130 bytes for 8
 * dimensions).
 *
 * @param c The local coordinate.
 * @returns A new buffer.
 * @example
 * ```ts
 * const payload = encodeCoordinatePayload(initialCoordinate()); // 130 bytes
 * ```
 */
export function encodeCoordinatePayload(c: Coordinate): Uint8Array {
  w.reset().byte(PING_VERSION);
  writeCoordinate(w, c);
  return w.finish();
}

/**
 * Decode Serf's ack payload. Serf logs and ignores a payload of another
 * version, and its Vivaldi client refuses a coordinate of another
 * dimensionality (`IsCompatibleWith`); both are a {@link DecodeError} here so
 * the caller drops them in one place. Bytes after the struct are ignored, as
 * Go's decoder does.
 *
 * @param payload The ack's `Payload` (non-empty; Serf skips empty ones first).
 * @returns The peer's coordinate.
 * @throws {DecodeError} "truncated" (empty or short), "version" (first byte
 *   not 1), "dimension" (Vec nil or not 8 long), or a msgpack reason.
 */
export function decodeCoordinatePayload(payload: Uint8Array): Coordinate {
  if (payload.length === 0) {
    throw new DecodeError("truncated", "Coordinate payload is empty");
  }
  if (payload[0] !== PING_VERSION) {
    throw new DecodeError(
      "version",
      `Unsupported ping payload version: ${
        payload[0]
      }, expected ${PING_VERSION}`,
    );
  }
  const c = readCoordinate(new MsgpackReader(payload, 1));
  if (c.vec === null || c.vec.length !== COORDINATE_DIMENSIONS) {
    throw new DecodeError(
      "dimension",
      `Coordinate has ${
        c.vec === null ? "no" : c.vec.length
      } dimensions, expected ${COORDINATE_DIMENSIONS}`,
    );
  }
  return {
    vec: c.vec,
    error: c.error,
    adjustment: c.adjustment,
    height: c.height,
  };
}
