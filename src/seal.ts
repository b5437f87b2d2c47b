/**
 * The seal stage of the shell: memberlist's AES-GCM keyring encryption for packets and stream frames
 * (SPEC §2.6, §4.2), with the label as additional data when one is set (SPEC §2.7).
 *
 * Packet (UDP): `vsn | nonce[12] | ciphertext || tag[16]`, AD = "" in 0.2.2, the label bytes when a
 * label is set. vsn 1 (every Serf) has no padding, 29 bytes of overhead; vsn 0 (memberlist protocol
 * 1) PKCS#7-pads to 16 bytes, at most 45 bytes of overhead.
 *
 * Stream frame (TCP): `0x0a | L:u32 BE | vsn | nonce[12] | ciphertext || tag[16]`, AD = the 5 header
 * bytes, followed by the label bytes when a label is set.
 *
 * The label header itself (`0xF4 | len | label`) is not added or removed here: it wraps the sealed
 * bytes and is the job of `addLabel`/`stripLabel` in `codec/label.ts`.
 *
 * @example
 * ```ts
 * const ring = new Keyring([decodeKey("LiEU1Yq+7mAz55TkEUTu64O+5rdXQ2EkKzwgqskGesw=")]);
 * const datagram = sealPacket(ring, packet);
 * const plain = openPacket(ring, datagram);
 * ```
 *
 * @module
 */

import type * as NodeCrypto from "node:crypto";
import type { CipherGCMTypes, KeyObject } from "node:crypto";
import { DecodeError } from "./codec/errors.ts";
import { encodeLabel } from "./codec/label.ts";

/** Encryption version byte: 1 for memberlist protocol ≥ 2 (what Serf always speaks), 0 for protocol 1. */
export type EncryptionVersion = 0 | 1;

/** Bytes vsn 1 adds to a packet: version, nonce and tag (memberlist's `encryptOverhead(1)`). */
export const ENCRYPT_OVERHEAD_V1 = 29;
/** Worst-case bytes vsn 0 adds to a packet: vsn 1's plus 16 of padding (`encryptOverhead(0)`). */
export const ENCRYPT_OVERHEAD_V0 = 45;
/** Bytes of a stream frame header: `0x0a` and the u32 BE length. */
export const STREAM_HEADER_BYTES = 5;
/** Largest accepted stream frame length L, memberlist's `maxPushStateBytes` (20 MiB). */
export const MAX_STREAM_FRAME_BYTES = 20 * 1024 * 1024;

// node:crypto is loaded on first use, not at import: a member without a
// keyring never needs it, and loading it costs ~1.5 MiB of RSS on Deno and
// on Bun (bench/idle/README.md). process.getBuiltinModule is synchronous
// (Node ≥ 20.16, Deno 2, Bun 1.1).
let nodeCrypto: typeof NodeCrypto | undefined;
function nodeCryptoApi(): typeof NodeCrypto {
  nodeCrypto ??= (globalThis as unknown as {
    process: { getBuiltinModule(id: string): unknown };
  }).process.getBuiltinModule("node:crypto") as typeof NodeCrypto;
  return nodeCrypto;
}

const ENCRYPT_MSG = 10;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const BLOCK_BYTES = 16;
const EMPTY = new Uint8Array(0);
const KEY_ERROR =
  "Invalid encryption key: must be base64 of 16, 24 or 32 bytes";

/** Options for sealing a packet or a stream frame. */
export interface SealOptions {
  /** Encryption version byte; default 1 (memberlist protocol ≥ 2, every Serf). */
  version?: EncryptionVersion;
  /** Cluster label, used as GCM additional data (newer memberlist); default "" (none, as 0.2.2). */
  label?: string;
  /** The 12-byte nonce; default random. Only tests reproducing captured bytes should pass one. */
  nonce?: Uint8Array;
}

/** Options for opening a packet or a stream frame. */
export interface OpenOptions {
  /** Cluster label the sender used as GCM additional data; default "" (none, as 0.2.2). */
  label?: string;
}

