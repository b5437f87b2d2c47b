import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DecodeError } from "../../src/codec/errors.ts";
import {
  decodeKey,
  encodeKey,
  ENCRYPT_OVERHEAD_V0,
  ENCRYPT_OVERHEAD_V1,
  encryptedLength,
  Keyring,
  MAX_STREAM_FRAME_BYTES,
  openPacket,
  openStream,
  sealPacket,
  sealStream,
  streamFrameLength,
} from "../../src/seal.ts";

const VECTORS = new URL("../fixtures/vectors/", import.meta.url);

interface Encryption {
  version: number;
  nonce: string;
  plaintextHex: string;
  keyIndex: number;
  additionalData: string;
}

interface UdpVector {
  id: string;
  hex: string;
  decryptedWith: string;
  decoded: { encryption: Encryption };
}

interface TcpVector {
  id: string;
  messages: { hex: string; decoded: { encryption?: Encryption } }[];
}

const ENCRYPTED_UDP = [
  "udp-encrypted-compressed-ack",
  "udp-encrypted-gossip",
  "udp-encrypted-install-key-query",
  "udp-encrypted-install-key-response",
  "udp-encrypted-list-keys-query",
  "udp-encrypted-list-keys-response",
  "udp-encrypted-remove-key-query",
  "udp-encrypted-use-key-query",
];

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function loadJson<T>(path: string): T {
  return JSON.parse(readFileSync(new URL(path, VECTORS), "utf8")) as T;
}

const keys = loadJson<Record<string, { b64: string; hex: string }>>(
  "keys.json",
);
const KEY1 = decodeKey(keys["C.key1"].b64);
const KEY2 = decodeKey(keys["C.key2"].b64);
const KEY_BY_NAME: Record<string, Uint8Array> = {
  "C.key1": KEY1,
  "C.key2": KEY2,
};

function assertDecodeError(fn: () => unknown, reason: string, note = ""): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(
      err instanceof DecodeError,
      `${note}: expected DecodeError, got ${err}`,
    );
    assert.equal(err.reason, reason, note);
    return true;
  });
}

test("decodeKey reads the scenario C keys from serf keygen", () => {
  assert.equal(toHex(KEY1), keys["C.key1"].hex);
  assert.equal(toHex(KEY2), keys["C.key2"].hex);
  assert.equal(encodeKey(KEY1), keys["C.key1"].b64);
  assert.equal(decodeKey(encodeKey(new Uint8Array(16).fill(7))).length, 16);
  assert.equal(decodeKey(encodeKey(new Uint8Array(24).fill(7))).length, 24);
});

test("decodeKey rejects anything but base64 of 16, 24 or 32 bytes", () => {
  const message =
    "Invalid encryption key: must be base64 of 16, 24 or 32 bytes";
  for (
    const bad of [
      "",
      "abc",
      encodeKey(new Uint8Array(31)),
      encodeKey(new Uint8Array(33)),
      keys["C.key1"].b64.slice(0, -1),
      keys["C.key1"].b64.replace("+", "-"),
      ` ${keys["C.key1"].b64}`,
    ]
  ) {
    assert.throws(() => decodeKey(bad), { name: "TypeError", message }, bad);
  }
});

test("every encrypted UDP vector opens with the scenario C keyring", () => {
  for (const id of ENCRYPTED_UDP) {
    const v = loadJson<UdpVector>(`udp/${id}.json`);
    const enc = v.decoded.encryption;
    assert.equal(enc.additionalData, "", `${id}: 0.2.2 packets have no AD`);
    for (const ring of [new Keyring([KEY1, KEY2]), new Keyring([KEY2, KEY1])]) {
      assert.equal(
        toHex(openPacket(ring, fromHex(v.hex))),
        enc.plaintextHex,
        id,
      );
    }
    // Only the key that sealed it opens it.
    const other = v.decryptedWith === "C.key1" ? KEY2 : KEY1;
    assertDecodeError(
      () => openPacket(new Keyring([other]), fromHex(v.hex)),
      "decrypt",
      id,
    );
  }
});

test("re-sealing each UDP plaintext with the captured nonce reproduces the packet", () => {
  for (const id of ENCRYPTED_UDP) {
    const v = loadJson<UdpVector>(`udp/${id}.json`);
    const enc = v.decoded.encryption;
    assert.equal(enc.version, 1);
    const ring = new Keyring([KEY_BY_NAME[v.decryptedWith], KEY1, KEY2]);
    const sealed = sealPacket(ring, fromHex(enc.plaintextHex), {
      version: 1,
      nonce: fromHex(enc.nonce),
    });
    assert.equal(toHex(sealed), v.hex, id);
    assert.equal(
      sealed.length,
      fromHex(enc.plaintextHex).length + ENCRYPT_OVERHEAD_V1,
    );
  }
});

