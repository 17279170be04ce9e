/** serve.yaml and the flags of `proof serve`, merged and checked (src/serve/config.ts). */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, parseListen, parseServeFile, resolveServeConfig } from "../../src/serve/config.js";

describe("serve configuration", () => {
  it("parses HOST:PORT, IPv6 in brackets, and refuses the rest", () => {
    expect(parseListen("127.0.0.1:0", "--listen")).toEqual({ host: "127.0.0.1", port: 0 });
    expect(parseListen("[::1]:8787", "--listen")).toEqual({ host: "::1", port: 8787 });
    expect(parseListen("localhost:80", "--listen")).toEqual({ host: "localhost", port: 80 });
    for (const bad of ["8787", "host:", ":80", "h:70000", "::1:80", "h:8a"]) {
      expect(() => parseListen(bad, "--listen")).toThrow(expect.objectContaining({ code: "serve.listen" }));
    }
  });

  it("merges flags over the file over defaults", () => {
    const file = parseServeFile(
      "listen: 0.0.0.0:9000\npolicyDir: pol\nprofile: stage\ninsecureNoAuth: true\nlimits:\n  bodyBytes: 1024\n",
      "serve.yaml",
    );
    const config = resolveServeConfig({ listen: "127.0.0.1:1" }, file);
    expect(config).toEqual({
      listen: { host: "127.0.0.1", port: 1 },
      policyDir: "pol",
      profile: "stage",
      insecureNoAuth: true,
      limits: { bodyBytes: 1024, requestTimeoutMs: DEFAULT_LIMITS.requestTimeoutMs },
      allowedSans: [],
    });
  });

  it("locates a bad value, an unknown key and a misplaced insecureNoAuth", () => {
    const at = (text: string) => {
      try {
        const file = parseServeFile(text, "s.yaml");
        resolveServeConfig({}, file);
      } catch (err) {
        const e = err as { code: string; location?: { line?: number; column?: number } };
        return [e.code, e.location?.line, e.location?.column];
      }
      return [];
    };
    expect(at("policyDir: p\nlimits:\n  requestTimeoutMs: -1\n")).toEqual(["serve.config", 3, 21]);
    expect(at("policyDir: p\nport: 1\n")).toEqual(["serve.config", 2, 1]);
    expect(at("policyDir: p\nprofile: prod\ninsecureNoAuth: true\n")).toEqual([
      "serve.insecure_in_prod",
      3,
      17,
    ]);
    expect(at("policyDir: p\ninsecureNoAuth: yes\n")).toEqual(["serve.config", 2, 17]);
    expect(at("listen: 1\n")).toEqual(["serve.config", 1, 9]);
    expect(at("listen: h:x\n")).toEqual(["serve.listen", 1, 9]);
    expect(at("profile: dev\n")).toEqual(["serve.no_policy_dir", undefined, undefined]);
    expect(at("policyDir: p\nprofile: dev\n")).toEqual(["serve.no_auth", undefined, undefined]);
  });

  it("needs no --insecure-no-auth once --auth is given, and refuses both together", () => {
    const config = resolveServeConfig({ policyDir: "p", auth: "auth.yaml", profile: "stage" }, undefined);
    expect(config).toMatchObject({ auth: "auth.yaml", profile: "stage", insecureNoAuth: false });
    expect(() =>
      resolveServeConfig({ policyDir: "p", auth: "a.yaml", insecureNoAuth: true, profile: "dev" }, undefined),
    ).toThrow(expect.objectContaining({ code: "serve.no_auth" }));
  });

  it("requires mutual TLS under prod, a key with a certificate, TLS for a client CA, a CA for SANs", () => {
    const code = (flags: Parameters<typeof resolveServeConfig>[0], text?: string) => {
      try {
        resolveServeConfig(
          { policyDir: "p", auth: "a.yaml", ...flags },
          text ? parseServeFile(text, "s.yaml") : undefined,
        );
      } catch (err) {
        const e = err as { code: string; location?: { line?: number } };
        return [e.code, e.location?.line];
      }
      return ["ok"];
    };
    expect(code({})).toEqual(["serve.prod_mtls", undefined]);
    expect(code({ tlsCert: "c", tlsKey: "k" })).toEqual(["serve.prod_mtls", undefined]);
    expect(code({ tlsCert: "c", tlsKey: "k", clientCa: "ca" })).toEqual(["ok"]);
    expect(code({ tlsCert: "c", profile: "stage" })).toEqual(["serve.tls_pair", undefined]);
    expect(code({ profile: "stage" }, "tlsKey: k\n")).toEqual(["serve.tls_pair", 1]);
    expect(code({ clientCa: "ca", profile: "stage" })).toEqual(["serve.needs_tls", undefined]);
    expect(code({ profile: "stage", tlsCert: "c", tlsKey: "k" }, "allowedSans: [a.example]\n")).toEqual([
      "serve.needs_client_ca",
      1,
    ]);
    expect(code({ profile: "stage" }, "allowedSans: a\n")).toEqual(["serve.config", 1]);
  });

  it("reads the auth and TLS files and the allowed SANs from serve.yaml", () => {
    const file = parseServeFile(
      "policyDir: p\nauth: auth.yaml\ntlsCert: c.pem\ntlsKey: k.pem\nclientCa: ca.pem\nallowedSans: [agent.example, spiffe://x/y]\n",
      "serve.yaml",
    );
    expect(resolveServeConfig({}, file)).toMatchObject({
      profile: "prod",
      auth: "auth.yaml",
      tls: { cert: "c.pem", key: "k.pem" },
      clientCa: "ca.pem",
      allowedSans: ["agent.example", "spiffe://x/y"],
    });
    // A flag wins over the file, a repeated flag replaces the list.
    expect(resolveServeConfig({ allowedSan: ["b.example"] }, file).allowedSans).toEqual(["b.example"]);
  });
});
