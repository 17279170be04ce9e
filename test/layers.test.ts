/**
 * The layers of the code: the pure core (policy, expr, plan, trace, verify, regress, report,
 * guard, the framework adapters, the MCP proxy's core, the ledger, telemetry, policy tests) never
 * imports the command line and never touches the file system itself; file-system code lives in
 * src/io.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./e2e/cli.js";

const CORE = [
  "policy",
  "expr",
  "plan",
  "trace",
  "verify",
  "regress",
  "report",
  "guard",
  "mcp",
  "ledger",
  "policytest",
  "waivers",
  "eval",
  "adapters",
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("layers", () => {
  const files = CORE.flatMap((d) => sources(join(ROOT, "src", d)));

  it("finds the core's sources", () => {
    expect(files.length).toBeGreaterThan(40);
  });

  it("the core imports nothing from src/cli and does no file I/O of its own", () => {
    const offenders: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/from\s+["']([^"']+)["']/g)) {
        const spec = m[1] as string;
        if (/(^|\/)cli\//.test(spec) || /^node:fs(\/promises)?$/.test(spec))
          offenders.push(`${file.slice(ROOT.length)}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