interface KeyEntry {
  bytes: Uint8Array;
  secret: KeyObject;
  bits: number;
  /** Null when the runtime lacks this AES-GCM size (Deno has no aes-192-gcm): use the fallback. */
  gcm: CipherGCMTypes | null;
  /** GHASH key H = AES_K(0^128) for the fallback, computed on first use. */
  hash: Uint32Array | null;
}

let entriesOf: (ring: Keyring) => KeyEntry[];

/**
 * memberlist's keyring: the first key is primary and the only one that encrypts; decryption tries
 * every key in order (SPEC §2.6). Error messages are memberlist's own text, because Serf's key
 * manager sends `err.Error()` back to `serf keys` in its query responses.
 *
 * @example
 * ```ts
 * const ring = new Keyring([key1]);
 * ring.install(key2); // decrypts with key1 or key2, encrypts with key1
 * ring.use(key2); // now encrypts with key2
 * ring.remove(key1);
 * ```
 */
export class Keyring {
  #entries: KeyEntry[] = [];

  static {
    entriesOf = (ring) => ring.#entries;
  }

  /**
   * Create a keyring from initial keys.
   *
   * @param keys Initial keys (16, 24 or 32 bytes each); the first is primary, duplicates are
   *   ignored, as memberlist's `NewKeyring`.
   * @throws {RangeError} When a key has the wrong size.
   */
  constructor(keys: Uint8Array[] = []) {
    for (const key of keys) this.install(key);
  }

  /** Number of installed keys. */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * Add a key for decryption (memberlist's `AddKey`); it becomes primary only if the ring was empty.
   * Installing a key that is already there does nothing.
   *
   * @param key 16, 24 or 32 bytes (AES-128/192/256); copied.
   * @throws {RangeError} "key size must be 16, 24 or 32 bytes".
   */
  install(key: Uint8Array): void {
    if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
      throw new RangeError("key size must be 16, 24 or 32 bytes");
    }
    if (this.#indexOf(key) >= 0) return;
    const bytes = key.slice();
    const bits = bytes.length * 8;
    this.#entries.push({
      bytes,
      secret: nodeCryptoApi().createSecretKey(bytes),
      bits,
      gcm: nativeGcm(bits),
      hash: null,
    });
  }

  /**
   * Make an installed key the primary (encrypting) key (memberlist's `UseKey`).
   *
   * @param key A key already in the ring.
   * @throws {Error} "Requested key is not in the keyring".
   */
  use(key: Uint8Array): void {
    const i = this.#indexOf(key);
    if (i < 0) throw new Error("Requested key is not in the keyring");
    const [entry] = this.#entries.splice(i, 1);
    this.#entries.unshift(entry);
  }

  /**
   * Drop a key (memberlist's `RemoveKey`). Removing a key that is not installed does nothing.
   *
   * @param key The key to drop.
   * @throws {Error} "Removing the primary key is not allowed".
   */
  remove(key: Uint8Array): void {
    const i = this.#indexOf(key);
    if (i === 0) throw new Error("Removing the primary key is not allowed");
    if (i > 0) this.#entries.splice(i, 1);
  }

  /**
   * The installed keys, primary first.
   *
   * @returns Copies of the keys.
   */
  keys(): Uint8Array[] {
    return this.#entries.map((e) => e.bytes.slice());
  }

  #indexOf(key: Uint8Array): number {
    return this.#entries.findIndex((e) => equalBytes(e.bytes, key));
  }
}

/**
 * Decode a base64 key as `serf keygen` prints it and `-encrypt` takes it.
 *
 * @param base64 Standard base64 with padding of 16, 24 or 32 bytes.
 * @returns The raw key.
 * @throws {TypeError} "Invalid encryption key: must be base64 of 16, 24 or 32 bytes".
 */
export function decodeKey(base64: string): Uint8Array {
  if (base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) {
    throw new TypeError(KEY_ERROR);
  }
  const raw = atob(base64);
  if (raw.length !== 16 && raw.length !== 24 && raw.length !== 32) {
    throw new TypeError(KEY_ERROR);
  }
  const key = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) key[i] = raw.charCodeAt(i);
  return key;
}

