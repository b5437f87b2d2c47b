/**
 * Shared pieces of the command line: the usage error and address parsing.
 *
 * @module
 */

/** A problem with the command line, reported with what to fix (exit 2). */
export class UsageError extends Error {
  /** @param message what is wrong and how to fix it */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Parse `HOST:PORT` (IPv6 as `[::1]:7946`), naming the flag on error. */
export function parseHostPort(
  text: string,
  flag: string,
): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ??
    /^([^:\[\]]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(
      `Invalid ${flag} ${
        JSON.stringify(text)
      }: use IP:PORT, e.g. 127.0.0.1:7946`,
    );
  }
  return { host: m[1], port };
}
