/**
 * The HTTP API of `proof serve` through fastify's `inject` (no socket): parity with the CLI's
 * outputs for the same inputs (the built CLI is run for the reference), bad input as the CLI's
 * error envelope, reloads, and the auth and metrics seams with fakes.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { createServer, type ServeHandle, type ServerOptions } from "../../src/serve/server.js";
import type {
  AuthOutcome,
  RequestAuthenticator,
  ServeMetricsSink,
  ServeRoute,
} from "../../src/serve/types.js";
import { proof, ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";
import { sourcesUnder } from "./corpus.js";

const BANKING = "examples/policies/agentdojo-banking.yaml";
const LKSG = "examples/policies/lksg.v1.yaml";
const CORPUS = "fixtures/corpus/agentdojo/runs";

const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const policyFile = (path: string) => ({ file: path, text: read(path) });

/** A server over fixed policy texts (no directory), closed after the file's tests. */
const made: ServeHandle[] = [];
async function serverOf(
  files: { file: string; text: string }[],
  options: Partial<ServerOptions> = {},
): Promise<ServeHandle> {
  const handle = await createServer({ loadPolicies: async () => files, log: () => {}, ...options });
  made.push(handle);
  return handle;
}
afterAll(async () => {
  await Promise.all(made.map((h) => h.close(1000)));
  await removeTempDirs();
});

