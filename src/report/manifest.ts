/**
 * `manifest.json` (`proof.manifest/v1`, DESIGN.md §7): the SHA-256 of every other artifact of an
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

/** Why an out dir failed verification: the first offence found; messages are about manifest.json. */
export type AttestProblem =
  | { kind: "manifest"; message: string }
  | { kind: "signature"; message: string }
  | { kind: "modified" | "removed" | "added"; file: string };

/**
 * Checks an out dir against its manifest: the manifest must be a `proof.manifest/v1` object, its
 * signature must hold for `publicKey`, every listed file must exist with the listed digest and no
 * other file may exist. Files are compared in sorted name order, so the first offending file is
 * the same on every run.
 * @param manifestText the text of `manifest.json`.
 * @param actual every file of the out dir but the manifest: relative path -> `sha256:` digest.
 * @returns null when everything holds, else the first problem.
 */
export function checkManifest(
  manifestText: string,
  actual: Readonly<Record<string, string>>,
  publicKey: KeyObject,
): AttestProblem | null {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(manifestText) as Manifest;
  } catch {
    return { kind: "manifest", message: "not JSON" };
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
        sig.key_id === keyId(publicKey)
          ? "signature does not hold: the manifest was changed"
          : `signature does not hold for this key (signed by ${String(sig.key_id)})`,
    };
  }
  const names = [...new Set([...Object.keys(manifest.files), ...Object.keys(actual)])].sort();
  for (const file of names) {
    const listed = manifest.files[file];
    const found = actual[file];
    if (listed === undefined) return { kind: "added", file };
    if (found === undefined) return { kind: "removed", file };
    if (listed !== found) return { kind: "modified", file };
  }
  return null;
}
