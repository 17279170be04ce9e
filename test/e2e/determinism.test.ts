/**
 * Every artifact is byte-identical when run twice, in any time zone or locale.
 * Runs the whole corpus through all example policies, three times.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GATE_ARTIFACTS, proof, ROOT, removeTempDirs, snapshot, tempDir } from "./cli.js";

afterAll(removeTempDirs);

const FAR_AWAY = { TZ: "Pacific/Kiritimati", LANG: "tr_TR.UTF-8", LC_ALL: "tr_TR.UTF-8" };

describe("determinism", () => {
  it("writes byte-identical out dirs across runs, time zones and locales", async () => {
    const dir = await tempDir();
    const run = (out: string, env: Record<string, string> = {}) =>
      proof(
        [
          "verify",
          "--policy",
          "examples/policies",
          "--traces",
          "fixtures/corpus/agentdojo/runs",
          "fixtures/corpus/tau-bench",
          "--out",
          join(dir, out),
        ],
        ROOT,
        env,
      );
    const a = await run("a");
    const b = await run("b");
    const c = await run("c", FAR_AWAY);
    expect(a.code).toBe(5);
    for (const r of [b, c]) expect(r).toEqual(a);
    const first = await snapshot(join(dir, "a"));
    expect([...first.keys()]).toEqual(GATE_ARTIFACTS);
    expect(first.get("report.json")?.toString()).toContain('"case_id": "gpt-4o-airline.json#199"');
    expect(await snapshot(join(dir, "b"))).toEqual(first);
    expect(await snapshot(join(dir, "c"))).toEqual(first);
    // Nothing machine-specific leaks in: no absolute path of this checkout or the temp dir.
    for (const [name, bytes] of first) {
      expect(bytes.toString().includes(ROOT), name).toBe(false);
      expect(bytes.toString().includes(dir), name).toBe(false);
    }
    expect((first.get("summary.md") as Buffer).length).toBeLessThan(1024 * 1024);
  });

  it("imports to byte-identical canonical JSON Lines in any locale", async () => {
    const args = ["import", "fixtures/corpus/agentdojo/runs", "fixtures/corpus/tau-bench"];
    const a = await proof(args, ROOT);
    const c = await proof(args, ROOT, FAR_AWAY);
    expect(a.code).toBe(0);
    expect(a.stdout.split("\n").filter((l) => l.startsWith('{"case_id"'))).toHaveLength(336);
    expect(c).toEqual(a);
  });
});
