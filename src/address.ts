/**
 * Parsing of user-given addresses: "IP:PORT", "host:port", "[::1]:PORT",
 * memberlist's "name/host:port" join form, or a bare host (default port).
 *
 * @module
 */

import type { Address } from "./machine.ts";

/**
 * Parse an address; the port defaults to `defaultPort` as memberlist's join
 * does. Throws a `TypeError` saying what to fix.
 */
export function parseAddress(text: string, defaultPort: number): Address {
  // memberlist's join accepts "name/addr"; the name is only a hint.
  const slash = text.lastIndexOf("/");
  const s = (slash >= 0 ? text.slice(slash + 1) : text).trim();
  let host = s;
  let port = defaultPort;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1];
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if ((s.match(/:/g) ?? []).length === 1) {
    const i = s.indexOf(":");
    host = s.slice(0, i);
    port = Number(s.slice(i + 1));
  }
  if (host === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(
      `Invalid address ${
        JSON.stringify(text)
      }: use IP:PORT, host:port or [IPv6]:port`,
    );
  }
  return { host, port };
}
