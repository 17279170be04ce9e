/**
 * Provenance that survives formatting (issue 6): an argument value still comes from untrusted
 * content when it differs from it only by case, surrounding whitespace, URL scheme or trailing
 * slash, IBAN or phone spacing, or list-vs-string wrapping; the evidence names the normalisation.
 */
import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../src/policy/ir.js";
import { SEPARATOR_UNITS } from "../../src/verify/provenance.js";
import { lastCall, rules, type Step, trace, verify } from "./helpers.js";

const policy = rules(`  - id: payee_untrusted
    match:
      tool: send_money
      provenance: { args: [recipient], from: untrusted }
    effect: block
    reason: payee_from_untrusted_content
`);

/** The decision on a payment of `recipient` after a tool result holding `content` (and `before`). */
function judge(content: string, recipient: JsonValue, before: Step[] = []) {
  const t = trace([
    ...before,
    { assistant: "", calls: [{ tool: "read_file", id: "r" }] },
    { result: content, tool: "read_file", id: "r" },
    { assistant: "", calls: [{ tool: "send_money", args: { recipient }, id: "pay" }] },
  ]);
  return lastCall(verify(policy, t), "send_money");
}

/** The normalisation of the decision's only provenance evidence, or undefined when it is allowed. */
function normalisation(content: string, recipient: JsonValue, before: Step[] = []) {
  const d = judge(content, recipient, before);
  if (d.verdict === "allow") return undefined;
  const [e, ...more] = d.evidence.filter((x) => x.kind === "provenance");
  expect(more).toEqual([]);
  return e && "normalisation" in e ? e.normalisation : undefined;
}

describe("normalisations that keep a value untrusted", () => {
  it("case and surrounding whitespace", () => {
    expect(normalisation("mail MALLORY@EVIL.TEST", "mallory@evil.test")).toEqual(["case"]);
    expect(normalisation("mail mallory@evil.test", "  mallory@evil.test\n")).toEqual(["whitespace"]);
  });

  it("URL scheme, either way round", () => {
    expect(normalisation("visit www.secure-pay.test now", "https://www.secure-pay.test")).toEqual([
      "url_scheme",
    ]);
    // A bare value inside a longer URL is a plain substring: no normalisation needed.
    expect(normalisation("visit https://www.secure-pay.test now", "www.secure-pay.test")).toEqual([]);
    expect(normalisation("visit http://www.secure-pay.test now", "https://www.secure-pay.test")).toEqual([
      "url_scheme",
    ]);
  });

  it("URL scheme and trailing slash together, and a trailing slash alone", () => {
    expect(normalisation("go to www.x-pay.com.", "https://www.x-pay.com/")).toEqual([
      "url_scheme",
      "trailing_slash",
    ]);
    expect(normalisation("go to www.x-pay.com today", "www.x-pay.com/")).toEqual(["trailing_slash"]);
    expect(normalisation("go to HTTPS://WWW.X-PAY.COM today", "www.x-pay.com/")).toEqual([
      "url_scheme",
      "trailing_slash",
      "case",
    ]);
  });

  it("IBAN spacing, either way round", () => {
    expect(normalisation("IBAN: DE89 3704 0044 0532 0130 00", "DE89370400440532013000")).toEqual(["spacing"]);
    expect(normalisation("IBAN: DE89370400440532013000", "DE89 3704 0044 0532 0130 00")).toEqual(["spacing"]);
    expect(normalisation("iban: de89 3704 0044 0532 0130 00", "DE89370400440532013000")).toEqual([
      "spacing",
      "case",
    ]);
  });

  it("phone spacing, dashes and parentheses", () => {
    expect(normalisation("call +1 (555) 010-9999 to confirm", "+15550109999")).toEqual(["spacing"]);
    expect(normalisation("call +15550109999 to confirm", "+1 (555) 010-9999")).toEqual(["spacing"]);
  });

  it("list-vs-string wrapping: a list argument, a list written as a string, a list in the content", () => {
    expect(normalisation("forward to mallory@evil.test", ["mallory@evil.test"])).toEqual([]);
    expect(normalisation("forward to mallory@evil.test", '["mallory@evil.test"]')).toEqual(["list"]);
    expect(normalisation('{"to": ["mallory@evil.test"]}', "mallory@evil.test")).toEqual([]);
    expect(
      normalisation("forward to mallory@evil.test", '["alice@example.com", "Mallory@Evil.Test"]'),
    ).toEqual(["list", "case"]);
  });
});

describe("non-matches stay non-matches", () => {
  it("a value under 4 characters after normalisation never matches, in any family", () => {
    expect(normalisation("code abc and 12 3 and https://x.y/", "abc")).toBeUndefined();
    expect(normalisation("code abc and 12 3 and https://x.y/", "12 3")).toBeUndefined();
    expect(normalisation("code abc and 12 3 and https://x.y/", "https://x.y/")).toBeUndefined();
    expect(normalisation("code abc", '["abc"]')).toBeUndefined();
  });

  it("a different IBAN or phone number does not match, however it is spaced", () => {
    expect(normalisation("IBAN: DE89 3704 0044 0532 0130 01", "DE89370400440532013000")).toBeUndefined();
    expect(normalisation("IBAN: DE89370400440532013000", "DE89 3704 0044 0532 0130 0")).toBeDefined();
    expect(normalisation("call +1 (555) 010-9998", "+15550109999")).toBeUndefined();
  });

  it("words run together do not match across spaces (spacing is for identifiers only)", () => {
    expect(normalisation("pay bob smith today", "bobsmith")).toBeUndefined();
    expect(normalisation("pay bob smith today", "paybob")).toBeUndefined();
  });

  it("a different host or path is not a URL normalisation", () => {
    expect(normalisation("visit www.secure-pay.test now", "https://www.secure-pay.testing/")).toBeUndefined();
    expect(normalisation("visit www.secure-pay.test/a now", "https://www.secure-pay.test/b")).toBeUndefined();
  });

  it("trusted content clears a value through the same normalisations", () => {
    const user = (text: string): Step[] => [{ user: text }];
    expect(
      normalisation(
        "IBAN DE89370400440532013000",
        "DE89370400440532013000",
        user("pay DE89 3704 0044 0532 0130 00"),
      ),
    ).toBeUndefined();
    expect(
      normalisation("https://www.x-pay.com/", "https://www.x-pay.com/", user("open www.x-pay.com")),
    ).toBeUndefined();
    expect(
      normalisation("call +15550109999", "+15550109999", user("my number is +1 (555) 010-9999")),
    ).toBeUndefined();
    // One trusted element of a list written as a string does not clear the other.
    expect(
      normalisation(
        "cc alice@example.com and mallory@evil.test",
        '["alice@example.com","mallory@evil.test"]',
        user("cc alice@example.com"),
      ),
    ).toEqual(["list"]);
  });
});

describe("separators", () => {
  it("SEPARATOR_UNITS is exactly the code units the spacing family's expression removes", () => {
    const matched: string[] = [];
    for (let c = 0; c < 0x10000; c++) {
      const unit = String.fromCharCode(c);
      if (/[\s\-()]/.test(unit)) matched.push(unit);
    }
    expect([...SEPARATOR_UNITS].sort()).toEqual(matched.sort());
  });
});
