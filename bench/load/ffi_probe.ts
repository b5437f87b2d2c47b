// Probe: setsockopt(SO_RCVBUF) through FFI on the runtime's native UDP socket.
import { execSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
const ss = (p: number) =>
  (execSync(`ss -uamn 'sport = :${p}'`).toString().match(/rb(\d+)/) ?? [])[1];
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const want = 2 * 1024 * 1024;
if ("Bun" in g) {
  const { dlopen, FFIType, ptr } = await import("bun:ffi");
  const lib = dlopen("libc.so.6", {
    setsockopt: {
      args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32],
      returns: FFIType.i32,
    },
  });
  const s = await g.Bun.udpSocket({
    hostname: "127.0.150.250",
    port: 47010,
    socket: { data() {} },
  });
  const v = new Int32Array([want]);
  const t0 = performance.now();
  const rc = lib.symbols.setsockopt(s.fd, 1, 8, ptr(v), 4);
  console.log(
    "bun fd",
    s.fd,
    "rc",
    rc,
    "ss rb",
    ss(47010),
    "ms",
    (performance.now() - t0).toFixed(2),
  );
  s.close();
} else {
  const c = g.Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.150.250",
    port: 47011,
  });
  const t0 = performance.now();
  const hexPort = (47011).toString(16).toUpperCase().padStart(4, "0");
  const line = readFileSync("/proc/net/udp", "utf8").split("\n").find((l) =>
    l.includes(`:${hexPort} `) &&
    l.trim().split(/\s+/)[1].endsWith(`:${hexPort}`)
  );
  const inode = line!.trim().split(/\s+/)[9];
  let fd = -1;
  for (const f of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${f}`) === `socket:[${inode}]`) {
        fd = Number(f);
      }
    } catch { /* gone */ }
  }
  const lib = g.Deno.dlopen("libc.so.6", {
    setsockopt: {
      parameters: ["i32", "i32", "i32", "buffer", "u32"],
      result: "i32",
    },
  });
  const rc = lib.symbols.setsockopt(fd, 1, 8, new Int32Array([want]), 4);
  console.log(
    "deno inode",
    inode,
    "fd",
    fd,
    "rc",
    rc,
    "ss rb",
    ss(47011),
    "ms",
    (performance.now() - t0).toFixed(2),
  );
  c.close();
}
