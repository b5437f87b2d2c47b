/**
 * Probe: can this runtime set SO_RCVBUF on a UDP socket? Prints what each API
 * reports and what the kernel shows in /proc/net/udp-adjacent `ss -uam`.
 * Run: deno run -A bench/load/udp_rcvbuf_probe.ts ; bun bench/load/udp_rcvbuf_probe.ts
 */
import { createSocket } from "node:dgram";
import { execSync } from "node:child_process";

const runtime = "Bun" in globalThis ? "bun" : "deno";
function ssLine(port: number): string {
  try {
    const out = execSync(`ss -uamn 'sport = :${port}'`).toString();
    const m = out.match(/rb(\d+)/);
    return m ? `rb=${m[1]}` : out.trim();
  } catch (e) {
    return String(e);
  }
}

async function nodeDgram(opt: boolean): Promise<void> {
  const port = opt ? 47001 : 47002;
  const s = createSocket(
    opt ? { type: "udp4", recvBufferSize: 2 * 1024 * 1024 } : { type: "udp4" },
  );
  await new Promise<void>((res, rej) => {
    s.once("error", rej);
    s.bind(port, "127.0.150.250", () => res());
  });
  let got = "";
  try {
    if (!opt) s.setRecvBufferSize(2 * 1024 * 1024);
    got = String(s.getRecvBufferSize());
  } catch (e) {
    got = "ERR " + (e as Error).message;
  }
  console.log(
    `${runtime} node:dgram ${
      opt ? "createSocket({recvBufferSize})" : "setRecvBufferSize"
    }: get=${got} ss:${ssLine(port)}`,
  );
  s.close();
}
await nodeDgram(true).catch((e) =>
  console.log(runtime, "node:dgram opt ERR", e.message)
);
await nodeDgram(false).catch((e) =>
  console.log(runtime, "node:dgram set ERR", e.message)
);

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
if (runtime === "deno") {
  const c = g.Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.150.250",
    port: 47003,
  });
  console.log(
    "deno listenDatagram default:",
    ssLine(47003),
    "keys:",
    Object.keys(Object.getPrototypeOf(c)).join(","),
  );
  c.close();
} else {
  const s = await g.Bun.udpSocket({
    hostname: "127.0.150.250",
    port: 47004,
    socket: { data() {} },
  });
  console.log(
    "bun udpSocket default:",
    ssLine(47004),
    "proto:",
    Object.getOwnPropertyNames(Object.getPrototypeOf(s)).join(","),
  );
  s.close();
}
