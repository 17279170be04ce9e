/**
 * `manifest.json` (`proof.manifest/v1`, docs/artifacts.md): the SHA-256 of every other artifact of an
 * out dir, the policy and bundle digests and the proof version, optionally signed with Ed25519
 * (RFC 8032, via `node:crypto`). The signature covers the canonical JSON (RFC 8785) of the
 * manifest without its `signature` field. Keys are PEM: SPKI public, PKCS#8 private keys, as
 * `node:crypto` writes them. Pure: the caller reads and hashes files (src/io/artifacts.ts).
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { ProofError } from "../errors.js";
import { canonicalJson, prettyJson, sha256Hex } from "../io/canonical.js";
import { parseJson } from "../trace/json.js";
import type { PolicyRef } from "./report.js";

/** The manifest's own file name; it is never listed in itself. */
export const MANIFEST_FILE = "manifest.json";

/** A detached Ed25519 signature over the manifest's canonical JSON without `signature`. */
export interface ManifestSignature {
  algorithm: "ed25519";
  /** `sha256:` + hex SHA-256 of the signer's public key, DER (SPKI): which key to verify with. */
  key_id: string;
  /** Base64 of the 64-byte signature. */
  value: string;
}

/** `manifest.json`. */
export interface Manifest {
  schema: "proof.manifest/v1";
  proof_version: string;
  policies: PolicyRef[];
  bundle_digest: string;
  /** Every other file of the out dir, `/`-separated relative path -> `sha256:` + hex of its bytes. */
  files: Record<string, string>;
  /** The waivers file of the run (`--waivers`), as given, and `sha256:` + hex of its text. */
  waivers?: { file: string; digest: string };
  signature?: ManifestSignature;
}

/** A PEM key pair as `proof keys gen` writes it. */
export interface KeyPairPem {
  /** PKCS#8, `-----BEGIN PRIVATE KEY-----`. */
  privateKey: string;
  /** SPKI, `-----BEGIN PUBLIC KEY-----`. */
  publicKey: string;
}

/** A new random Ed25519 key pair, PEM-encoded. */
export function generateKeyPair(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519", {
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return { privateKey, publicKey };
}

