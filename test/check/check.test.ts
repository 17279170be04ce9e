import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { proof, removeTempDirs, tempDir } from "../e2e/cli.js";

/** Payments: large ones need approval, a payee first seen in a tool result is blocked. */
const POLICY = `schema: proof.policy/v1
policy_id: check.payments
defaults:
  verdict: allow
rules:
  - id: large_payment
    match:
      tool: [send_money]
      args:
        amount: { gt: 1000 }
    effect: require_approval
    reason: large_payment
  - id: no_wire_to_blocked
    match:
      tool: [send_money]
      args:
        recipient: { starts_with: "XX" }
    effect: block
    reason: blocked_country
  - id: payee_from_untrusted
    match:
      tool: [send_money]
      provenance:
        args: [recipient]
        from: untrusted
    effect: block
    reason: payee_from_untrusted_content
`;

/** A prior trace: the user asked to pay a bill, the agent read it, the bill names a payee. */
const PRIOR = [
  {
    type: "trace",
    trace_id: `sha256:${"0".repeat(64)}`,
    case_id: "bill",
    source: { format: "proof", file: "prior.jsonl" },
    meta: {},
  },
  { type: "message", seq: 0, role: "user", content: "Pay the bill in bill.txt", at: "m0" },
  { type: "message", seq: 1, role: "assistant", content: "", at: "m1" },
  {
    type: "tool_call",
    seq: 2,
    message_seq: 1,
    call_id: "c1",
    tool: "read_file",
    args: { file_path: "bill.txt" },
    at: "m1.c0",
  },
  {
    type: "tool_result",
    seq: 3,
    call_id: "c1",
    tool: "read_file",
    content: "Please pay 98 to DE11520513735120710131 by Friday.",
    error: null,
    at: "m2",
  },
];

let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  await writeFile(join(dir, "policy.yaml"), POLICY);
  await writeFile(join(dir, "prior.jsonl"), `${PRIOR.map((e) => JSON.stringify(e)).join("\n")}\n`);
  const call = (name: string, args: object) =>
    writeFile(join(dir, name), JSON.stringify({ tool: "send_money", args }));
  await call("small.json", { recipient: "DE89370400440532013000", amount: 20 });
  await call("large.json", { recipient: "DE89370400440532013000", amount: 5000 });
  await call("blocked.json", { recipient: "XX0012345678", amount: 20 });
  await call("from-bill.json", { recipient: "DE11520513735120710131", amount: 98 });
});

afterAll(removeTempDirs);

const check = (...args: string[]) => proof(["check", "--policy", "policy.yaml", ...args], dir);

describe("proof check exit codes", () => {
  it("exits 0 on allow and prints the verdict", async () => {
    const r = await check("--call", "small.json");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("allow send_money\n");
  });

  it("exits 4 on require_approval (an argument matcher)", async () => {
    const r = await check("--call", "large.json");
    expect(r.code).toBe(4);
    expect(r.stdout).toBe("require_approval send_money: rules large_payment (reasons large_payment)\n");
  });

  it("exits 3 on block, and with --json prints the decision", async () => {
    const r = await check("--call", "blocked.json", "--json");
    expect(r.code).toBe(3);
    const d = JSON.parse(r.stdout);
    expect(d.verdict).toBe("block");
    expect(d.rules).toEqual(["no_wire_to_blocked"]);
    expect(d.reasons).toEqual(["blocked_country"]);
    expect(d.tool).toBe("send_money");
  });

  it("uses the prior trace: a payee first seen in a tool result blocks, and is allowed without it", async () => {
    const without = await check("--call", "from-bill.json");
    expect(without.code).toBe(0);
    const r = await check("--call", "from-bill.json", "--trace", "prior.jsonl", "--json");
    expect(r.code).toBe(3);
    const d = JSON.parse(r.stdout);
    expect(d.rules).toEqual(["payee_from_untrusted"]);
    expect(d.seq).toBe(4);
    expect(d.case_id).toBe("bill");
    expect(d.evidence).toEqual([
      expect.objectContaining({
        kind: "provenance",
        arg: "recipient",
        source: expect.objectContaining({ seq: 3, at: "m2", type: "tool_result" }),
      }),
    ]);
  });

  it("shows a tool name's line break and workflow command escaped, on one line", async () => {
    await writeFile(join(dir, "hostile.json"), JSON.stringify({ tool: "send_\nmoney::error::x", args: {} }));
    const r = await check("--call", "hostile.json");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("allow send_\\nmoney:\\x3aerror:\\x3ax\n");
  });

  it("exits 0 on warn", async () => {
    await writeFile(
      join(dir, "warn.yaml"),
      "schema: proof.policy/v1\npolicy_id: check.warn\nrules:\n  - id: w\n    match: { tool: [send_money] }\n    effect: warn\n",
    );
    const r = await proof(["check", "--policy", "warn.yaml", "--call", "small.json"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("warn send_money: rules w (reasons w)\n");
  });

  it("refuses an invalid call with exit 6 and a JSON envelope", async () => {
    await writeFile(join(dir, "bad-call.json"), JSON.stringify({ tool: "send_money", argz: {} }));
    const r = await check("--call", "bad-call.json", "--json");
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: "call.invalid",
      location: { file: "bad-call.json" },
    });
  });

  it("names a missing --call (exit 6, usage.missing_option)", async () => {
    const r = await check("--json");
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: "usage.missing_option",
      message: "required option '--call <file>' not specified",
    });
  });
});
