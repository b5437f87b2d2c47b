/**
 * Stream framing (SPEC §4): memberlist writes one message per TCP
 * connection direction with no length prefix of its own, so a reader learns
 * where a message ends only by parsing it. {@linkcode streamMessageLength}
 * does that incrementally on a growing buffer, so the host can read exactly
 * one message and no more, and refuse oversized ones early.
 *
 * @module
 */

import { DecodeError } from "./errors.ts";
import { MessageType } from "./messages.ts";
import { MsgpackReader, readStruct } from "./msgpack.ts";

/** memberlist's label header type byte (newer memberlist, SPEC §2.7). */
const HAS_LABEL = 244;

/**
 * Where measuring a push-pull stopped, so the next call on the same (grown)
 * buffer resumes after the node states already skipped instead of parsing
 * them again: a reader that re-measured a 20 MiB push-pull from its start on
 * every TCP read would do O(n²) work, which a peer trickling node states
 * could use to starve the event loop. Start with {@linkcode newMeasureProgress}.
 */
export interface MeasureProgress {
  /** Offset after the last whole node state (0: header not read yet). */
  offset: number;
  /** Node states still to skip. */
  nodesLeft: number;
  /** The header's UserStateLen. */
  userStateLen: number;
}

/** A fresh {@linkcode MeasureProgress}, for one message. */
export function newMeasureProgress(): MeasureProgress {
  return { offset: 0, nodesLeft: 0, userStateLen: 0 };
}

/**
 * Length of the first complete stream message in `buf`, or -1 when more
 * bytes are needed. Throws {@link DecodeError} for a message that is
 * malformed, of an unknown type, or declares more than `maxBytes`.
 *
 * @param buf bytes read so far
 * @param maxBytes the largest message accepted (memberlist: 20 MiB)
 * @param progress resume state across calls on the same growing buffer
 */
export function streamMessageLength(
  buf: Uint8Array,
  maxBytes: number,
  progress?: MeasureProgress,
): number {
  if (buf.length === 0) return -1;
  let n: number;
  try {
    n = measure(buf, 0, maxBytes, progress);
  } catch (e) {
    if (e instanceof DecodeError && e.reason === "truncated") n = -1;
    else throw e;
  }
  if (n > maxBytes || (n < 0 && buf.length > maxBytes)) {
    throw new DecodeError(
      "too-large",
      `Stream message exceeds the limit of ${maxBytes} bytes`,
    );
  }
  return n;
}

// Total length of the message starting at `start`; throws "truncated" when
// the buffer ends first.
function measure(
  buf: Uint8Array,
  start: number,
  maxBytes: number,
  progress?: MeasureProgress,
): number {
  const type = buf[start];
  const r = new MsgpackReader(buf, start + 1);
  switch (type) {
    case MessageType.encrypt: {
      if (buf.length < start + 5) truncated();
      const len = new DataView(buf.buffer, buf.byteOffset + start + 1, 4)
        .getUint32(0);
      // memberlist rejects encrypted frames over maxPushStateBytes before
      // reading them (net.go readStream).
      if (len > maxBytes) {
        throw new DecodeError(
          "too-large",
          `Encrypted stream frame of ${len} bytes exceeds ${maxBytes}`,
        );
      }
      return need(buf, start, 5 + len);
    }
    case HAS_LABEL: {
      if (buf.length < start + 2) truncated();
      const len = buf[start + 1];
      if (len === 0) throw new DecodeError("label", "Empty label header");
      if (buf.length < start + 2 + len + 1) truncated();
      return 2 + len + measure(buf, start + 2 + len, maxBytes, progress);
    }
    case MessageType.pushPull:
      return measurePushPull(buf, start, maxBytes, progress);
    case MessageType.user: {
      let userLen = 0;
      readStruct(r, (k) => {
        if (k !== "UserMsgLen") return false;
        userLen = r.uint(32);
        return true;
      });
      // A declared length past the limit can never be read: refuse it now
      // rather than after buffering maxBytes.
      tooLarge(r.offset - start + userLen, maxBytes);
      return need(buf, start, r.offset - start + userLen);
    }
    case MessageType.compress:
    case MessageType.ping:
    case MessageType.ack:
    case MessageType.err:
      r.skip();
      return r.offset - start;
  }
  throw new DecodeError("type", `Unknown stream message type ${type}`);
}

function measurePushPull(
  buf: Uint8Array,
  start: number,
  maxBytes: number,
  progress: MeasureProgress = newMeasureProgress(),
): number {
  if (progress.offset <= start) {
    const r = new MsgpackReader(buf, start + 1);
    let nodes = 0;
    let userStateLen = 0;
    readStruct(r, (k) => {
      if (k === "Nodes") nodes = r.uint(32);
      else if (k === "UserStateLen") userStateLen = r.uint(32);
      else return false;
      return true;
    });
    if (userStateLen > maxBytes) {
      throw new DecodeError(
        "too-large",
        `Push-pull user state of ${userStateLen} bytes exceeds ${maxBytes}`,
      );
    }
    // Every node state takes at least one byte: a count whose smallest
    // encoding is over the limit can never arrive (memberlist reads it
    // through a LimitReader of maxPushStateBytes, net.go readRemoteState).
    tooLarge(r.offset - start + nodes + userStateLen, maxBytes);
    progress.offset = r.offset;
    progress.nodesLeft = nodes;
    progress.userStateLen = userStateLen;
  }
  const r = new MsgpackReader(buf, progress.offset);
  while (progress.nodesLeft > 0) {
    r.skip();
    progress.offset = r.offset;
    progress.nodesLeft--;
  }
  const total = r.offset - start + progress.userStateLen;
  if (r.remaining < progress.userStateLen) truncated();
  return total;
}

function tooLarge(total: number, maxBytes: number): void {
  if (total > maxBytes) {
    throw new DecodeError(
      "too-large",
      `Stream message of at least ${total} bytes exceeds ${maxBytes}`,
    );
  }
}

function need(buf: Uint8Array, start: number, total: number): number {
  if (buf.length < start + total) truncated();
  return total;
}

function truncated(): never {
  throw new DecodeError("truncated", "Stream message is incomplete");
}
