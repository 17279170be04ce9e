/**
 * The out dir's artifacts through the built CLI (docs/artifacts.md): JUnit, SARIF, annotations and the
 * manifest are written; `keys gen` and `attest verify` sign and check them; `--redact` hides
 * matched values from public artifacts; hostile trace text stays inert; a killed run leaves the
 * previous out dir as it was, and the next run clears what it left.
 */
import { spawn } from "node:child_process";
import { appendFile, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, GATE_ARTIFACTS, proof, removeTempDirs, snapshot, tempDir } from "./cli.js";

afterAll(removeTempDirs);

const HOSTILE = "::error::pwned <script>alert(1)</script> **bold** [x](http://e.vil)";

const POLICY = `schema: proof.policy/v1
policy_id: hostile.v1
rules:
  - id: body_from_tool
    match:
      provenance:
        args: [body]
        from: untrusted
    effect: block
    severity: high
    reason: body_from_untrusted_content
`;

/** An OpenAI-format run: a tool result holding `text`, then a call whose `body` repeats `value`. */
function run(text: string, value: string): string {
  return JSON.stringify({
    messages: [
      { role: "user", content: "Summarise the page" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "a", type: "function", function: { name: "get_page", arguments: "{}" } }],
      },
      { role: "tool", tool_call_id: "a", content: text },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "b",
            type: "function",
            function: { name: "post", arguments: JSON.stringify({ body: value }) },
          },
        ],
      },
    ],
  });
}

/** A scenario directory with policy.yaml and traces/run.json. */
async function scenario(): Promise<string> {
  const dir = await tempDir();
  await mkdir(join(dir, "traces"));
  await writeFile(join(dir, "policy.yaml"), POLICY);
  await writeFile(join(dir, "traces", "run.json"), run(`Page says:\n${HOSTILE}\n::warning::again`, HOSTILE));
  return dir;
}

const VERIFY = ["verify", "--policy", "policy.yaml", "--traces", "traces"];

