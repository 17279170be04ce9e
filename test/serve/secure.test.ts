/**
 * The built `proof serve` under the prod profile, as an operator runs it: OAuth 2.0 bearer tokens
 * from a real authorization server (oidc-provider, client-credentials grant), HTTPS with mutual
 * TLS from a throwaway CA (openssl), and the Prometheus metrics that count what it refused.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";
import { API_AUDIENCE, startIdp, type TestIdp } from "../helpers/idp.js";
import { type Issued, makeCa, makeCert } from "../helpers/pki.js";
import { missingTools } from "../helpers/tools.js";

const skip = missingTools("openssl");

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe.skipIf(skip)("proof serve with OAuth 2.0 and mutual TLS (process)", () => {
  let idp: TestIdp;
  let child: ChildProcess;
  let port = 0;
  let ca: Issued;
  let agent: Issued;
  let stranger: Issued;
  let otherSan: Issued;
  let stderr = "";

  beforeAll(async () => {
    const dir = await tempDir();
    idp = await startIdp();
    ca = makeCa(dir, "ca");
    const otherCa = makeCa(dir, "other-ca");
    // server.crt and server.key, which serve.yaml names.
    makeCert(dir, ca, "server", "server", ["DNS:localhost", "IP:127.0.0.1"]);
    agent = makeCert(dir, ca, "agent", "client", ["DNS:agent.proof.test"]);
    otherSan = makeCert(dir, ca, "intruder", "client", ["DNS:intruder.proof.test"]);
    stranger = makeCert(dir, otherCa, "stranger", "client", ["DNS:agent.proof.test"]);
    mkdirSync(join(dir, "policies"));
    copyFileSync(join(ROOT, "examples/policies/agentdojo-banking.yaml"), join(dir, "policies/banking.yaml"));
    writeFileSync(join(dir, "auth.yaml"), `issuer: ${idp.issuer}\naudience: ${API_AUDIENCE}\n`);
    // Every setting from serve.yaml, relative to it, as the Kubernetes overlays mount them.
    writeFileSync(
      join(dir, "serve.yaml"),
      [
        "listen: 127.0.0.1:0",
        "policyDir: policies",
        "profile: prod",
        "auth: auth.yaml",
        "tlsCert: server.crt",
        "tlsKey: server.key",
        "clientCa: ca.crt",
        "allowedSans: [agent.proof.test]",
        "",
      ].join("\n"),
    );
    child = spawn(process.execPath, [BIN, "--config", "serve.yaml", "serve"], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr?.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout?.setEncoding("utf8").on("data", (s: string) => {
        out += s;
        const m = /^proof serve: listening on (https:\/\/\S+)$/m.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      child.on("exit", (code) => reject(new Error(`proof serve exited ${code}: ${stderr}`)));
    });
    port = Number(new URL(url).port);
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await idp?.close();
    await removeTempDirs();
  });

  /** One HTTPS request that trusts the test CA, with an optional client certificate and token. */
  function call(
    path: string,
    options: { cert?: Issued; token?: string; body?: unknown } = {},
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path,
          method: options.body === undefined ? "GET" : "POST",
          ca: [ca.cert],
          servername: "localhost",
          ...(options.cert ? { cert: options.cert.cert, key: options.cert.key } : {}),
          headers: {
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
            ...(options.body === undefined ? {} : { "content-type": "application/json" }),
          },
          agent: false,
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (s: string) => {
            body += s;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on("error", reject);
      req.end(options.body === undefined ? undefined : JSON.stringify(options.body));
    });
  }

  it("answers probes without a certificate or token, and is ready once the IdP's keys are loaded", async () => {
    expect((await call("/healthz")).status).toBe(200);
    const ready = await call("/readyz");
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ ready: true, authenticator_ready: true });
  });

  it("serves a client with an allowed certificate and a token holding the route's scope", async () => {
    const token = await idp.token("policy:read verify:run");
    const policies = await call("/v1/policies", { cert: agent, token });
    expect(policies.status).toBe(200);
    expect(policies.body).toContain("agentdojo.banking");
    const check = await call("/v1/check", {
      cert: agent,
      token,
      body: { call: { tool: "get_balance", args: {} } },
    });
    expect(check.status).toBe(200);
    expect(JSON.parse(check.body).verdict).toBe("allow");
  });

  it("refuses a missing certificate, one from another CA and a SAN not allowed with 403", async () => {
    const token = await idp.token("policy:read");
    for (const [cert, reason] of [
      [undefined, "client_certificate_missing"],
      [stranger, "client_certificate_untrusted"],
      [otherSan, "client_certificate_san"],
    ] as const) {
      const r = await call("/v1/policies", { ...(cert ? { cert } : {}), token });
      expect(r.status, reason).toBe(403);
      expect(JSON.parse(r.body).error.code).toBe(`auth.${reason}`);
      expect(r.body).not.toContain("    at ");
    }
  });

  it("refuses a missing token with 401 and a missing scope with 403, saying why", async () => {
    const none = await call("/v1/policies", { cert: agent });
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toMatch(/^Bearer realm="proof"/);
    const narrow = await call("/v1/compile", {
      cert: agent,
      token: await idp.token("policy:read"),
      body: { source: "schema: proof.policy/v1\n" },
    });
    expect(narrow.status).toBe(403);
    expect(narrow.headers["www-authenticate"]).toContain('error="insufficient_scope"');
    const foreign = await call("/v1/policies", {
      cert: agent,
      token: await idp.token("policy:read", "https://elsewhere.test/api"),
    });
    expect(foreign.status).toBe(401);
    expect(foreign.headers["www-authenticate"]).toContain('error="invalid_token"');
  });

  it("counts requests, verdicts and refusals by reason in /metrics", async () => {
    const metrics = await call("/metrics", { cert: agent, token: await idp.token("policy:read") });
    expect(metrics.status).toBe(200);
    expect(metrics.headers["content-type"]).toMatch(/^text\/plain/);
    const line = (re: RegExp) => metrics.body.split("\n").find((l) => re.test(l));
    expect(line(/^proof_auth_failures_total\{reason="client_certificate_missing"\} [1-9]/)).toBeDefined();
    expect(line(/^proof_auth_failures_total\{reason="missing_token"\} [1-9]/)).toBeDefined();
    expect(line(/^proof_auth_failures_total\{reason="missing_scope"\} [1-9]/)).toBeDefined();
    expect(line(/^proof_verdicts_total\{route="\/v1\/check",verdict="allow"\} 1$/)).toBeDefined();
    expect(
      line(/^proof_http_requests_total\{route="\/v1\/policies",method="GET",code="200"\} 1$/),
    ).toBeDefined();
    expect(line(/^proof_jwks_refreshes_total\{outcome="ok"\} [1-9]/)).toBeDefined();
  });
});
