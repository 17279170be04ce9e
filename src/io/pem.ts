/**
 * Reading PEM files (RFC 7468: certificates, private keys, CA bundles) for `proof serve`'s TLS:
 * the text is read with the input size bound and split into its blocks, each with the line it
 * starts on, so that a broken block is reported where it is.
 */
import { inputError } from "../errors.js";
import { fileLimit, readTextFile, toPosix } from "./files.js";

/** One `-----BEGIN <label>-----` ... `-----END <label>-----` block of a PEM file. */
export interface PemBlock {
  /** The label, such as `CERTIFICATE`, `PRIVATE KEY` or `EC PRIVATE KEY`. */
  label: string;
  /** The block's text, BEGIN and END lines included, with `\n` line ends. */
  pem: string;
  /** 1-based line of the BEGIN line in the file. */
  line: number;
}

/** A PEM file as read: its path (`/`-separated, as given), whole text and blocks in order. */
export interface PemFile {
  file: string;
  text: string;
  blocks: PemBlock[];
}

const BEGIN = /^-----BEGIN ([A-Z0-9 ]+)-----\s*$/;
const END = /^-----END ([A-Z0-9 ]+)-----\s*$/;
/** Base64 body lines, and the `Key: value` headers of legacy encrypted keys (RFC 1421). */
const BODY = /^(?:[A-Za-z0-9+/]*={0,2}|[A-Za-z-]+: .*)\s*$/;

/**
 * Splits PEM text into its blocks (RFC 7468). Text outside blocks is allowed (OpenSSL writes a
 * human-readable dump before certificates); text inside must be base64.
 * @throws ProofError `tls.invalid_pem` (exit 6) at the line of a BEGIN without its END, an END
 *   whose label differs, or a body line that is not base64; `tls.no_pem` when no block has one
 *   of the `expected` labels (naming the labels found).
 */
export function parsePem(text: string, file: string, expected: readonly string[], what: string): PemBlock[] {
  const lines = text.split(/\r?\n/);
  const blocks: PemBlock[] = [];
  let open: { label: string; line: number; body: string[] } | undefined;
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    if (open === undefined) {
      const begin = BEGIN.exec(raw);
      if (begin) open = { label: begin[1] as string, line, body: [raw.trim()] };
      continue;
    }
    const end = END.exec(raw);
    if (end) {
      if (end[1] !== open.label) {
        throw inputError(
          "tls.invalid_pem",
          `${what}: the block begun as ${open.label} at line ${open.line} ends as ${end[1]}`,
          { file, line, column: 1 },
        );
      }
      open.body.push(raw.trim());
      blocks.push({ label: open.label, pem: `${open.body.join("\n")}\n`, line: open.line });
      open = undefined;
      continue;
    }
    if (!BODY.test(raw)) {
      throw inputError("tls.invalid_pem", `${what}: this line of a ${open.label} block is not base64`, {
        file,
        line,
        column: 1,
      });
    }
    open.body.push(raw.trim());
  }
  if (open !== undefined) {
    throw inputError("tls.invalid_pem", `${what}: the ${open.label} block has no END line`, {
      file,
      line: open.line,
      column: 1,
    });
  }
  if (!blocks.some((b) => expected.includes(b.label))) {
    const found = blocks.length
      ? `found ${[...new Set(blocks.map((b) => b.label))].join(", ")}`
      : "found none";
    throw inputError(
      "tls.no_pem",
      `${what}: expected a PEM block ${expected.join(" or ")}, ${found}`,
      { file },
      "give the PEM file (text starting with -----BEGIN ...-----), not DER or PKCS#12",
    );
  }
  return blocks;
}

/**
 * Reads a PEM file of at most the input file bound (`PROOF_MAX_FILE_BYTES`) and splits it.
 * @param expected the block labels that must occur at least once
 * @param what the role of the file in messages, such as `TLS certificate`
 * @throws ProofError `io.unreadable`, `io.too_large`, `io.binary` (a DER file) or those of
 *   {@link parsePem}, all exit 6.
 */
export async function readPemFile(path: string, expected: readonly string[], what: string): Promise<PemFile> {
  const file = toPosix(path);
  const text = await readTextFile(path, fileLimit());
  return { file, text, blocks: parsePem(text, file, expected, what) };
}
