/** The SDK example runs against the built library and refuses the payee taken from a mail. */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { ROOT } from "../e2e/cli.js";

it("examples/sdk/guarded-tools.mjs allows the named payee and refuses the one from the mail", async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(ROOT, "examples/sdk/guarded-tools.mjs")],
    {
      encoding: "utf8",
    },
  );
  const lines = stdout.trim().split("\n");
  expect(lines[0]).toBe("send_money: sent 120 EUR to FRIEND-IBAN-1234");
  expect(lines[2]).toBe(
    "send_money: proof: call to send_money refused: block by payee_untrusted (payee_from_untrusted_content)",
  );
  expect(lines[3]).toMatch(/^recorded 6 events, trace sha256:[0-9a-f]{12}\.\.\.$/);
});