/**
 * Encode a key as standard base64, the form Serf's key commands show.
 *
 * @param key Raw key bytes.
 * @returns Base64 with padding.
 */
export function encodeKey(key: Uint8Array): string {
  let raw = "";
  for (let i = 0; i < key.length; i++) raw += String.fromCharCode(key[i]);
  return btoa(raw);
}

/**
 * Sealed size of a plaintext, memberlist's `encryptedLength`.
 *
 * @param version Encryption version.
 * @param plaintextLength Plaintext size in bytes.
 * @returns `1 + 12 + n + 16`, plus 1..16 bytes of padding for vsn 0.
 */
export function encryptedLength(
  version: EncryptionVersion,
  plaintextLength: number,
): number {
  const pad = version === 0 ? BLOCK_BYTES - (plaintextLength % BLOCK_BYTES) : 0;
  return 1 + NONCE_BYTES + plaintextLength + pad + TAG_BYTES;
}

/**
 * Encrypt a packet with the primary key, as memberlist's `encryptPayload` (SPEC §2.6).
 *
 * @param keyring Keys; the primary one encrypts.
 * @param plaintext The packet (possibly CRC-wrapped and compressed).
 * @param options Version (default 1), label (GCM AD) and nonce (default random).
 * @returns `vsn | nonce | ciphertext || tag`.
 * @throws {Error} When the keyring is empty.
 */
export function sealPacket(
  keyring: Keyring,
  plaintext: Uint8Array,
  options: SealOptions = {},
): Uint8Array {
  const entry = primaryOf(keyring);
  const version = checkVersion(options.version ?? 1);
  const nonce = checkNonce(options.nonce);
  const out = new Uint8Array(encryptedLength(version, plaintext.length));
  out[0] = version;
  out.set(nonce, 1);
  const ad = options.label ? encodeLabel(options.label) : EMPTY;
  sealInto(entry, version, nonce, plaintext, ad, out, 1 + NONCE_BYTES);
  return out;
}

/**
 * Decrypt a packet with whichever key opens it, as memberlist's `decryptPayload` (SPEC §2.3).
 *
 * @param keyring Keys to try, in order.
 * @param sealed The datagram after any label header was stripped.
 * @param options The label the sender used as GCM AD (default "").
 * @returns The plaintext, padding removed for vsn 0.
 * @throws {DecodeError} "truncated" (too short), "version" (vsn > 1), "decrypt" (no key opens it),
 *   "padding" (bad PKCS#7 padding in vsn 0).
 */
export function openPacket(
  keyring: Keyring,
  sealed: Uint8Array,
  options: OpenOptions = {},
): Uint8Array {
  const ad = options.label ? encodeLabel(options.label) : EMPTY;
  return openPayload(entriesOf(keyring), sealed, ad);
}

/**
 * Encrypt a stream message into one frame, as memberlist's `encryptLocalState` (SPEC §4.2).
 *
 * @param keyring Keys; the primary one encrypts.
 * @param plaintext The stream message (possibly compressed).
 * @param options Version (default 1), label (appended to the AD) and nonce (default random).
 * @returns `0x0a | L:u32 BE | vsn | nonce | ciphertext || tag`.
 * @throws {Error} When the keyring is empty.
 */
export function sealStream(
  keyring: Keyring,
  plaintext: Uint8Array,
  options: SealOptions = {},
): Uint8Array {
  const entry = primaryOf(keyring);
  const version = checkVersion(options.version ?? 1);
  const nonce = checkNonce(options.nonce);
  const length = encryptedLength(version, plaintext.length);
  const out = new Uint8Array(STREAM_HEADER_BYTES + length);
  out[0] = ENCRYPT_MSG;
  new DataView(out.buffer).setUint32(1, length);
  out[5] = version;
  out.set(nonce, 6);
  const ad = streamAd(out, options.label);
  sealInto(entry, version, nonce, plaintext, ad, out, 6 + NONCE_BYTES);
  return out;
}

/**
 * The total size of a stream frame from its first 5 bytes, so the caller knows how much to read.
 *
 * @param header At least the first 5 bytes of the frame.
 * @returns `5 + L`.
 * @throws {DecodeError} "truncated" (under 5 bytes), "frame" (not type 10), "too-large" (L > 20 MiB,
 *   memberlist's `maxPushStateBytes`).
 */
