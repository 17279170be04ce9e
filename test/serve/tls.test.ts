/**
 * TLS and mutual TLS of `proof serve` (src/serve/tls.ts) on a real `node:https` server with
 * throwaway CAs made by openssl: protocol versions and ciphers, the client-certificate check
 * (403 with a reason), and certificate rotation under a stream of requests.
 */
import { X509Certificate as X509 } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { Agent, createServer, type RequestOptions, request, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { watchFiles } from "../../src/io/watch-files.js";
import {
  clientCertificateCheck,
  subjectAltNames,
  TLS_CIPHERS,
  tlsServerOptions,
  watchTlsFiles,
} from "../../src/serve/tls.js";
import type { ClientCertificateCheck } from "../../src/serve/types.js";
import { type Issued, makeCa, makeCert } from "../helpers/pki.js";
import { missingTools } from "../helpers/tools.js";

const skip = missingTools("openssl");

async function rejection(p: Promise<unknown>): Promise<ProofError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ProofError) return err;
    throw err;
  }
  throw new Error("expected a ProofError");
}

/** An https server answering 200 with the peer's identity, or 403 with the check's reason. */
async function serve(
  options: object,
  check?: ClientCertificateCheck,
): Promise<{ server: Server; port: number }> {
  const server = createServer(options, (req, res) => {
    const socket = req.socket as TLSSocket;
    const result = check ? check(socket) : { ok: true as const };
    res.writeHead(result.ok ? 200 : 403, { "content-type": "application/json" });
    res.end(JSON.stringify(result.ok ? { subject: result.subject ?? null } : { reason: result.reason }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

interface Answer {
  status: number;
  body: { subject?: string | null; reason?: string };
  protocol: string | null;
  cipher: string;
  /** SHA-256 fingerprint of the server certificate seen. */
  server: string;
}

/** One request on a new connection (unless `agent` is given). */
function get(
  port: number,
  tls: { ca: string[]; client?: Issued; maxVersion?: string; minVersion?: string; ciphers?: string },
  agent?: Agent,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        servername: "localhost",
        ca: tls.ca,
        ...(tls.client ? { cert: tls.client.cert, key: tls.client.key } : {}),
        ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}),
        ...(tls.minVersion ? { minVersion: tls.minVersion } : {}),
        ...(tls.ciphers ? { ciphers: tls.ciphers } : {}),
        agent: agent ?? false,
      } as RequestOptions,
      (res) => {
        const socket = res.socket as TLSSocket;
        const meta = {
          protocol: socket.getProtocol(),
          cipher: socket.getCipher().name,
          server: socket.getPeerX509Certificate()?.fingerprint256 ?? "",
        };
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), ...meta }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

describe("subjectAltNames", () => {
  it("reads DNS and URI names, JSON-quoted ones included, and leaves out other types", () => {
    expect(
      subjectAltNames('DNS:a.example, IP Address:127.0.0.1, URI:spiffe://x/y, DNS:"b,c.example", email:m@x'),
    ).toEqual([
      { type: "DNS", value: "a.example" },
      { type: "URI", value: "spiffe://x/y" },
      { type: "DNS", value: "b,c.example" },
    ]);
    expect(subjectAltNames(undefined)).toEqual([]);
  });

  it("refuses an allow-list entry of a type it does not match", () => {
    expect(() => clientCertificateCheck(["IP:127.0.0.1"])).toThrow(ProofError);
    expect(() => clientCertificateCheck(["email:a@b"])).toThrow(/only DNS: and URI:/);
    expect(() => clientCertificateCheck(["spiffe://proof.test/a", "DNS:x", "plain.example"])).not.toThrow();
  });
});

describe("watchFiles", () => {
  it("falls back to polling where a directory cannot be watched, and notices a file appear", async () => {
    const root = mkdtempSync(join(tmpdir(), "proof-watch-"));
    const file = join(root, "later", "tls.crt");
    const warnings: string[] = [];
    let changes = 0;
    const watch = watchFiles([file], () => changes++, {
      debounceMs: 10,
      pollMs: 20,
      warn: (m) => warnings.push(m),
    });
    try {
      expect(warnings.join("\n")).toMatch(/cannot watch .*later.*polling instead/);
      mkdirSync(join(root, "later"));
      writeFileSync(file, "x");
      for (let i = 0; i < 400 && changes === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(changes).toBeGreaterThanOrEqual(1);
    } finally {
      watch.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skip)("TLS of proof serve", () => {
  let dir: string;
  let caA: Issued;
  let caB: Issued;
  let serverA: Issued;
  let serverB: Issued;
  let agent: Issued;
  let stranger: Issued;
  let agentOfB: Issued;
  let ci: Issued;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "proof-tls-"));
    caA = makeCa(dir, "ca-a");
    caB = makeCa(dir, "ca-b");
    serverA = makeCert(dir, caA, "server-a", "server", ["DNS:localhost", "IP:127.0.0.1"]);
    serverB = makeCert(dir, caB, "server-b", "server", ["DNS:localhost", "IP:127.0.0.1"]);
    agent = makeCert(dir, caA, "agent", "client", ["DNS:Agent.Proof.Test"]);
    stranger = makeCert(dir, caA, "stranger", "client", [
      "DNS:stranger.proof.test",
      "URI:spiffe://proof.test/x",
    ]);
    ci = makeCert(dir, caA, "ci", "client", ["URI:spiffe://proof.test/ci"]);
    agentOfB = makeCert(dir, caB, "agent-b", "client", ["DNS:agent.proof.test"]);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe("tlsServerOptions", () => {
    it("sets TLS 1.2 as the floor, the cipher policy and mTLS only with a client CA", async () => {
      const plain = await tlsServerOptions({ cert: serverA.certFile, key: serverA.keyFile });
      expect(plain).toMatchObject({ minVersion: "TLSv1.2", maxVersion: "TLSv1.3", honorCipherOrder: true });
      expect(plain.ciphers).toBe(TLS_CIPHERS);
      expect(plain.requestCert).toBeUndefined();
      expect(TLS_CIPHERS.split(":").filter((c) => !c.startsWith("TLS_"))).toSatisfy((list: string[]) =>
        list.every((c) => c.startsWith("ECDHE-") && /GCM|CHACHA20/.test(c)),
      );
      const mtls = await tlsServerOptions({
        cert: serverA.certFile,
        key: serverA.keyFile,
        clientCa: caA.certFile,
      });
      expect(mtls).toMatchObject({ requestCert: true, rejectUnauthorized: false, ca: caA.cert });
    });

    it("refuses missing, damaged, DER and mismatched files with located errors (exit 6)", async () => {
      const missing = await rejection(
        tlsServerOptions({ cert: join(dir, "nope.crt"), key: serverA.keyFile }),
      );
      expect([missing.code, missing.exitCode]).toEqual(["io.unreadable", 6]);

      const damaged = join(dir, "damaged.crt");
      const lines = serverA.cert.split("\n");
      lines.splice(2, 0, "this is not base64!");
      writeFileSync(damaged, `# a comment line\n${lines.join("\n")}`);
      const e1 = await rejection(tlsServerOptions({ cert: damaged, key: serverA.keyFile }));
      expect([e1.code, e1.exitCode]).toEqual(["tls.invalid_pem", 6]);
      expect(e1.location).toMatchObject({ line: 4, column: 1 });

      const truncated = join(dir, "truncated.crt");
      writeFileSync(truncated, serverA.cert.split("\n").slice(0, 5).join("\n"));
      const e2 = await rejection(tlsServerOptions({ cert: truncated, key: serverA.keyFile }));
      expect([e2.code, e2.location?.line]).toEqual(["tls.invalid_pem", 1]);

      const der = join(dir, "server.der");
      const body = serverA.cert.replace(/-----[A-Z ]+-----/g, "").replace(/\s/g, "");
      writeFileSync(der, Buffer.from(body, "base64"));
      const e3 = await rejection(tlsServerOptions({ cert: der, key: serverA.keyFile }));
      expect(["io.binary", "tls.no_pem"]).toContain(e3.code);
      expect(e3.exitCode).toBe(6);

      const e4 = await rejection(tlsServerOptions({ cert: serverA.certFile, key: serverB.keyFile }));
      expect([e4.code, e4.exitCode]).toEqual(["tls.key_mismatch", 6]);

      const e5 = await rejection(tlsServerOptions({ cert: serverA.keyFile, key: serverA.keyFile }));
      expect(e5.code).toBe("tls.no_pem");
      expect(e5.message).toContain("found PRIVATE KEY");

      const e6 = await rejection(
        tlsServerOptions({ cert: serverA.certFile, key: serverA.keyFile, clientCa: join(dir, "none.crt") }),
      );
      expect(e6.code).toBe("io.unreadable");
    });
  });

  describe("protocol versions and ciphers", () => {
    let port: number;
    let server: Server;
    beforeAll(async () => {
      ({ server, port } = await serve(
        await tlsServerOptions({ cert: serverA.certFile, key: serverA.keyFile }),
      ));
    });
    afterAll(() => close(server));

    it("prefers TLS 1.3 and accepts TLS 1.2 with an ECDHE AEAD cipher", async () => {
      const v13 = await get(port, { ca: [caA.cert] });
      expect([v13.status, v13.protocol]).toEqual([200, "TLSv1.3"]);
      const v12 = await get(port, { ca: [caA.cert], maxVersion: "TLSv1.2" });
      expect([v12.status, v12.protocol]).toEqual([200, "TLSv1.2"]);
      expect(v12.cipher).toMatch(/^ECDHE-ECDSA-(AES\d+-GCM|CHACHA20-POLY1305)/);
    });

    it("refuses TLS 1.1, which a permissive server accepts from the same client", async () => {
      const old = {
        ca: [caA.cert],
        minVersion: "TLSv1",
        maxVersion: "TLSv1.1",
        ciphers: "DEFAULT@SECLEVEL=0",
      };
      const permissive = await serve({
        cert: serverA.cert,
        key: serverA.key,
        minVersion: "TLSv1",
        ciphers: "DEFAULT@SECLEVEL=0",
      });
      try {
        expect((await get(permissive.port, old)).protocol).toBe("TLSv1.1");
      } finally {
        await close(permissive.server);
      }
      await expect(get(port, old)).rejects.toThrow(/protocol|version/i);
    });

    it("refuses a TLS 1.2 client that offers only CBC ciphers", async () => {
      await expect(
        get(port, { ca: [caA.cert], maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-SHA256" }),
      ).rejects.toThrow(/handshake|cipher/i);
    });
  });

  describe("mutual TLS", () => {
    let port: number;
    let server: Server;
    beforeAll(async () => {
      const options = await tlsServerOptions({
        cert: serverA.certFile,
        key: serverA.keyFile,
        clientCa: caA.certFile,
      });
      const check = clientCertificateCheck(["DNS:agent.proof.test", "URI:spiffe://proof.test/ci"]);
      ({ server, port } = await serve(options, check));
    });
    afterAll(() => close(server));

    it("answers 403 client_certificate_missing without a certificate", async () => {
      const r = await get(port, { ca: [caA.cert] });
      expect([r.status, r.body.reason]).toEqual([403, "client_certificate_missing"]);
    });

    it("answers 403 client_certificate_untrusted for a certificate of another CA", async () => {
      const r = await get(port, { ca: [caA.cert], client: agentOfB });
      expect([r.status, r.body.reason]).toEqual([403, "client_certificate_untrusted"]);
    });

    it("answers 403 client_certificate_san when no SAN is allowed", async () => {
      const r = await get(port, { ca: [caA.cert], client: stranger });
      expect([r.status, r.body.reason]).toEqual([403, "client_certificate_san"]);
    });

    it("lets an allowed DNS (any case) or URI SAN through, naming it", async () => {
      const a = await get(port, { ca: [caA.cert], client: agent });
      expect([a.status, a.body.subject]).toEqual([200, "DNS:Agent.Proof.Test"]);
      const c = await get(port, { ca: [caA.cert], client: ci });
      expect([c.status, c.body.subject]).toEqual([200, "URI:spiffe://proof.test/ci"]);
    });

    it("without an allow list, lets any certificate of the CA through", async () => {
      const open = await serve(
        await tlsServerOptions({ cert: serverA.certFile, key: serverA.keyFile, clientCa: caA.certFile }),
        clientCertificateCheck(),
      );
      try {
        const r = await get(open.port, { ca: [caA.cert], client: stranger });
        expect([r.status, r.body.subject]).toEqual([200, "stranger"]);
        expect((await get(open.port, { ca: [caA.cert], client: agentOfB })).status).toBe(403);
      } finally {
        await close(open.server);
      }
    });
  });

  describe("certificate rotation", () => {
    it("applies new files to new connections while no request fails, and keeps the old ones on a bad file", async () => {
      const live = mkdtempSync(join(dir, "live-"));
      const files = {
        cert: join(live, "tls.crt"),
        key: join(live, "tls.key"),
        clientCa: join(live, "clients.crt"),
      };
      /** Replaces a file the way a secret manager does: write aside, then rename over. */
      const put = (path: string, text: string) => {
        writeFileSync(`${path}.tmp`, text);
        renameSync(`${path}.tmp`, path);
      };
      put(files.cert, serverA.cert);
      put(files.key, serverA.key);
      put(files.clientCa, caA.cert);
      const { server, port } = await serve(await tlsServerOptions(files), clientCertificateCheck());
      const reloads: string[] = [];
      const outcomes: string[] = [];
      const watch = watchTlsFiles(files, server, {
        debounceMs: 20,
        pollMs: 100,
        metrics: { tlsReload: (o) => reloads.push(o) },
        onReload: (o) => outcomes.push(o),
        warn: () => undefined,
      });
      const trust = { ca: [caA.cert, caB.cert], client: agent };
      const oldPrint = new X509(serverA.cert);
      const newPrint = new X509(serverB.cert);
      const seen = new Set<string>();
      const failures: string[] = [];
      let done = 0;
      let swapped = false;
      let afterSwap = 0;
      const keepAlive = new Agent({ keepAlive: true, maxSockets: 2 });
      const worker = async (reuse: boolean) => {
        while (done < 200 || afterSwap < 50) {
          try {
            const r = await get(port, trust, reuse ? keepAlive : undefined);
            if (r.status !== 200) failures.push(`status ${r.status} ${JSON.stringify(r.body)}`);
            // A resumed session shows the client no certificate: nothing to learn from it.
            if (r.server) seen.add(r.server);
          } catch (err) {
            failures.push((err as Error).message);
          }
          done++;
          if (swapped) afterSwap++;
        }
      };
      try {
        expect((await get(port, { ca: [caA.cert, caB.cert], client: agentOfB })).status).toBe(403);
        const stream = Promise.all([worker(false), worker(false), worker(true), worker(true)]);
        while (done < 50) await new Promise((r) => setTimeout(r, 5));
        put(files.clientCa, `${caA.cert}${caB.cert}`);
        put(files.key, serverB.key);
        put(files.cert, serverB.cert);
        for (let i = 0; i < 400 && !outcomes.includes("ok"); i++) await new Promise((r) => setTimeout(r, 10));
        swapped = true;
        await stream;
        keepAlive.destroy();
        expect(failures).toEqual([]);
        expect(outcomes).toContain("ok");
        expect(reloads.at(-1)).toBe("ok");
        expect(seen).toEqual(new Set([oldPrint.fingerprint256, newPrint.fingerprint256]));
        const after = await get(port, trust);
        expect(after.server).toBe(newPrint.fingerprint256);
        // The new client CA bundle trusts clients of CA B too.
        expect((await get(port, { ca: [caB.cert], client: agentOfB })).status).toBe(200);

        // A damaged certificate keeps the context in use and counts an error.
        const before = reloads.length;
        put(files.cert, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");
        expect(await watch.reload()).toBe("error");
        expect(reloads.slice(before)).toContain("error");
        expect(reloads.slice(before)).not.toContain("ok");
        const still = await get(port, trust);
        expect([still.status, still.server]).toEqual([200, newPrint.fingerprint256]);
        expect(readFileSync(files.cert, "utf8")).toContain("not base64");
      } finally {
        watch.close();
        await close(server);
      }
    });
  });
});
