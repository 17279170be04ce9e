/**
 * Throwaway certificate authorities and certificates for TLS tests, made with the openssl
 * command line (tests check `missingTools("openssl")` first). EC P-256 keys, valid for two days.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A CA or a leaf: the paths of its PEM files and their text. */
export interface Issued {
  name: string;
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function read(dir: string, name: string): Issued {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return {
    name,
    certFile,
    keyFile,
    cert: readFileSync(certFile, "utf8"),
    key: readFileSync(keyFile, "utf8"),
  };
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** A self-signed CA named `name` in `dir` (`name.crt`, `name.key`). */
export function makeCa(dir: string, name: string): Issued {
  openssl(
    [
      "req",
      "-x509",
      ...EC,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  return read(dir, name);
}

/**
 * A certificate named `name` issued by `ca`, for a server (`serverAuth`) or a client
 * (`clientAuth`), with subject alternative names such as `DNS:localhost`, `IP:127.0.0.1`,
 * `URI:spiffe://proof.test/agent`.
 */
export function makeCert(
  dir: string,
  ca: Issued,
  name: string,
  usage: "server" | "client",
  sans: string[],
): Issued {
  openssl(["req", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`], dir);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    `${sans.length ? `subjectAltName=${sans.join(",")}\n` : ""}extendedKeyUsage=${usage === "server" ? "serverAuth" : "clientAuth"}\n`,
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      ca.certFile,
      "-CAkey",
      ca.keyFile,
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-extfile",
      ext,
    ],
    dir,
  );
  return read(dir, name);
}
