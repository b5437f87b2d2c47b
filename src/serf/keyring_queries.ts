/**
 * Serf's key manager over internal queries (keymanager.go,
 * internal_query.go `handleInstallKey` … `handleListKeys`; SPEC §8.8).
 *
 * ```
 * originator --query _serf_install-key, payload 0x07 {Key}--> every member
 *            <--response 0x08 {Keys, Message, PrimaryKey, Result}--
 * done when every alive member answered, or at the query deadline;
 * error "N/M nodes reported failure" / "N/M nodes reported success".
 * ```
 *
 * The keyring itself belongs to the host (its seal stage encrypts with
 * the primary key): Serf reaches it through a {@linkcode KeyringView} and
 * changes it synchronously, so the query that makes a key primary is
 * already sealed with it, as in Serf (memberlist shares the keyring).
 *
 * @module
 */

import {
  decodeSerfMessage,
  encodeKeyResponse,
  encodeQueryResponse,
  type KeyResponse,
} from "../codec/serf_messages.ts";
import type { KeyAction } from "./events.ts";
import { INTERNAL_QUERY_PREFIX } from "./queries.ts";

/**
 * The host's keyring as Serf needs it (memberlist `Keyring`). Implemented
 * by the host over its seal stage's keyring (e.g. `src/seal.ts` `Keyring`,
 * whose methods and error texts are memberlist's).
 */
export interface KeyringView {
  /** Installed keys, primary first (memberlist `GetKeys`). */
  keys(): Uint8Array[];
  /**
   * Add a key for decryption (memberlist `AddKey`); throws an `Error`
   * whose message Serf sends back ("key size must be 16, 24 or 32 bytes").
   */
  install(key: Uint8Array): void;
  /**
   * Make an installed key primary (memberlist `UseKey`); throws
   * "Requested key is not in the keyring".
   */
  use(key: Uint8Array): void;
  /**
   * Drop a key (memberlist `RemoveKey`); throws "Removing the primary key
   * is not allowed". Removing an unknown key succeeds silently.
   */
  remove(key: Uint8Array): void;
}

/**
 * Serf's estimate of the smallest encoded key in a list response
 * (`minEncodedKeyLength`): `QueryResponseSizeLimit / 25` keys at most.
 */
export const MIN_ENCODED_KEY_LENGTH = 25;

/** Query name of each key action (serf `internalQueryName`). */
export const KEY_QUERY_NAMES: Readonly<Record<KeyAction, string>> = {
  install: `${INTERNAL_QUERY_PREFIX}install-key`,
  use: `${INTERNAL_QUERY_PREFIX}use-key`,
  remove: `${INTERNAL_QUERY_PREFIX}remove-key`,
  list: `${INTERNAL_QUERY_PREFIX}list-keys`,
};

/**
 * The key action of an internal query name.
 *
 * @param name a query name
 * @returns the action, or null when it is not a key query
 */
export function keyActionOf(name: string): KeyAction | null {
  for (const [action, n] of Object.entries(KEY_QUERY_NAMES)) {
    if (n === name) return action as KeyAction;
  }
  return null;
}

/** Standard base64 with padding (Go `base64.StdEncoding`). */
export function base64Encode(bytes: Uint8Array): string {
  const abc =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) |
      (bytes[i + 2] ?? 0);
    out += abc[(n >> 18) & 63] + abc[(n >> 12) & 63];
    out += i + 1 < bytes.length ? abc[(n >> 6) & 63] : "=";
    out += i + 2 < bytes.length ? abc[n & 63] : "=";
  }
  return out;
}