export function streamFrameLength(header: Uint8Array): number {
  if (header.length < STREAM_HEADER_BYTES) {
    throw new DecodeError(
      "truncated",
      "Invalid stream frame: header is shorter than 5 bytes",
    );
  }
  if (header[0] !== ENCRYPT_MSG) {
    throw new DecodeError(
      "frame",
      `Invalid stream frame: type ${header[0]}, expected 10`,
    );
  }
  const length =
    ((header[1] << 24) | (header[2] << 16) | (header[3] << 8) | header[4]) >>>
    0;
  if (length > MAX_STREAM_FRAME_BYTES) {
    throw new DecodeError(
      "too-large",
      `Remote node state is larger than limit (${length})`,
    );
  }
  return STREAM_HEADER_BYTES + length;
}

/**
 * Decrypt one stream frame, as memberlist's `decryptRemoteState` (SPEC §4.1). Bytes after the
 * frame's declared length are ignored.
 *
 * @param keyring Keys to try, in order.
 * @param frame The whole frame, `0x0a` first.
 * @param options The label the dialer used (appended to the AD, default "").
 * @returns The plaintext stream message.
 * @throws {DecodeError} As {@link streamFrameLength} and {@link openPacket}.
 */
export function openStream(
  keyring: Keyring,
  frame: Uint8Array,
  options: OpenOptions = {},
): Uint8Array {
  const end = streamFrameLength(frame);
  if (frame.length < end) {
    throw new DecodeError(
      "truncated",
      `Invalid stream frame: ${frame.length} of ${end} bytes`,
    );
  }
  const ad = streamAd(frame, options.label);
  return openPayload(
    entriesOf(keyring),
    frame.subarray(STREAM_HEADER_BYTES, end),
    ad,
  );
}

function streamAd(frame: Uint8Array, label: string | undefined): Uint8Array {
  const header = frame.subarray(0, STREAM_HEADER_BYTES);
  if (!label) return header;
  const bytes = encodeLabel(label);
  const ad = new Uint8Array(STREAM_HEADER_BYTES + bytes.length);
  ad.set(header);
  ad.set(bytes, STREAM_HEADER_BYTES);
  return ad;
}

function openPayload(
  entries: KeyEntry[],
  msg: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  if (msg.length === 0) {
    throw new DecodeError("truncated", "Cannot decrypt empty payload");
  }
  const version = msg[0];
  if (version > 1) {
    throw new DecodeError(
      "version",
      `Unsupported encryption version ${version}`,
    );
  }
  if (msg.length < encryptedLength(version as EncryptionVersion, 0)) {
    throw new DecodeError(
      "truncated",
      `Payload is too small to decrypt: ${msg.length}`,
    );
  }
  const nonce = msg.subarray(1, 1 + NONCE_BYTES);
  const ciphertext = msg.subarray(1 + NONCE_BYTES, msg.length - TAG_BYTES);
  const tag = msg.subarray(msg.length - TAG_BYTES);
  for (const entry of entries) {
    const plain = openWith(entry, nonce, ciphertext, tag, ad);
    if (plain === null) continue;
    return version === 0 ? unpad(plain) : plain;
  }
  throw new DecodeError(
    "decrypt",
    "No installed keys could decrypt the message",
  );
}

/** memberlist's `pkcs7decode`, checked: an authenticated sender always pads with 1..16 bytes. */
function unpad(plain: Uint8Array): Uint8Array {
  const pad = plain.length > 0 ? plain[plain.length - 1] : 0;
  if (pad < 1 || pad > BLOCK_BYTES || pad > plain.length) {
    throw new DecodeError(
      "padding",
      "Invalid PKCS#7 padding in encryption version 0",
    );
  }
  return plain.subarray(0, plain.length - pad);
}

function primaryOf(keyring: Keyring): KeyEntry {
  const entry = entriesOf(keyring)[0];
  if (entry === undefined) throw new Error("Cannot seal: the keyring is empty");
  return entry;
}

