/**
 * Every cookbook of docs/cookbooks/ runs as written (see runner.ts and docs/cookbooks/README.md):
 * each runnable block against a clean copy of the committed repository, its output compared with
 * the expected block the cookbook shows. Needs bash, git, curl, jq and openssl.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../e2e/cli.js";
import { missingTools } from "../helpers/tools.js";
import { makeCheckout, parseCookbook, runCookbook } from "./runner.js";

const DIR = join(ROOT, "docs", "cookbooks");
const files = readdirSync(DIR)
  .filter((f) => f.endsWith(".md") && f !== "README.md")
  .sort();
const skip = missingTools("bash", "git", "curl", "jq", "openssl");

let checkout: { dir: string; remove: () => void } | undefined;
const work: string[] = [];
beforeAll(() => {
  if (!skip) checkout = makeCheckout(ROOT);
}, 300_000);
afterAll(() => {
  checkout?.remove();
  for (const dir of work) rmSync(dir, { recursive: true, force: true });
});

describe("the cookbooks' index and links", () => {
  it("docs/cookbooks/README.md lists every cookbook, and the project README links each", () => {
    const index = readFileSync(join(DIR, "README.md"), "utf8");
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(files.filter((f) => !index.includes(`(${f})`))).toEqual([]);
    expect(files.filter((f) => !readme.includes(`(docs/cookbooks/${f})`))).toEqual([]);
  });

  it("every relative link of the cookbooks names a file of the repository", () => {
    const broken: string[] = [];
    for (const file of [...files, "README.md"]) {
      const text = readFileSync(join(DIR, file), "utf8");
      for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = m[1] as string;
        if (/^[a-z]+:/.test(target)) continue;
        if (!existsSync(join(DIR, target))) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe.skipIf(skip)("cookbooks", () => {
  for (const file of files) {
    it(`${file} runs as written`, { timeout: 300_000 }, async (ctx) => {
      const cookbook = parseCookbook(readFileSync(join(DIR, file), "utf8"), `docs/cookbooks/${file}`);
      const missing = cookbook.requires.length > 0 ? missingTools(...cookbook.requires) : undefined;
      if (missing) ctx.skip(missing);
      expect(cookbook.steps.length).toBeGreaterThan(0);
      const dir = mkdtempSync(join(tmpdir(), "proof-cookbook-work-"));
      work.push(dir);
      const results = await runCookbook(cookbook, {
        checkout: (checkout as { dir: string }).dir,
        workDir: dir,
      });
      expect(results).toHaveLength(cookbook.steps.length);
    });
  }
});
