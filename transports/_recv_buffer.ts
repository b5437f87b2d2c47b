// The UDP receive-buffer size every adapter asks for, and the one log line
// that reports it; shared by the Deno, Bun and Node adapters.
import { getLogger } from "@logtape/logtape";

/**
 * memberlist asks for a 2 MB UDP receive buffer (`setUDPRecvBuf` in
 * net_transport.go: 2 MB, halving on failure), so a member starved of CPU
 * queues gossip instead of dropping it; the kernel default is ~208 KiB.
 */
export const UDP_RECV_BUFFER_BYTES = 2 * 1024 * 1024;

// memberlist fails the transport when no size works; we keep the kernel
// default instead (the larger buffer only absorbs bursts) and say so, once
// per process.
let warnedRecvBuffer = false;

/**
 * Log the receive buffer an adapter obtained (0: none, the kernel default).
 *
 * @param bytes the size set, or 0
 */
export function logRecvBuffer(bytes: number): void {
  const logger = getLogger(["grapevine", "transport"]);
  if (bytes > 0) logger.debug`UDP receive buffer set to ${bytes} bytes`;
  else if (!warnedRecvBuffer) {
    warnedRecvBuffer = true;
    logger
      .warn`Could not raise the UDP receive buffer to ${UDP_RECV_BUFFER_BYTES} bytes: the kernel default stays (raise net.core.rmem_default)`;
  }
}
