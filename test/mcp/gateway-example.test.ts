/** examples/mcp-gateway/demo.mjs runs against the built CLI: the benign calls pass, the injected write is refused and never happens. */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { ROOT } from "../e2e/cli.js";

it("examples/mcp-gateway/demo.mjs allows the benign calls and refuses the write an injected note asked for", async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(ROOT, "examples/mcp-gateway/demo.mjs")],
    {
      encoding: "utf8",
    },
  );
  const lines = stdout.trim().split("\n");
  expect(lines).toHaveLength(4);
  expect(lines[0]).toMatch(/^read_text_file: allowed: Summarise the project\./);
  expect(lines[1]).toMatch(/^write_file: allowed: Successfully wrote to .*summary\.txt$/);
  expect(lines[2]).toBe(
    "write_file: refused (-31001): proof: block write_file: rules no_injected_destination (reasons path_from_untrusted_content)",
  );
  expect(lines[3]).toMatch(/exfiltrated\.txt: false$/);
}, 60_000);
