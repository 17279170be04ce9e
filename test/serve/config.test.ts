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
    const config = resolveServeConfig({ listen: "127.0.0.1:1" }, file, false);
    expect(config).toEqual({
      listen: { host: "127.0.0.1", port: 1 },
      policyDir: "pol",
      profile: "stage",
      insecureNoAuth: true,
      limits: { bodyBytes: 1024, requestTimeoutMs: DEFAULT_LIMITS.requestTimeoutMs },
    });
  });

  it("locates a bad value, an unknown key and a misplaced insecureNoAuth", () => {
    const at = (text: string) => {
      try {
        const file = parseServeFile(text, "s.yaml");
        resolveServeConfig({}, file, false);
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

  it("needs no --insecure-no-auth once an authenticator is configured", () => {
    expect(resolveServeConfig({ policyDir: "p" }, undefined, true).profile).toBe("prod");
  });
});
