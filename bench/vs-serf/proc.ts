/**
 * Per-process CPU and memory from Linux's `/proc`: utime + stime of
 * `/proc/<pid>/stat` (all threads of the process) and VmRSS of
 * `/proc/<pid>/status`, plus `/proc/<pid>/exe` to prove the pid is the real
 * runtime binary and not a wrapper script.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";

let ticks: number | undefined;

/**
 * Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, else 100).
 *
 * @returns ticks per second
 */
export function clockTicksPerS(): number {
  if (ticks === undefined) {
    const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    const n = Number(String(r.stdout ?? "").trim());
    ticks = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticks;
}

/**
 * CPU time (user + system, every thread) a process has used so far.
 *
 * @param pid the process
 * @returns milliseconds of CPU, or NaN when the process is gone
 */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / clockTicksPerS();
  } catch {
    return NaN;
  }
}

/**
 * Resident memory of a process.
 *
 * @param pid the process
 * @returns VmRSS in KiB, or NaN when the process is gone
 */
export function rssKiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/**
 * The executable a process runs (`/proc/<pid>/exe`).
 *
 * @param pid the process
 * @returns its path, or "" when unreadable
 */
export function exePath(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return "";
  }
}

/**
 * Datagrams the kernel dropped per UDP socket (the `drops` column of
 * `/proc/net/udp`: mostly a full receive buffer). memberlist asks for a 2 MB
 * receive buffer (`setUDPRecvBuf`), so this tells whether an agent lost
 * gossip while it was busy.
 *
 * @returns "IP:PORT" → drops, IPv4 sockets only
 */
export function udpDrops(): Map<string, number> {
  const out = new Map<string, number>();
  let text = "";
  try {
    text = readFileSync("/proc/net/udp", "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    const [hexIp, hexPort] = f[1].split(":");
    // The address is the in-memory u32, printed little-endian on x86.
    const ip = [6, 4, 2, 0].map((i) => parseInt(hexIp.slice(i, i + 2), 16))
      .join(".");
    out.set(`${ip}:${parseInt(hexPort, 16)}`, Number(f[f.length - 1]));
  }
  return out;
}