function badKey(file: string, what: string, cause?: unknown): ProofError {
  return new ProofError("key.invalid", `${file} is not ${what}`, {
    location: { file },
    hint: "keys are PEM files written by proof keys gen",
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Parses a PKCS#8 PEM Ed25519 private key.
 * @throws ProofError `key.invalid` (exit 6) for anything else, naming `file`.
 */
export function parsePrivateKey(pem: string, file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    throw badKey(file, "a PEM private key", err);
  }
  if (key.asymmetricKeyType !== "ed25519") throw badKey(file, "an Ed25519 private key");
  return key;
}

/**
 * Parses an SPKI PEM Ed25519 public key.
 * @throws ProofError `key.invalid` (exit 6) for anything else, naming `file`.
 */
export function parsePublicKey(pem: string, file: string): KeyObject {
  // node:crypto would derive the public key from a private one: refuse it, a private key that
  // reached the verifier's side has been handled wrongly.
  if (pem.includes("PRIVATE KEY-----")) throw badKey(file, "a public key: it holds a private key");
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch (err) {
    throw badKey(file, "a PEM public key", err);
  }
  if (key.type !== "public" || key.asymmetricKeyType !== "ed25519")
    throw badKey(file, "an Ed25519 public key");
  return key;
}

/** `sha256:` + hex SHA-256 of a public key's DER (SPKI) bytes. */
export function keyId(publicKey: KeyObject): string {
  return `sha256:${sha256Hex(publicKey.export({ type: "spki", format: "der" }))}`;
}

/** The bytes a signature covers: canonical JSON of the manifest without `signature`. */
export function signedBytes(manifest: Manifest): Buffer {
  const { signature: _, ...unsigned } = manifest;
  return Buffer.from(canonicalJson(unsigned), "utf8");
}

/**
 * Builds the manifest of an out dir from the digests of its other files, signed when a private
 * key is given (Ed25519 is deterministic: the same input and key give the same signature).
 * @returns the manifest as pretty-printed canonical JSON.
 */
export function renderManifest(input: {
  version: string;
  policies: PolicyRef[];
  bundleDigest: string;
  files: Record<string, string>;
  waivers?: { file: string; digest: string };
  signingKey?: KeyObject;
}): string {
  const files: Record<string, string> = {};
  for (const name of Object.keys(input.files).sort()) {
    if (name !== MANIFEST_FILE) files[name] = input.files[name] as string;
  }
  const manifest: Manifest = {
    schema: "proof.manifest/v1",
    proof_version: input.version,
    policies: input.policies,
    bundle_digest: input.bundleDigest,
    files,
    ...(input.waivers ? { waivers: input.waivers } : {}),
  };
  if (input.signingKey) {
    manifest.signature = {
      algorithm: "ed25519",
      key_id: keyId(createPublicKey(input.signingKey)),
      value: sign(null, signedBytes(manifest), input.signingKey).toString("base64"),
    };
  }
  return prettyJson(manifest);
}

/**
 * Why an out dir failed verification: the first offence found; messages are about manifest.json.
 * `file` is a path relative to the out dir; a directory's path ends with `/`.
 */
export type AttestProblem =
  | { kind: "manifest"; message: string }
  | { kind: "signature"; message: string }
  | { kind: "modified" | "removed" | "added"; file: string };

/**
 * Checks an out dir against its manifest: the manifest must be a `proof.manifest/v1` object (strict
 * JSON: a key given twice is refused, since the signature would then cover one reading of the
 * bytes and another reader could see the other), its signature must hold for `publicKey` and its
 * `key_id` must be that key's id, every listed file must exist with the listed digest, and no other
 * file or directory may exist. The signature does not cover `key_id`, so `key_id` is recomputed
 * from `publicKey` and compared: an edited key id is refused like an edited file. A directory is
 * accounted for only when a listed file is inside it; any other (an empty one included) is added.
 * Files are compared in sorted name order, then directories, so the first offence is the same on
 * every run.
 * @param manifestText the text of `manifest.json`.
 * @param actual every file of the out dir but the manifest: relative path -> `sha256:` digest.
 * @param directories every directory under the out dir: relative `/`-separated path, no final `/`.
 * @returns null when everything holds, else the first problem.
 */
export function checkManifest(
  manifestText: string,
  actual: Readonly<Record<string, string>>,
  publicKey: KeyObject,
  directories: readonly string[] = [],
): AttestProblem | null {
  let manifest: Manifest;
  try {
    manifest = parseJson(manifestText, MANIFEST_FILE) as Manifest;
  } catch (err) {
    if (!(err instanceof ProofError)) throw err;
    const at = err.location?.line === undefined ? "" : ` at ${err.location.line}:${err.location.column}`;
    return { kind: "manifest", message: `not strict JSON${at}: ${err.message}` };
  }
  if (
    typeof manifest !== "object" ||
    manifest === null ||
    manifest.schema !== "proof.manifest/v1" ||
    typeof manifest.files !== "object" ||
    manifest.files === null ||
    Array.isArray(manifest.files)
  ) {
    return { kind: "manifest", message: "not a proof.manifest/v1 manifest" };
  }
  const sig = manifest.signature;
  if (sig === undefined)
    return { kind: "signature", message: "signature missing: the manifest is not signed" };
  if (sig?.algorithm !== "ed25519" || typeof sig.value !== "string") {
    return { kind: "signature", message: "signature invalid: not an Ed25519 signature" };
  }
  const expectedId = keyId(publicKey);
  let ok = false;
  try {
    ok = verify(null, signedBytes(manifest), publicKey, Buffer.from(sig.value, "base64"));
  } catch {
    ok = false;
  }
  if (!ok) {
    return {
      kind: "signature",
      message:
        sig.key_id === expectedId
          ? "signature does not hold: the manifest was changed"
          : `signature does not hold for this key (signed by ${String(sig.key_id)})`,
    };
  }
  if (sig.key_id !== expectedId) {
    return {
      kind: "signature",
      message: `signature.key_id ${JSON.stringify(sig.key_id)} is not the id of the given key (${expectedId}): the key id was changed`,
    };
  }
  const listed = manifest.files as Record<string, unknown>;
  const names = [...new Set([...Object.keys(listed), ...Object.keys(actual)])].sort();
  for (const file of names) {
    const digest = Object.hasOwn(listed, file) ? listed[file] : undefined;
    const found = Object.hasOwn(actual, file) ? actual[file] : undefined;
    if (digest === undefined) return { kind: "added", file };
    if (found === undefined) return { kind: "removed", file };
    if (digest !== found) return { kind: "modified", file };
  }
  // Every listed file exists here, so the directories holding them are accounted for.
  const holding = new Set<string>();
  for (const file of Object.keys(listed)) {
    for (let i = file.lastIndexOf("/"); i > 0; i = file.lastIndexOf("/", i - 1))
      holding.add(file.slice(0, i));
  }
  for (const d of [...directories].sort()) {
    if (!holding.has(d)) return { kind: "added", file: `${d}/` };
  }
  return null;
}