async function post(handle: ServeHandle, url: string, body: unknown) {
  return handle.app.inject({
    method: "POST",
    url,
    headers: { "content-type": "application/json" },
    payload: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The envelope's first error, checked for the envelope's shape. */
function envelopeError(text: string): { code: string; message: string; location: unknown } {
  const body = JSON.parse(text);
  expect(Object.keys(body).sort()).toEqual(["error", "errors", "omitted"]);
  expect(body.errors[0]).toEqual(body.error);
  return body.error;
}

/** No response may carry a stack trace or a source path of proof. */
function expectNoStack(text: string): void {
  expect(text).not.toMatch(/\n\s+at |\bat .*\.(ts|js):\d+|node_modules|src\/serve/);
}

describe("POST /v1/verify", () => {
  let out: string;
  let banking: ServeHandle;
  beforeAll(async () => {
    out = await tempDir();
    banking = await serverOf([policyFile(BANKING)]);
  });

  it("returns report.json of proof verify byte for byte on the AgentDojo corpus", async () => {
    const cli = await proof(
      ["verify", "--policy", BANKING, "--traces", CORPUS, "--out", join(out, "v")],
      ROOT,
    );
    expect([0, 5]).toContain(cli.code);
    const expected = readFileSync(join(out, "v", "report.json"), "utf8");
    const traces = sourcesUnder(CORPUS);
    expect(traces.length).toBe(136);
    const res = await post(banking, "/v1/verify", { traces, root: CORPUS });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(res.body).toBe(expected);
    // Reversed order, policy named by digest: the same bytes.
    const digest = JSON.parse(expected).policies[0].policy_digest;
    const again = await post(banking, "/v1/verify", {
      traces: [...traces].reverse(),
      root: CORPUS,
      policy: digest,
    });
    expect(again.body).toBe(expected);
  });

  it("without root, names files as proof verify --traces . run in the root does", async () => {
    const cli = await proof(
      [
        "verify",
        "--policy",
        join(ROOT, BANKING),
        "--traces",
        ".",
        "--out",
        join(out, "dot"),
        "--fail-on",
        "warn",
      ],
      join(ROOT, CORPUS),
    );
    expect([0, 5]).toContain(cli.code);
    const res = await post(banking, "/v1/verify", { traces: sourcesUnder(CORPUS), fail_on: "warn" });
    expect(res.body).toBe(readFileSync(join(out, "dot", "report.json"), "utf8"));
  });

  it("with a plan, gives the verdicts of a policy holding only the plan's active rules", async () => {
    const context = JSON.parse(read("examples/contexts/context_ok.json"));
    const lksg = await serverOf([policyFile(LKSG)]);
    const planRes = await post(lksg, "/v1/adapt", { context });
    expect(planRes.statusCode).toBe(200);
    const plan = JSON.parse(planRes.body);
    expect(plan.skipped.length).toBeGreaterThan(0);
    const traces = sourcesUnder("examples/traces/lksg");
    const planned = JSON.parse((await post(lksg, "/v1/verify", { traces, context, plan })).body);

    // The equivalent rule set: the active rules only, without their `when`, verified plainly.
    const doc = (await import("yaml")).parse(read(LKSG));
    const active = new Set(plan.active_rules);
    doc.rules = doc.rules
      .filter((r: { id: string }) => active.has(r.id))
      .map(({ when: _w, ...r }: { when?: string }) => r);
    const subset = await serverOf([{ file: "subset.yaml", text: stringify(doc) }]);
    const plain = JSON.parse((await post(subset, "/v1/verify", { traces, context })).body);

    const shape = (report: { traces: { case_id: string; verdict: string; decisions: object[] }[] }) =>
      report.traces.map((t) => ({
        case_id: t.case_id,
        verdict: t.verdict,
        decisions: t.decisions.map((d) => {
          const { seq, verdict, rules } = d as { seq: number; verdict: string; rules: string[] };
          return { seq, verdict, rules };
        }),
      }));
    expect(planned.summary.verdicts).toEqual(plain.summary.verdicts);
    expect(shape(planned)).toEqual(shape(plain));
    expect(planned.traces.some((t: { verdict: string }) => t.verdict !== "allow")).toBe(true);
  });

  it("refuses a plan made for another context", async () => {
    const lksg = await serverOf([policyFile(LKSG)]);
    const plan = JSON.parse((await post(lksg, "/v1/adapt", { context: { environment: "dev" } })).body);
    const res = await post(lksg, "/v1/verify", {
      traces: sourcesUnder("examples/traces/lksg"),
      context: { environment: "prod" },
      plan,
    });
    expect(res.statusCode).toBe(400);
    expect(envelopeError(res.body).code).toBe("plan.context_mismatch");
  });

  it("locates a bad trace in its name, as proof verify locates it in its file", async () => {
    const res = await post(banking, "/v1/verify", {
      traces: [{ name: "runs/bad.json", content: '{"messages": [\n  1,,\n]}' }],
      root: "t",
    });
    expect(res.statusCode).toBe(400);
    const e = envelopeError(res.body);
    expect(e.code).toBe("trace.invalid_json");
    expect(e.location).toEqual({ file: "t/runs/bad.json", line: 2, column: 5 });
  });
});

describe("POST /v1/verify: the golden scenarios and a JSON Lines body", () => {
  it.each(["airline", "banking", "escaping", "slack"])(
    "%s: returns expected/report.json of fixtures/golden byte for byte",
    async (name) => {
      const dir = `fixtures/golden/${name}`;
      const s = await serverOf([policyFile(`${dir}/policy.yaml`)]);
      const res = await post(s, "/v1/verify", { traces: sourcesUnder(`${dir}/traces`), root: "traces" });
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe(read(`${dir}/expected/report.json`));
    },
  );

  it("takes one JSON Lines trace file as the body, named in the query, as proof verify reads the file", async () => {
    const dir = join(ROOT, "fixtures/golden/escaping");
    const out = await tempDir();
    const cli = await proof(
      ["verify", "--policy", "policy.yaml", "--traces", "traces/recorded.jsonl", "--out", out],
      dir,
    );
    expect([0, 5]).toContain(cli.code);
    const expected = readFileSync(join(out, "report.json"), "utf8");
    const s = await serverOf([policyFile("fixtures/golden/escaping/policy.yaml")]);
    const content = readFileSync(join(dir, "traces", "recorded.jsonl"), "utf8");
    const raw = await s.app.inject({
      method: "POST",
      url: "/v1/verify?name=recorded.jsonl&root=traces",
      headers: { "content-type": "application/x-ndjson" },
      payload: content,
    });
    expect(raw.statusCode).toBe(200);
    expect(raw.body).toBe(expected);
    const asJson = await post(s, "/v1/verify", {
      traces: [{ name: "recorded.jsonl", content }],
      root: "traces",
    });
    expect(asJson.body).toBe(expected);

    const badName = await s.app.inject({
      method: "POST",
      url: "/v1/verify?name=recorded.json",
      headers: { "content-type": "application/x-ndjson" },
      payload: content,
    });
    expect(badName.statusCode).toBe(400);
    expect(envelopeError(badName.body).code).toBe("trace.name");
    const queryWithJson = await s.app.inject({
      method: "POST",
      url: "/v1/verify?name=a.jsonl",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ traces: [{ name: "recorded.jsonl", content }] }),
    });
    expect(queryWithJson.statusCode).toBe(400);
    expect(envelopeError(queryWithJson.body).code).toBe("request.invalid");
  });
});

describe("POST /v1/check, /v1/adapt, /v1/compile", () => {
  let dir: string;
  let banking: ServeHandle;
  const call = { tool: "send_money", args: { recipient: "US133000000121212121212", amount: 100 } };
  beforeAll(async () => {
    dir = await tempDir();
    banking = await serverOf([policyFile(BANKING)]);
    writeFileSync(join(dir, "call.json"), JSON.stringify(call));
    const prior = sourcesUnder(CORPUS)[0];
    writeFileSync(join(dir, "prior.json"), prior?.content ?? "");
    mkdirSync(join(dir, "p"));
    writeFileSync(join(dir, "p", "policy.yaml"), read(LKSG));
  });

  it("decides a call as proof check --json does, without and with a prior trace", async () => {
    const policy = join(ROOT, BANKING);
    const bare = await proof(["--json", "check", "--policy", policy, "--call", "call.json"], dir);
    const res = await post(banking, "/v1/check", { call });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(bare.stdout);

    const after = await proof(
      ["--json", "check", "--policy", policy, "--call", "call.json", "--trace", "prior.json"],
      dir,
    );
    const withPrior = await post(banking, "/v1/check", {
      call,
      trace: { name: "prior.json", content: readFileSync(join(dir, "prior.json"), "utf8") },
    });
    expect(withPrior.body).toBe(after.stdout);
    expect(JSON.parse(withPrior.body).seq).toBeGreaterThan(0);
  });

  it("plans as proof adapt --dry-run does, with the weighted selector too", async () => {
    const lksg = await serverOf([policyFile(LKSG)]);
    const context = JSON.parse(read("examples/contexts/context_ok.json"));
    const weights = (await import("yaml")).parse(read("examples/weights/rules.yaml"));
    const res = await post(lksg, "/v1/adapt", { context, selector: "weighted", weights });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(read("examples/plan_ok.json"));
    const cli = await proof(
      ["adapt", "--policy", LKSG, "--context", "examples/contexts/context_ok.json", "--dry-run"],
      ROOT,
    );
    expect((await post(lksg, "/v1/adapt", { context })).body).toBe(cli.stdout);
  });

  it("compiles as proof compile does, and locates schema errors", async () => {
    const cli = await proof(["compile", "policy.yaml"], join(dir, "p"));
    expect(cli.code).toBe(0);
    const res = await post(banking, "/v1/compile", { source: read(LKSG), name: "policy.yaml" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(cli.stdout);
    const bad = await post(banking, "/v1/compile", {
      source: "schema: proof.policy/v1\npolicy_id: x\nrulez: []\n",
    });
    expect(bad.statusCode).toBe(400);
    const e = envelopeError(bad.body) as { location: { file: string; line: number } };
    expect(e.location.file).toBe("policy.yaml");
    expect(e.location.line).toBeGreaterThan(0);
  });
});

describe("bad input", () => {
  let s: ServeHandle;
  beforeAll(async () => {
    s = await serverOf([policyFile(BANKING), policyFile(LKSG)], { limits: { bodyBytes: 4096 } });
    s.app.get("/v1/throws", async () => {
      throw new Error("boom at secret place");
    });
  });

  it("a malformed JSON body: 400 with line and column", async () => {
    const res = await post(s, "/v1/check", '{"call": {"tool": "x",\n "args": }}');
    expect(res.statusCode).toBe(400);
    const e = envelopeError(res.body);
    expect(e.code).toBe("trace.invalid_json");
    expect(e.location).toEqual({ file: "request body", line: 2, column: 10 });
  });

  it("a duplicate key in the body: refused as in every JSON file proof reads", async () => {
    const res = await post(s, "/v1/compile", '{"source": "a", "source": "b"}');
    expect(res.statusCode).toBe(400);
    expect(envelopeError(res.body).code).toBe("json.duplicate_key");
  });

  it("an unknown policy, and none named when several are served", async () => {
    const unknown = await post(s, "/v1/check", { policy: "nope.v1", call: { tool: "x" } });
    expect(unknown.statusCode).toBe(400);
    const e = envelopeError(unknown.body);
    expect(e.code).toBe("policy.not_found");
    expect(e.message).toContain("agentdojo.banking.v1, lksg.v1");
    const none = await post(s, "/v1/check", { call: { tool: "x" } });
    expect(envelopeError(none.body).code).toBe("policy.ambiguous");
  });

  it("an unknown key, a wrong type, a bad trace name: 400 request.invalid or trace.name", async () => {
    const extra = await post(s, "/v1/compile", { source: "x", extra: 1 });
    expect(extra.statusCode).toBe(400);
    expect(envelopeError(extra.body).code).toBe("request.invalid");
    const typed = await post(s, "/v1/verify", {
      policy: "lksg.v1",
      traces: [{ name: "a.json", content: 1 }],
    });
    expect(typed.statusCode).toBe(400);
    expect(envelopeError(typed.body).code).toBe("request.invalid");
    for (const name of ["../a.json", "/a.json", "a/./b.json", "a.txt", "a//b.json"]) {
      const res = await post(s, "/v1/verify", { policy: "lksg.v1", traces: [{ name, content: "{}" }] });
      expect(res.statusCode).toBe(400);
      expect(envelopeError(res.body).code).toBe("trace.name");
    }
  });

  it("an oversized body: 413", async () => {
    const res = await post(s, "/v1/compile", { source: "x".repeat(8192) });
    expect(res.statusCode).toBe(413);
    expect(envelopeError(res.body).code).toBe("request.too_large");
  });

  it("another media type: 415; an unknown route: 404; a wrong method: 405 with Allow", async () => {
    const text = await s.app.inject({
      method: "POST",
      url: "/v1/compile",
      payload: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(text.statusCode).toBe(415);
    expect(envelopeError(text.body).code).toBe("request.media_type");
    const missing = await s.app.inject({ method: "GET", url: "/v2/nothing" });
    expect(missing.statusCode).toBe(404);
    expect(envelopeError(missing.body).code).toBe("request.not_found");
    const method = await s.app.inject({ method: "GET", url: "/v1/verify" });
    expect(method.statusCode).toBe(405);
    expect(method.headers.allow).toBe("POST");
    expect(envelopeError(method.body).code).toBe("request.method");
  });

  it("a route that throws: 500 internal, no stack trace, no message of the error", async () => {
    const res = await s.app.inject({ method: "GET", url: "/v1/throws" });
    expect(res.statusCode).toBe(500);
    const e = envelopeError(res.body);
    expect(e.code).toBe("internal");
    expect(res.body).not.toContain("boom");
    expectNoStack(res.body);
  });

  it("no error response carries a stack trace", async () => {
    for (const res of [
      await post(s, "/v1/verify", "{"),
      await post(s, "/v1/verify", { policy: "lksg.v1", traces: [{ name: "a.json", content: "[]" }] }),
      await post(s, "/v1/check", { policy: "lksg.v1", call: { tool: 1 } }),
      await s.app.inject({ method: "DELETE", url: "/healthz" }),
    ]) {
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expectNoStack(res.body);
    }
  });

  it("a request past its time limit: 503 serve.timeout with Retry-After", async () => {
    const slow = await serverOf([policyFile(BANKING)], { limits: { requestTimeoutMs: 1 } });
    const res = await post(slow, "/v1/verify", { traces: sourcesUnder(CORPUS) });
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("1");
    expect(envelopeError(res.body).code).toBe("serve.timeout");
  });
});

describe("policies and reload", () => {
  it("keeps the old set when a policy fails to compile, says so, and applies a fixed one", async () => {
    let files = [policyFile(BANKING)];
    const reloads: string[] = [];
    const metrics = fakeMetrics();
    metrics.policyReload = (o) => reloads.push(o);
    const s = await serverOf([], { loadPolicies: async () => files, metrics });
    const first = JSON.parse((await s.app.inject({ method: "GET", url: "/v1/policies" })).body);
    expect(first.generation).toBe(1);
    expect(first.policies.map((p: { policy_id: string }) => p.policy_id)).toEqual(["agentdojo.banking.v1"]);

    files = [{ file: "p/broken.yaml", text: "schema: proof.policy/v1\npolicy_id: [\n" }];
    const error = await s.reload();
    expect(error?.location?.file).toBe("p/broken.yaml");
    const kept = JSON.parse((await s.app.inject({ method: "GET", url: "/v1/policies" })).body);
    expect(kept.generation).toBe(1);
    expect(kept.policies).toEqual(first.policies);
    expect(kept.reload_error.error.location.file).toBe("p/broken.yaml");
    expect((await s.app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    const call = await post(s, "/v1/check", { call: { tool: "send_money", args: {} } });
    expect(call.statusCode).toBe(200);

    files = [policyFile(BANKING), policyFile(LKSG)];
    expect(await s.reload()).toBeUndefined();
    const next = JSON.parse((await s.app.inject({ method: "GET", url: "/v1/policies" })).body);
    expect(next.generation).toBe(2);
    expect(next.policies.length).toBe(2);
    expect(next.reload_error).toBeNull();
    expect(reloads).toEqual(["ok", "error", "ok"]);
  });

  it("answers with the old set while a reload is under way, with the new one once it is applied", async () => {
    let release: () => void = () => {};
    let files = [policyFile(BANKING)];
    let gate: Promise<void> | undefined;
    const s = await serverOf([], {
      loadPolicies: async () => {
        await gate;
        return files;
      },
    });
    gate = new Promise((r) => {
      release = r;
    });
    files = [policyFile(LKSG)];
    const reloading = s.reload();
    const during = await post(s, "/v1/check", { call: { tool: "send_money", args: {} } });
    expect(during.statusCode).toBe(200);
    release();
    expect(await reloading).toBeUndefined();
    const after = await post(s, "/v1/check", {
      policy: "agentdojo.banking.v1",
      call: { tool: "send_money" },
    });
    expect(envelopeError(after.body).code).toBe("policy.not_found");
    expect((await post(s, "/v1/check", { call: { tool: "approve_supplier" } })).statusCode).toBe(200);
  });

  it("reloads when a file of the watched policy directory changes", async () => {
    const dir = await tempDir();
    writeFileSync(join(dir, "banking.yaml"), read(BANKING));
    const s = await serverOf([], { loadPolicies: undefined, policyDir: dir, watch: true });
    expect(s.store.snapshot().policies.length).toBe(1);
    writeFileSync(join(dir, "lksg.yaml"), read(LKSG));
    // Bounded by the test's timeout, not by a clock: the watch reloads once the directory is quiet.
    while (s.store.snapshot().generation < 2) await new Promise((r) => setTimeout(r, 20));
    expect(s.store.snapshot().policies.map((p) => p.ir.policy_id)).toEqual([
      "agentdojo.banking.v1",
      "lksg.v1",
    ]);
  });

  it("refuses to start without its policies, and two files with one policy id", async () => {
    await expect(
      createServer({ loadPolicies: async () => [{ file: "x.yaml", text: "nope: 1\n" }], log: () => {} }),
    ).rejects.toMatchObject({ category: "input" });
    await expect(
      createServer({
        loadPolicies: async () => [policyFile(LKSG), { ...policyFile(LKSG), file: "copy.yaml" }],
        log: () => {},
      }),
    ).rejects.toMatchObject({ code: "policy.duplicate_policy" });
  });

  it("compiles an unchanged policy once across reloads (cache by digest)", async () => {
    const hits: boolean[] = [];
    const metrics = fakeMetrics();
    metrics.policyCache = (hit) => hits.push(hit);
    const s = await serverOf([], { loadPolicies: async () => [policyFile(BANKING)], metrics });
    const before = s.store.snapshot().policies[0]?.set;
    await s.reload();
    expect(s.store.snapshot().policies[0]?.set).toBe(before);
    expect(hits).toEqual([false, true]);
  });
});

/** A metrics sink that records nothing, for tests to override one method of. */
function fakeMetrics(): ServeMetricsSink {
  return {
    request() {},
    verdicts() {},
    policyCache() {},
    policyReload() {},
    authFailure() {},
    jwksRefresh() {},
    tlsReload() {},
  };
}

describe("auth, client certificate and metrics seams", () => {
  function fakeAuth(ready: boolean): RequestAuthenticator & { seen: [string | undefined, ServeRoute][] } {
    const seen: [string | undefined, ServeRoute][] = [];
    return {
      seen,
      async authenticate(header, route): Promise<AuthOutcome> {
        seen.push([header, route]);
        if (header === "Bearer good") return { ok: true, scopes: ["verify"] };
        if (header === "Bearer down")
          return {
            ok: false,
            status: 503,
            reason: "idp_unavailable",
            message: "the issuer is unreachable",
            retryAfter: 7,
          };
        return {
          ok: false,
          status: 401,
          reason: header ? "bad_signature" : "missing_token",
          message: "a valid bearer token is required",
          wwwAuthenticate: 'Bearer realm="proof", error="invalid_token"',
        };
      },
      ready: () => ready,
      start: async () => {},
      close() {},
    };
  }

  it("asks the authenticator on API routes only; a refusal is the envelope with its headers", async () => {
    const failures: string[] = [];
    const metrics = fakeMetrics();
    metrics.authFailure = (r) => failures.push(r);
    const auth = fakeAuth(true);
    const s = await serverOf([policyFile(BANKING)], { authenticator: auth, metrics });
    const denied = await post(s, "/v1/check", { call: { tool: "x" } });
    expect(denied.statusCode).toBe(401);
    expect(denied.headers["www-authenticate"]).toBe('Bearer realm="proof", error="invalid_token"');
    expect(envelopeError(denied.body).code).toBe("auth.missing_token");
    const down = await s.app.inject({
      method: "GET",
      url: "/v1/policies",
      headers: { authorization: "Bearer down" },
    });
    expect(down.statusCode).toBe(503);
    expect(down.headers["retry-after"]).toBe("7");
    const ok = await s.app.inject({
      method: "GET",
      url: "/v1/policies",
      headers: { authorization: "Bearer good" },
    });
    expect(ok.statusCode).toBe(200);
    expect((await s.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await s.app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    expect(auth.seen.map(([, r]) => r)).toEqual(["/v1/check", "/v1/policies", "/v1/policies"]);
    expect(failures).toEqual(["missing_token", "idp_unavailable"]);
  });

  it("is not ready while the authenticator is not", async () => {
    const s = await serverOf([policyFile(BANKING)], { authenticator: fakeAuth(false) });
    const res = await s.app.inject({ method: "GET", url: "/readyz" });
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ ready: false, policies_loaded: true, authenticator_ready: false });
  });

  it("refuses a connection without a client certificate when a check is configured (403)", async () => {
    let asked = 0;
    const s = await serverOf([policyFile(BANKING)], {
      clientCertificateCheck: () => {
        asked++;
        return { ok: true };
      },
    });
    const res = await s.app.inject({ method: "GET", url: "/v1/policies" });
    expect(res.statusCode).toBe(403);
    expect(envelopeError(res.body).code).toBe("auth.client_certificate_missing");
    expect((await s.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect(asked).toBe(0);
  });

  it("reports requests and verdicts, and serves the metrics text", async () => {
    const requests: [string, string, number][] = [];
    const verdicts: [string, string, number][] = [];
    const metrics = fakeMetrics();
    metrics.request = (route, method, status, seconds) => {
      expect(seconds).toBeGreaterThanOrEqual(0);
      requests.push([route, method, status]);
    };
    metrics.verdicts = (route, verdict, count) => verdicts.push([route, verdict, count]);
    const s = await serverOf([policyFile(BANKING)], {
      metrics,
      metricsText: async () => "proof_up 1\n",
    });
    await post(s, "/v1/check", { call: { tool: "send_money", args: {} } });
    await s.app.inject({ method: "GET", url: "/nowhere" });
    const m = await s.app.inject({ method: "GET", url: "/metrics" });
    expect(m.body).toBe("proof_up 1\n");
    expect(m.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(requests).toEqual([
      ["/v1/check", "POST", 200],
      ["other", "GET", 404],
      ["/metrics", "GET", 200],
    ]);
    expect(verdicts).toEqual([["/v1/check", "allow", 1]]);
  });
});
