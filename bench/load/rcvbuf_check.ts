/**
 * Binds the runtime's default transport on 127.0.150.251 and prints the UDP
 * receive buffer the kernel reports for it (`ss -uam`: rb…; memberlist/serf
 * get rb4194304 on a 2 MB request, the kernel default is rb212992).
 * Run: deno run -A bench/load/rcvbuf_check.ts ; bun bench/load/rcvbuf_check.ts
 */
import { execSync } from "node:child_process";
import { defaultTransport } from "../../transports/default.ts";
const t = await defaultTransport({
  bind: { host: "127.0.150.251", port: 0 },
  handlers: { packet: () => {}, stream: (c) => void c.close() },
});
const out = execSync(`ss -uamn 'src 127.0.150.251:${t.localAddr.port}'`)
  .toString();
console.log(t.name, "port", t.localAddr.port, (out.match(/rb\d+/) ?? ["?"])[0]);
await t.close();