/** What a member does with a key query addressed to it. */
export interface KeyQueryOutcome {
  /** The answer to send. */
  readonly response: KeyResponse;
  /** The keyring change made, if any (the host may persist it). */
  readonly change: {
    readonly action: "install" | "use" | "remove";
    readonly key: Uint8Array;
  } | null;
  /** Serf's log line: level and text. */
  readonly log: { readonly level: "info" | "error"; readonly text: string };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Handle an incoming `_serf_*-key` query (serf `handleInstallKey`,
 * `handleUseKey`, `handleRemoveKey`, `handleListKeys`).
 *
 * @param action which key query
 * @param payload the query payload (`0x07 || {Key}`)
 * @param keyring the host's keyring, or null when encryption is off
 * @returns the answer, the change made and the log line
 */
export function handleKeyQuery(
  action: KeyAction,
  payload: Uint8Array | null,
  keyring: KeyringView | null,
): KeyQueryOutcome {
  const response: KeyResponse = {
    result: false,
    message: "",
    keys: null,
    primaryKey: "",
  };
  if (action === "list") {
    if (keyring === null) {
      response.message = "Keyring is empty (encryption not enabled)";
      return {
        response,
        change: null,
        log: { level: "error", text: response.message },
      };
    }
    const keys = keyring.keys();
    response.keys = keys.map(base64Encode);
    response.primaryKey = keys.length > 0 ? base64Encode(keys[0]) : "";
    response.result = true;
    return {
      response,
      change: null,
      log: { level: "info", text: "Received list-keys query" },
    };
  }
  let key: Uint8Array;
  try {
    const m = decodeSerfMessage(payload ?? new Uint8Array(0));
    if (m.type !== "keyRequest") {
      throw new Error(`unexpected message type ${m.type}`);
    }
    key = m.body.key ?? new Uint8Array(0);
  } catch (e) {
    return {
      response,
      change: null,
      log: {
        level: "error",
        text: `Failed to decode key request: ${errorText(e)}`,
      },
    };
  }
  if (keyring === null) {
    response.message = "No keyring to modify (encryption not enabled)";
    return {
      response,
      change: null,
      log: { level: "error", text: response.message },
    };
  }
  const verb = {
    install: "install key",
    use: "change primary key",
    remove: "remove key",
  }[action];
  try {
    if (action === "install") keyring.install(key);
    else if (action === "use") keyring.use(key);
    else keyring.remove(key);
  } catch (e) {
    response.message = errorText(e);
    return {
      response,
      change: null,
      log: { level: "error", text: `Failed to ${verb}: ${response.message}` },
    };
  }
  response.result = true;
  return {
    response,
    change: { action, key: key.slice() },
    log: { level: "info", text: `Received ${action}-key query` },
  };
}

/**
 * Encode a key answer as the query response it travels in. A list answer
 * is shrunk, key by key, until it fits `limit` (serf
 * `keyListResponseWithCorrectSize`); other answers are sent as they are
 * and the caller's size check applies.
 *
 * @param response the answer
 * @param envelope the query response around it (time, id, our name)
 * @param limit config `queryResponseSizeLimit`
 * @param list whether this answers list-keys
 * @returns the key-response payload, or Serf's error when nothing fits
 */
export function keyResponsePayload(
  response: KeyResponse,
  envelope: {
    readonly ltime: number;
    readonly id: number;
    readonly from: string;
  },
  limit: number,
  list: boolean,
): { payload: Uint8Array; warning: string | null } | string {
  if (!list) return { payload: encodeKeyResponse(response), warning: null };
  const all = response.keys ?? [];
  const resp: KeyResponse = { ...response, keys: response.keys };
  for (let i = Math.floor(limit / MIN_ENCODED_KEY_LENGTH); i >= 0; i--) {
    const payload = encodeKeyResponse(resp);
    const raw = encodeQueryResponse({ ...envelope, flags: 0, payload });
    if (raw.length > limit) {
      resp.keys = all.slice(0, i);
      resp.message =
        `truncated key list response, showing first ${i} of ${all.length} keys`;
      continue;
    }
    return { payload, warning: all.length > i ? resp.message : null };
  }
  return "Failed to truncate response so that it fits into message";
}

/** The originator's running totals of a key operation (serf `KeyResponse`). */
export class KeyOpTally {
  /** Responses received. */
  numResp = 0;
  /** Failures among them. */
  numErr = 0;
  /** Per-member error and warning texts. */
  readonly messages = new Map<string, string>();
  /** Members holding each key (list). */
  readonly keys = new Map<string, number>();
  /** Members using each primary key (list). */
  readonly primaryKeys = new Map<string, number>();

  /**
   * Count one member's answer (serf `streamKeyResp`).
   *
   * @param from the member
   * @param payload its response payload
   * @returns the decoded answer, or null when it was malformed (counted as
   *   an error)
   */
  add(from: string, payload: Uint8Array | null): KeyResponse | null {
    this.numResp++;
    const p = payload ?? new Uint8Array(0);
    if (p.length < 1 || p[0] !== 8) {
      this.messages.set(
        from,
        `Invalid key query response type: ${Array.from(p)}`,
      );
      this.numErr++;
      return null;
    }
    let r: KeyResponse;
    try {
      const m = decodeSerfMessage(p);
      if (m.type !== "keyResponse") throw new Error("not a key response");
      r = m.body;
    } catch {
      this.messages.set(
        from,
        `Failed to decode key query response: ${Array.from(p)}`,
      );
      this.numErr++;
      return null;
    }
    if (!r.result) {
      this.messages.set(from, r.message);
      this.numErr++;
    }
    if (r.result && r.message.length > 0) this.messages.set(from, r.message);
    for (const k of r.keys ?? []) this.keys.set(k, (this.keys.get(k) ?? 0) + 1);
    if (r.primaryKey !== "") {
      this.primaryKeys.set(
        r.primaryKey,
        (this.primaryKeys.get(r.primaryKey) ?? 0) + 1,
      );
    }
    return r;
  }

  /**
   * Serf's final verdict (`handleKeyRequest`).
   *
   * @param numNodes alive members when the query started
   * @returns the error text, or null on success
   */
  error(numNodes: number): string | null {
    if (this.numErr !== 0) {
      return `${this.numErr}/${numNodes} nodes reported failure`;
    }
    if (this.numResp !== numNodes) {
      return `${this.numResp}/${numNodes} nodes reported success`;
    }
    return null;
  }
}
