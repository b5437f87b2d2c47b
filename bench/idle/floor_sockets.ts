/**
 * The socket floor of a runtime: bind one UDP and one TCP socket on the
 * runtime's native API (what grapevine's adapters use) and wake once a second,
 * nothing else. `idle_bench.ts` measures it beside a member.
 *
 *   deno run -A bench/idle/floor_sockets.ts 127.0.87.200:7946
 *   bun bench/idle/floor_sockets.ts 127.0.87.200:7946
 *
 * @module
 */

interface DenoSockets {
  listenDatagram(o: { transport: "udp"; hostname: string; port: number }): {
    receive(): Promise<[Uint8Array, unknown]>;
  };
  listen(o: { hostname: string; port: number }): AsyncIterable<unknown>;
  args: string[];
}

interface BunSockets {
  udpSocket(
    o: { hostname: string; port: number; socket: object },
  ): Promise<unknown>;
  listen(o: { hostname: string; port: number; socket: object }): unknown;
}

const g = globalThis as {
  Deno?: DenoSockets;
  Bun?: BunSockets;
  process?: { argv: string[] };
};
const arg = g.Deno?.args[0] ?? g.process?.argv[2] ?? "127.0.87.200:7946";
const [hostname, portText] = arg.split(":");
const port = Number(portText);

if (g.Deno !== undefined) {
  const udp = g.Deno.listenDatagram({ transport: "udp", hostname, port });
  const tcp = g.Deno.listen({ hostname, port });
  // Keep one read pending on each, as a member does.
  void (async () => {
    for (;;) await udp.receive();
  })();
  void (async () => {
    for await (const _ of tcp) { /* drop */ }
  })();
} else if (g.Bun !== undefined) {
  await g.Bun.udpSocket({ hostname, port, socket: { data() {} } });
  g.Bun.listen({ hostname, port, socket: { data() {}, open() {} } });
}
setInterval(() => {}, 1000);