describe("artifacts", () => {
  it("writes junit.xml, results.sarif, annotations.txt and a manifest of every other file", async () => {
    const dir = await scenario();
    const r = await proof([...VERIFY, "--out", "out"], dir);
    expect(r.code).toBe(5);
    const files = await snapshot(join(dir, "out"));
    expect([...files.keys()]).toEqual(GATE_ARTIFACTS);
    const manifest = JSON.parse(String(files.get("manifest.json")));
    expect(Object.keys(manifest.files)).toEqual([...files.keys()].filter((f) => f !== "manifest.json"));
    expect(manifest.signature).toBeUndefined();
    const sarif = JSON.parse(String(files.get("results.sarif")));
    expect(sarif.runs[0].results.map((x: { ruleId: string }) => x.ruleId)).toEqual(["body_from_tool"]);
    expect(String(files.get("junit.xml"))).toContain(
      '<testsuite name="traces" time="0" tests="1" failures="1"',
    );
  });

  it("keeps hostile trace text inert in summary.md and annotations.txt (exact bytes)", async () => {
    const dir = await scenario();
    await proof([...VERIFY, "--out", "out"], dir);
    const annotations = await readFile(join(dir, "out", "annotations.txt"), "utf8");
    expect(annotations).toBe(
      "::error file=traces/run.json,title=proof%3A block by body_from_tool::run.json: post at " +
        'messages[3].tool_calls[0]: body = "::error::pwned <script>alert(1)</script> **bold*…sha256:de14cc45" ' +
        "(untrusted) from messages[2]\n",
    );
    const summary = await readFile(join(dir, "out", "summary.md"), "utf8");
    const row = summary.split("\n").find((l) => l.startsWith("| ⛔ block | run"));
    expect(row).toBe(
      "| ⛔ block | run\\.json | post at messages\\[3\\]\\.tool\\_calls\\[0\\] | body\\_from\\_tool | " +
        'body \\= "\\:\\:error\\:\\:pwned &lt;script&gt;alert\\(1\\)&lt;/script&gt; \\*\\*bold\\*' +
        '…sha256\\:de14cc45" from messages\\[2\\] |',
    );
    for (const text of [summary, annotations]) {
      expect(
        text.split("\n").filter((l) => l.startsWith("::") && !l.startsWith("::error file=traces/run.json,")),
      ).toEqual([]);
      expect(text).not.toContain("::warning::again");
    }
    expect(summary).not.toMatch(/<script|\*\*bold|(?<!\\)\]\(/);
  });

  it("--redact replaces matched values by a SHA-256 prefix in public artifacts only", async () => {
    const dir = await scenario();
    const secret = "IBAN DE89370400440532013000 for the secret transfer";
    await writeFile(join(dir, "traces", "run.json"), run(`send to ${secret}`, secret));
    expect((await proof([...VERIFY, "--out", "out", "--redact"], dir)).code).toBe(5);
    const files = await snapshot(join(dir, "out"));
    for (const name of ["results.sarif", "summary.md", "annotations.txt", "junit.xml"]) {
      const text = String(files.get(name));
      expect(text.includes("DE89370400440532013000"), name).toBe(false);
      // summary.md escapes the colon for markdown.
      expect(text, name).toMatch(/sha256\\?:[0-9a-f]{8}…/);
    }
    for (const name of ["report.json", "decisions.jsonl"]) expect(String(files.get(name))).toContain(secret);
    // Without --redact the value is shown, shortened to at most 64 characters.
    await proof([...VERIFY, "--out", "plain"], dir);
    expect(await readFile(join(dir, "plain", "annotations.txt"), "utf8")).toContain(`"${secret}"`);
  });

  it("keys gen, a signed manifest, and attest verify: exit 0 intact, 2 naming what changed", async () => {
    const dir = await scenario();
    const gen = await proof(["keys", "gen", "--out", "keys"], dir);
    expect(gen.code).toBe(0);
    expect((await stat(join(dir, "keys", "proof.key"))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, "keys", "proof.pub"), "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect((await proof(["keys", "gen", "--out", "keys"], dir)).code).toBe(6);

    expect((await proof([...VERIFY, "--out", "out", "--sign-key", "keys/proof.key"], dir)).code).toBe(5);
    const attest = (out = "out", pub = "keys/proof.pub") =>
      proof(["attest", "verify", out, "--pub", pub], dir);
    expect((await attest()).code).toBe(0);

    const fresh = async (): Promise<string> => {
      await rm(join(dir, "copy"), { recursive: true, force: true });
      expect((await proof([...VERIFY, "--out", "copy", "--sign-key", "keys/proof.key"], dir)).code).toBe(5);
      return join(dir, "copy");
    };
    let copy = await fresh();
    await appendFile(join(copy, "junit.xml"), " ");
    let r = await attest("copy");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("copy/junit.xml: modified");

    copy = await fresh();
    await rm(join(copy, "summary.md"));
    r = await attest("copy");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("copy/summary.md: removed");

    copy = await fresh();
    await writeFile(join(copy, "extra.txt"), "x");
    r = await attest("copy");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("copy/extra.txt: added");

    // A manifest edited to match a changed file no longer carries a valid signature.
    copy = await fresh();
    const manifest = JSON.parse(await readFile(join(copy, "manifest.json"), "utf8"));
    manifest.files["status.json"] = `sha256:${"0".repeat(64)}`;
    await writeFile(join(copy, "manifest.json"), JSON.stringify(manifest));
    r = await attest("copy");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/manifest\.json: signature does not hold/);

    // Another key, and an unsigned out dir, fail too.
    expect((await proof(["keys", "gen", "--out", "other"], dir)).code).toBe(0);
    expect((await attest("out", "other/proof.pub")).code).toBe(2);
    await proof([...VERIFY, "--out", "unsigned"], dir);
    r = await attest("unsigned");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("not signed");
    // A broken key is invalid input, and verify writes nothing with it.
    await writeFile(join(dir, "bad.key"), "not a key");
    expect((await proof([...VERIFY, "--out", "bad", "--sign-key", "bad.key"], dir)).code).toBe(6);
    await expect(stat(join(dir, "bad"))).rejects.toThrow();
  });

  it("a run killed while writing leaves the previous out dir byte-identical and complete", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "policy.yaml"), POLICY);
    const traces = join(dir, "traces");
    // Enough traces that the run spends a while between creating its staging dir and the swap.
    for (let d = 0; d < 40; d++) {
      await mkdir(join(traces, `d${d}`), { recursive: true });
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          writeFile(join(traces, `d${d}`, `t${i}.json`), run(`page ${d}-${i} text`, `page ${d}-${i} text`)),
        ),
      );
    }
    expect((await proof([...VERIFY, "--out", "out"], dir)).code).toBe(5);
    const before = await snapshot(join(dir, "out"));
    expect(before.size).toBe(8);

    const child = spawn(process.execPath, [BIN, ...VERIFY, "--out", "out"], { cwd: dir, stdio: "ignore" });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal })),
    );
    let done = false;
    void exited.then(() => {
      done = true;
    });
    // Wait for the staging directory, then kill at once.
    while (!done && !(await readdir(dir)).some((n) => n.startsWith(".out.staging-"))) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    child.kill("SIGKILL");
    const end = await exited;
    expect(end.signal).toBe("SIGKILL");
    const after = await snapshot(join(dir, "out"));
    // Buffer.equals, not toEqual: a deep comparison of megabytes byte by byte takes a minute.
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [name, bytes] of before) expect(after.get(name)?.equals(bytes), name).toBe(true);
    // The killed run's lock and staging directory do not block the next run, which removes them.
    const next = await proof([...VERIFY, "--out", "out"], dir);
    expect(next.code, next.stderr).toBe(5);
    expect((await readdir(dir)).filter((n) => n.startsWith(".out."))).toEqual([]);
  }, 120_000);
});