test("the encrypted push/pull frames open and re-seal byte-identically (AD = 5-byte header)", () => {
  const v = loadJson<TcpVector>("tcp/tcp-pushpull-join-encrypted.json");
  assert.equal(v.messages.length, 2);
  const ring = new Keyring([KEY1, KEY2]);
  for (const m of v.messages) {
    const enc = m.decoded.encryption!;
    const frame = fromHex(m.hex);
    assert.equal(enc.additionalData, m.hex.slice(0, 10));
    assert.equal(streamFrameLength(frame), frame.length);
    assert.equal(toHex(openStream(ring, frame)), enc.plaintextHex);
    const resealed = sealStream(ring, fromHex(enc.plaintextHex), {
      nonce: fromHex(enc.nonce),
    });
    assert.equal(toHex(resealed), m.hex);
    // The header is authenticated: the same payload without it as AD does not open.
    assertDecodeError(() => openPacket(ring, frame.subarray(5)), "decrypt");
    assertDecodeError(() => openStream(new Keyring([KEY2]), frame), "decrypt");
  }
});

test("the fake encrypted header from tcp-errmsg is a DecodeError", () => {
  const v = loadJson<TcpVector>("tcp/tcp-errmsg.json");
  const frame = fromHex(v.messages[0].hex); // 0a 00000004 01020304
  assert.equal(streamFrameLength(frame), 9);
  assertDecodeError(() => openStream(new Keyring([KEY1]), frame), "truncated");
});

test("stream frame headers are checked before reading the body", () => {
  const ring = new Keyring([KEY1]);
  assertDecodeError(
    () => streamFrameLength(new Uint8Array([10, 0, 0])),
    "truncated",
  );
  assertDecodeError(
    () => streamFrameLength(new Uint8Array([9, 0, 0, 0, 30])),
    "frame",
  );
  const huge = new Uint8Array([10, 0, 0, 0, 0]);
  new DataView(huge.buffer).setUint32(1, MAX_STREAM_FRAME_BYTES + 1);
  assertDecodeError(() => streamFrameLength(huge), "too-large");
  new DataView(huge.buffer).setUint32(1, 0xffffffff);
  assertDecodeError(() => openStream(ring, huge), "too-large");
  const frame = sealStream(ring, new Uint8Array([6, 1, 2]));
  assertDecodeError(
    () => openStream(ring, frame.subarray(0, frame.length - 1)),
    "truncated",
  );
  // Bytes after the declared frame are not part of it.
  const longer = new Uint8Array(frame.length + 3);
  longer.set(frame);
  assert.equal(toHex(openStream(ring, longer)), "060102");
});

test("a label is authenticated as AD on packets and appended to the header AD on streams", () => {
  const ring = new Keyring([KEY2]);
  const plain = new Uint8Array([0x0c, 1, 2, 3, 4, 7, 0]);
  const packet = sealPacket(ring, plain, { label: "dc1" });
  assert.equal(toHex(openPacket(ring, packet, { label: "dc1" })), toHex(plain));
  assertDecodeError(() => openPacket(ring, packet), "decrypt");
  assertDecodeError(
    () => openPacket(ring, packet, { label: "dc2" }),
    "decrypt",
  );
  assertDecodeError(
    () => openPacket(ring, sealPacket(ring, plain), { label: "dc1" }),
    "decrypt",
  );
  const frame = sealStream(ring, plain, { label: "dc1" });
  assert.equal(toHex(openStream(ring, frame, { label: "dc1" })), toHex(plain));
  assertDecodeError(() => openStream(ring, frame), "decrypt");
  assertDecodeError(() => openStream(ring, frame, { label: "dc" }), "decrypt");
});

test("version 0 pads with PKCS#7 (1..16 bytes) and round-trips every length", () => {
  const ring = new Keyring([KEY1]);
  for (let n = 0; n <= 40; n++) {
    const plain = new Uint8Array(n).fill(n);
    const packet = sealPacket(ring, plain, { version: 0 });
    const pad = 16 - (n % 16);
    assert.equal(packet.length, 1 + 12 + n + pad + 16, `length ${n}`);
    assert.equal(packet.length, encryptedLength(0, n));
    assert.ok(packet.length <= n + ENCRYPT_OVERHEAD_V0);
    assert.equal(packet[0], 0);
    assert.equal(toHex(openPacket(ring, packet)), toHex(plain), `length ${n}`);
    const frame = sealStream(ring, plain, { version: 0 });
    assert.equal(frame.length, 5 + encryptedLength(0, n));
    assert.equal(
      toHex(openStream(ring, frame)),
      toHex(plain),
      `stream length ${n}`,
    );
  }
  assert.equal(encryptedLength(1, 0), ENCRYPT_OVERHEAD_V1);
  assert.equal(encryptedLength(0, 0), ENCRYPT_OVERHEAD_V0);
});