function checkVersion(version: number): EncryptionVersion {
  if (version !== 0 && version !== 1) {
    throw new RangeError(
      `Invalid encryption version: ${version}, expected 0 or 1`,
    );
  }
  return version;
}

function checkNonce(nonce: Uint8Array | undefined): Uint8Array {
  if (nonce === undefined) return nodeCryptoApi().randomBytes(NONCE_BYTES);
  if (nonce.length !== NONCE_BYTES) {
    throw new RangeError(
      `Invalid nonce: ${nonce.length} bytes, expected ${NONCE_BYTES}`,
    );
  }
  return nonce;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const nativeSupport = new Map<number, CipherGCMTypes | null>();

/** Feature-detect AES-GCM per key size: Deno 2.9's node:crypto has aes-128/256-gcm but no aes-192-gcm. */
function nativeGcm(bits: number): CipherGCMTypes | null {
  let name = nativeSupport.get(bits);
  if (name === undefined) {
    name = `aes-${bits}-gcm` as CipherGCMTypes;
    try {
      nodeCryptoApi().createCipheriv(
        name,
        new Uint8Array(bits / 8),
        new Uint8Array(NONCE_BYTES),
      );
    } catch {
      name = null;
    }
    nativeSupport.set(bits, name);
  }
  return name;
}

/**
 * Seal `plaintext` (plus PKCS#7 padding for vsn 0) into `out` at `offset`: ciphertext then tag.
 * Writing in place saves the copies that assembling `vsn | nonce | ct | tag` afterwards would cost.
 */
function sealInto(
  entry: KeyEntry,
  version: EncryptionVersion,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  const padLength = version === 0
    ? BLOCK_BYTES - (plaintext.length % BLOCK_BYTES)
    : 0;
  const padding = padLength > 0
    ? new Uint8Array(padLength).fill(padLength)
    : EMPTY;
  if (entry.gcm === null) {
    fallbackSeal(entry, nonce, plaintext, padding, ad, out, offset);
    return;
  }
  const cipher = nodeCryptoApi().createCipheriv(entry.gcm, entry.secret, nonce);
  if (ad.length > 0) cipher.setAAD(ad);
  let o = offset;
  const a = cipher.update(plaintext);
  out.set(a, o);
  o += a.length;
  if (padLength > 0) {
    const b = cipher.update(padding);
    out.set(b, o);
    o += b.length;
  }
  const f = cipher.final();
  out.set(f, o);
  out.set(cipher.getAuthTag(), o + f.length);
}

/** Open with one key; null when authentication fails (the caller tries the next key). */
function openWith(
  entry: KeyEntry,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  ad: Uint8Array,
): Uint8Array | null {
  if (entry.gcm === null) {
    return fallbackOpen(entry, nonce, ciphertext, tag, ad);
  }
  const decipher = nodeCryptoApi().createDecipheriv(
    entry.gcm,
    entry.secret,
    nonce,
  );
  decipher.setAuthTag(tag);
  if (ad.length > 0) decipher.setAAD(ad);
  const plain = decipher.update(ciphertext);
  try {
    decipher.final();
  } catch {
    return null;
  }
  return new Uint8Array(plain.buffer, plain.byteOffset, plain.byteLength);
}

// --- AES-GCM from AES-ECB + AES-CTR + GHASH (NIST SP 800-38D), for key sizes the runtime lacks. ---

function aesBlock(entry: KeyEntry, block: Uint8Array): Uint8Array {
  const ecb = nodeCryptoApi().createCipheriv(
    `aes-${entry.bits}-ecb`,
    entry.secret,
    null,
  );
  ecb.setAutoPadding(false);
  return ecb.update(block);
}

/** CTR starting at inc32(J0) = nonce || 2. Frames stay far below 2^32 blocks, so inc32 never wraps. */
function aesCtr(
  entry: KeyEntry,
  nonce: Uint8Array,
  parts: Uint8Array[],
  out: Uint8Array,
  at: number,
) {
  const counter = new Uint8Array(BLOCK_BYTES);
  counter.set(nonce);
  counter[15] = 2;
  const ctr = nodeCryptoApi().createCipheriv(
    `aes-${entry.bits}-ctr`,
    entry.secret,
    counter,
  );
  let o = at;
  for (const part of parts) {
    const chunk = ctr.update(part);
    out.set(chunk, o);
    o += chunk.length;
  }
}

/** Tag = AES_K(J0) xor GHASH_H(AD, C), with J0 = nonce || 1 for a 12-byte nonce. */
function gcmTag(
  entry: KeyEntry,
  nonce: Uint8Array,
  ad: Uint8Array,
  ct: Uint8Array,
): Uint8Array {
  if (entry.hash === null) {
    entry.hash = toWords(aesBlock(entry, new Uint8Array(BLOCK_BYTES)), 0);
  }
  const h = entry.hash;
  const y = new Uint32Array(4);
  ghashAbsorb(y, h, ad);
  ghashAbsorb(y, h, ct);
  y[0] ^= Math.floor(ad.length / 0x20000000);
  y[1] ^= (ad.length * 8) >>> 0;
  y[2] ^= Math.floor(ct.length / 0x20000000);
  y[3] ^= (ct.length * 8) >>> 0;
  gfMultiply(y, h);
  const j0 = new Uint8Array(BLOCK_BYTES);
  j0.set(nonce);
  j0[15] = 1;
  const tag = aesBlock(entry, j0);
  for (let i = 0; i < BLOCK_BYTES; i++) {
    tag[i] ^= y[i >>> 2] >>> (24 - 8 * (i & 3));
  }
  return tag;
}

function fallbackSeal(
  entry: KeyEntry,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  padding: Uint8Array,
  ad: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  const ctLength = plaintext.length + padding.length;
  aesCtr(entry, nonce, [plaintext, padding], out, offset);
  const ct = out.subarray(offset, offset + ctLength);
  out.set(gcmTag(entry, nonce, ad, ct), offset + ctLength);
}

function fallbackOpen(
  entry: KeyEntry,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  ad: Uint8Array,
): Uint8Array | null {
  const expected = gcmTag(entry, nonce, ad, ciphertext);
  let diff = 0;
  for (let i = 0; i < TAG_BYTES; i++) diff |= expected[i] ^ tag[i];
  if (diff !== 0) return null;
  const plain = new Uint8Array(ciphertext.length);
  aesCtr(entry, nonce, [ciphertext], plain, 0);
  return plain;
}

function toWords(bytes: Uint8Array, at: number): Uint32Array {
  const w = new Uint32Array(4);
  for (let i = 0; i < BLOCK_BYTES; i++) {
    const b = at + i < bytes.length ? bytes[at + i] : 0;
    w[i >>> 2] |= b << (24 - 8 * (i & 3));
  }
  return w;
}

function ghashAbsorb(y: Uint32Array, h: Uint32Array, data: Uint8Array): void {
  for (let at = 0; at < data.length; at += BLOCK_BYTES) {
    const x = toWords(data, at);
    y[0] ^= x[0];
    y[1] ^= x[1];
    y[2] ^= x[2];
    y[3] ^= x[3];
    gfMultiply(y, h);
  }
}

/** y = y * h in GF(2^128) with GCM's bit order (SP 800-38D Algorithm 1). */
function gfMultiply(y: Uint32Array, h: Uint32Array): void {
  let z0 = 0, z1 = 0, z2 = 0, z3 = 0;
  let v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3];
  for (let i = 0; i < 128; i++) {
    if ((y[i >>> 5] >>> (31 - (i & 31))) & 1) {
      z0 ^= v0;
      z1 ^= v1;
      z2 ^= v2;
      z3 ^= v3;
    }
    const lsb = v3 & 1;
    v3 = (v3 >>> 1) | (v2 << 31);
    v2 = (v2 >>> 1) | (v1 << 31);
    v1 = (v1 >>> 1) | (v0 << 31);
    v0 = (v0 >>> 1) ^ (lsb ? 0xe1000000 : 0);
  }
  y[0] = z0;
  y[1] = z1;
  y[2] = z2;
  y[3] = z3;
}
