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
 * Length of the first complete stream message in `buf`, or -1 when more
 * bytes are needed. Throws {@link DecodeError} for a message that is
 * malformed, of an unknown type, or declares more than `maxBytes`.
 *
 * @param buf bytes read so far
 * @param maxBytes the largest message accepted (memberlist: 20 MiB)
 */
export function streamMessageLength(buf: Uint8Array, maxBytes: number): number {
  if (buf.length === 0) return -1;
  let n: number;
  try {
    n = measure(buf, 0, maxBytes);
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
function measure(buf: Uint8Array, start: number, maxBytes: number): number {
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
      return 2 + len + measure(buf, start + 2 + len, maxBytes);
    }
    case MessageType.pushPull:
      return measurePushPull(r, start, maxBytes);
    case MessageType.user: {
      let userLen = 0;
      readStruct(r, (k) => {
        if (k !== "UserMsgLen") return false;
        userLen = r.uint(32);
        return true;
      });
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
  r: MsgpackReader,
  start: number,
  maxBytes: number,
): number {
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
  for (let i = 0; i < nodes; i++) r.skip();
  const total = r.offset - start + userStateLen;
  if (r.offset + userStateLen > r.offset + r.remaining) truncated();
  return total;
}

function need(buf: Uint8Array, start: number, total: number): number {
  if (buf.length < start + total) truncated();
  return total;
}

function truncated(): never {
  throw new DecodeError("truncated", "Stream message is incomplete");
}