test("malformed sealed packets are DecodeErrors", () => {
  const ring = new Keyring([KEY1]);
  const packet = sealPacket(ring, new Uint8Array([2, 0x81]));
  assertDecodeError(() => openPacket(ring, new Uint8Array(0)), "truncated");
  assertDecodeError(
    () => openPacket(ring, packet.subarray(0, 28)),
    "truncated",
  );
  assertDecodeError(() => openPacket(ring, new Uint8Array(44)), "truncated"); // vsn 0 needs 45
  const v2 = packet.slice();
  v2[0] = 2;
  assertDecodeError(() => openPacket(ring, v2), "version");
  for (let i = 1; i < packet.length; i++) {
    const bad = packet.slice();
    bad[i] ^= 0x80;
    assertDecodeError(
      () => openPacket(ring, bad),
      "decrypt",
      `flipped byte ${i}`,
    );
  }
  assertDecodeError(() => openPacket(new Keyring(), packet), "decrypt");
  // Empty plaintext is legal (29 bytes), as GCM seals nothing with a tag.
  assert.equal(openPacket(ring, sealPacket(ring, new Uint8Array(0))).length, 0);
});

test("seal options and an empty keyring are rejected", () => {
  const ring = new Keyring([KEY1]);
  assert.throws(
    () => sealPacket(new Keyring(), new Uint8Array(1)),
    /keyring is empty/,
  );
  assert.throws(
    () => sealStream(new Keyring(), new Uint8Array(1)),
    /keyring is empty/,
  );
  assert.throws(
    () => sealPacket(ring, new Uint8Array(1), { nonce: new Uint8Array(11) }),
    RangeError,
  );
  assert.throws(
    () => sealPacket(ring, new Uint8Array(1), { version: 2 as unknown as 1 }),
    RangeError,
  );
  // Random nonces differ between calls.
  const a = sealPacket(ring, new Uint8Array(4));
  const b = sealPacket(ring, new Uint8Array(4));
  assert.notEqual(toHex(a.subarray(1, 13)), toHex(b.subarray(1, 13)));
});

test("AES-128, AES-192 and AES-256 match known answers for every AD layout", () => {
  // McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 3, 9 and 15 (no AD); the
  // other tags were computed with Python's `cryptography` AESGCM. Deno 2.9's node:crypto has no
  // aes-192-gcm, so on Deno the 24-byte key checks the ECB/CTR/GHASH fallback.
  const nonce = fromHex("cafebabefacedbaddecaf888");
  const plain = fromHex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
  );
  const k = "feffe9928665731c6d6a8f9467308308";
  const cases = [
    {
      key: k,
      sealed:
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e" +
        "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985" +
        "4d5c2af327cd64a62cf35abd2ba6fab4",
      label: "419d607d451ed945ca4e938ed09051ee",
      stream: "9a6a75890c9950cf2268809d80608a58",
      streamLabel: "2c9cae9a0df9a023458bea7dd58aa4d3",
      v0: "98b4b447be4c3c77cf1db05e8e73ecf9",
    },
    {
      key: k + "feffe9928665731c",
      sealed:
        "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c" +
        "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256" +
        "9924a7c8587336bfb118024db8674a14",
      label: "795c8dea353bc5fbb0b01442be4734dd",
      stream: "fd6e93cb829495f380e5c4fea2335dd3",
      streamLabel: "453d71f70cc224811e5dd9395170f966",
      v0: "534137354b81d63c8fc13e462c96b705",
    },
    {
      key: k + k,
      sealed:
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad" +
        "b094dac5d93471bdec1a502270e3cc6c",
      label: "8599367d7afed97e4f4046c672c074a0",
      stream: "79eef494175589bc40950a23cf36eccb",
      streamLabel: "6632f484e6e4fc8b9f57d9e26cd04615",
      v0: "9efe60cd03d5d5b476239580f851f0c4",
    },
  ];
  const tagOf = (b: Uint8Array) => toHex(b.subarray(b.length - 16));
  for (const c of cases) {
    const ring = new Keyring([fromHex(c.key)]);
    const note = `${c.key.length * 4}-bit key`;
    const packet = sealPacket(ring, plain, { nonce });
    assert.equal(toHex(packet), "01cafebabefacedbaddecaf888" + c.sealed, note);
    assert.equal(toHex(openPacket(ring, packet)), toHex(plain), note);
    const labeled = sealPacket(ring, plain, { nonce, label: "dc1" });
    assert.equal(tagOf(labeled), c.label, note);
    assert.equal(
      toHex(openPacket(ring, labeled, { label: "dc1" })),
      toHex(plain),
      note,
    );
    const frame = sealStream(ring, plain, { nonce });
    assert.equal(toHex(frame.subarray(0, 6)), "0a0000005d01", note);
    assert.equal(tagOf(frame), c.stream, note);
    assert.equal(toHex(openStream(ring, frame)), toHex(plain), note);
    const labeledFrame = sealStream(ring, plain, { nonce, label: "dc1" });
    assert.equal(tagOf(labeledFrame), c.streamLabel, note);
    assert.equal(
      toHex(openStream(ring, labeledFrame, { label: "dc1" })),
      toHex(plain),
      note,
    );
    const padded = sealPacket(ring, plain, { nonce, version: 0 });
    assert.equal(padded.length, 1 + 12 + 64 + 16 + 16, note);
    assert.equal(tagOf(padded), c.v0, note);
    assert.equal(toHex(openPacket(ring, padded)), toHex(plain), note);
    const tampered = packet.slice();
    tampered[20] ^= 1;
    assertDecodeError(() => openPacket(ring, tampered), "decrypt", note);
  }
});

test("keyring: first key is primary, install dedupes, use and remove follow memberlist", () => {
  const k16 = new Uint8Array(16).fill(1);
  const k24 = new Uint8Array(24).fill(2);
  const ring = new Keyring([KEY1, KEY2, KEY1]);
  assert.equal(ring.size, 2);
  assert.deepEqual(ring.keys().map(toHex), [toHex(KEY1), toHex(KEY2)]);
  ring.install(k16);
  ring.install(k16.slice());
  ring.install(k24);
  assert.deepEqual(ring.keys().map(toHex), [KEY1, KEY2, k16, k24].map(toHex));
  // use moves the key to the front and keeps the others in order.
  ring.use(k16);
  assert.deepEqual(ring.keys().map(toHex), [k16, KEY1, KEY2, k24].map(toHex));
  assert.throws(() => ring.use(new Uint8Array(16)), {
    message: "Requested key is not in the keyring",
  });
  assert.throws(() => ring.remove(k16.slice()), {
    message: "Removing the primary key is not allowed",
  });
  ring.remove(KEY1);
  ring.remove(KEY1); // absent: no-op, like memberlist
  assert.deepEqual(ring.keys().map(toHex), [k16, KEY2, k24].map(toHex));
  for (const size of [0, 15, 17, 31, 33, 64]) {
    assert.throws(() => ring.install(new Uint8Array(size)), {
      name: "RangeError",
      message: "key size must be 16, 24 or 32 bytes",
    });
  }
  assert.throws(() => new Keyring([new Uint8Array(8)]), RangeError);
  new Keyring().remove(KEY1); // empty ring: nothing to remove
});

test("keyring copies keys in and out", () => {
  const key = new Uint8Array(32).fill(9);
  const ring = new Keyring([key]);
  key.fill(0);
  ring.keys()[0].fill(1);
  assert.equal(toHex(ring.keys()[0]), "09".repeat(32));
});

test("the primary key seals and every key opens, across use/remove rotation", () => {
  // The scenario C rotation: install key2, use key2, remove key1.
  const sender = new Keyring([KEY1]);
  const receiver = new Keyring([KEY1]);
  const before = sealPacket(sender, new Uint8Array([1]));
  receiver.install(KEY2);
  sender.install(KEY2);
  sender.use(KEY2);
  const after = sealPacket(sender, new Uint8Array([2]));
  assert.equal(toHex(openPacket(receiver, before)), "01");
  assert.equal(toHex(openPacket(receiver, after)), "02");
  assertDecodeError(() => openPacket(new Keyring([KEY1]), after), "decrypt");
  sender.remove(KEY1);
  assertDecodeError(() => openPacket(sender, before), "decrypt");
});

test("keys of every size round-trip packets and frames of many lengths", () => {
  for (const size of [16, 24, 32]) {
    const ring = new Keyring([new Uint8Array(size).map((_, i) => i * 7)]);
    for (const n of [0, 1, 15, 16, 17, 100, 1400, 5000]) {
      const plain = new Uint8Array(n).map((_, i) => i ^ n);
      assert.equal(
        toHex(openPacket(ring, sealPacket(ring, plain))),
        toHex(plain),
      );
      assert.equal(
        toHex(openStream(ring, sealStream(ring, plain))),
        toHex(plain),
      );
    }
  }
});
