import { describe, expect, it } from "vitest";
import { decision, lastCall, rules, type Step, trace, verdicts, verify } from "./helpers.js";

/** The tau-bench airline rule (examples/policies/airline.yaml): a write needs the user's "yes" after the assistant's last text. */
const airline = rules(`  - id: confirm_before_booking_write
    match:
      tool: [book_reservation, update_reservation_*, cancel_reservation]
      sequence:
        require_before: { role: user, content: { matches: '(?i)\\byes\\b' } }
        since: { role: assistant, content: { matches: '\\S' } }
    effect: require_approval
    reason: no_explicit_confirmation
`);

const details = "Flight HAT170 on May 16, economy, 2 passengers, total $412. Shall I book it?";
const book = { tool: "book_reservation", args: { flight: "HAT170" } };

describe("require_before with since: the tau-bench airline pattern", () => {
  it("assistant lists the details, the user says yes: the booking is allowed", () => {
    const t = trace([
      { user: "Book me HAT170 on May 16" },
      { assistant: details },
      { user: "Yes, go ahead." },
      { assistant: "", calls: [book] },
    ]);
    const d = decision(verify(airline, t));
    expect(d.verdict).toBe("allow");
    expect(d.rules).toEqual([]);
  });

  it("without a yes after the details, the booking needs approval", () => {
    const t = trace([
      { user: "Book me HAT170 on May 16" },
      { assistant: details },
      { user: "hmm, the eyes of the world are on me" },
      { assistant: "", calls: [book] },
    ]);
    const d = decision(verify(airline, t));
    expect(d.verdict).toBe("require_approval");
    expect(d.rules).toEqual(["confirm_before_booking_write"]);
    expect(d.reasons).toEqual(["no_explicit_confirmation"]);
    expect(d.evidence).toEqual([
      {
        rule: "confirm_before_booking_write",
        kind: "require_before",
        since: { seq: 1, at: "messages[1]", type: "message", role: "assistant" },
      },
    ]);
  });

  it("a yes that came before the assistant's last text does not confirm it", () => {
    const t = trace([
      { user: "Yes, I want to fly. Book HAT170." },
      { assistant: details },
      { assistant: "", calls: [book] },
    ]);
    expect(decision(verify(airline, t)).verdict).toBe("require_approval");
  });

  it("the call's own message is excluded from since: 'Booking it now.' does not reset the window", () => {
    const t = trace([
      { user: "Book me HAT170" },
      { assistant: details },
      { user: "yes" },
      { assistant: "Great, booking it now.", calls: [book] },
    ]);
    expect(decision(verify(airline, t)).verdict).toBe("allow");
  });

  it("with the own message excluded, the window starts at the since event before it", () => {
    const t = trace([
      { user: "Yes, I want to fly. Book HAT170." },
      { assistant: details },
      { user: "hmm" },
      { assistant: "Booking it now.", calls: [book] },
    ]);
    const d = decision(verify(airline, t));
    expect(d.verdict).toBe("require_approval");
    expect(d.evidence).toEqual([
      {
        rule: "confirm_before_booking_write",
        kind: "require_before",
        since: { seq: 1, at: "messages[1]", type: "message", role: "assistant" },
      },
    ]);
  });

  it("with the own message excluded and no earlier since event, the window is the whole trace", () => {
    const confirmed = trace([{ user: "yes, book HAT170" }, { assistant: "Booking now.", calls: [book] }]);
    expect(decision(verify(airline, confirmed)).verdict).toBe("allow");
    const unconfirmed = trace([{ user: "book HAT170" }, { assistant: "Booking now.", calls: [book] }]);
    const d = decision(verify(airline, unconfirmed));
    expect(d.verdict).toBe("require_approval");
    expect(d.evidence).toEqual([
      { rule: "confirm_before_booking_write", kind: "require_before", since: null },
    ]);
  });

  it("every call of one message is judged against the same window", () => {
    const t = trace([
      { user: "Change both" },
      { assistant: details },
      { user: "YES" },
      {
        assistant: "Updating both reservations.",
        calls: [
          { tool: "update_reservation_flights", args: {} },
          { tool: "update_reservation_baggages", args: {} },
        ],
      },
    ]);
    expect(verdicts(verify(airline, t))).toEqual(["allow", "allow"]);
  });

  it("a second write after new assistant text needs a new yes", () => {
    const t = trace([
      { user: "Book HAT170" },
      { assistant: details },
      { user: "yes" },
      { assistant: "", calls: [book] },
      { result: "booked", tool: "book_reservation" },
      { assistant: "Done. I will also cancel your old reservation ZFA04Y." },
      { assistant: "", calls: [{ tool: "cancel_reservation", args: { id: "ZFA04Y" } }] },
    ]);
    const r = verify(airline, t);
    expect(verdicts(r)).toEqual(["allow", "require_approval"]);
    expect(decision(r, 1).evidence[0]).toMatchObject({ kind: "require_before", since: { seq: 6 } });
    expect(r.verdict).toBe("require_approval");
  });

  it("tools outside the rule are not judged by it", () => {
    const t = trace([
      { user: "what is my reservation?" },
      { assistant: "", calls: [{ tool: "get_reservation_details" }] },
    ]);
    expect(decision(verify(airline, t)).verdict).toBe("allow");
  });

  it("a trace without any message (an MCP log): require_before finds nothing and matches, fail closed", () => {
    const t = trace([{ call: "book_reservation", args: { flight: "HAT170" } }, { call: "get_user_details" }]);
    const r = verify(airline, t);
    expect(verdicts(r)).toEqual(["require_approval", "allow"]);
    expect(decision(r).evidence).toEqual([
      { rule: "confirm_before_booking_write", kind: "require_before", since: null },
    ]);
  });

  it("require_before without since looks back to the start of the trace", () => {
    const p = rules(`  - id: verify_first
    match:
      tool: book_reservation
      sequence:
        require_before: { role: tool, tool: verify_identity, content: { contains: verified } }
    effect: block
`);
    const verified = trace([
      { user: "book" },
      { assistant: "", calls: [{ tool: "verify_identity" }] },
      { result: "identity verified", tool: "verify_identity" },
      { assistant: "Checking more things." },
      { user: "ok" },
      { assistant: "", calls: [book] },
    ]);
    expect(lastCall(verify(p, verified), "book_reservation").verdict).toBe("allow");
    const failed = trace([
      { user: "book" },
      { assistant: "", calls: [{ tool: "verify_identity" }] },
      { result: "identity NOT confirmed", tool: "verify_identity" },
      { assistant: "", calls: [book] },
    ]);
    expect(lastCall(verify(p, failed), "book_reservation").verdict).toBe("block");
    // role: tool means a tool result: the call to verify_identity alone is not its result
    const callOnly = trace([{ user: "book" }, { assistant: "", calls: [{ tool: "verify_identity" }, book] }]);
    expect(lastCall(verify(p, callOnly), "book_reservation").verdict).toBe("block");
  });

  it("role: tool is satisfied by a tool result only, never by the call", () => {
    const p = rules(`  - id: result_first
    match:
      tool: book_reservation
      sequence:
        require_before: { role: tool, tool: get_user_details }
    effect: block
`);
    const callOnly = trace([{ user: "go" }, { assistant: "", calls: [{ tool: "get_user_details" }, book] }]);
    expect(lastCall(verify(p, callOnly), "book_reservation").verdict).toBe("block");
    const answered = trace([
      { user: "go" },
      { assistant: "", calls: [{ tool: "get_user_details" }] },
      { result: "{}", tool: "get_user_details" },
      { assistant: "", calls: [book] },
    ]);
    expect(lastCall(verify(p, answered), "book_reservation").verdict).toBe("allow");
  });

  it("an earlier call of the same message satisfies a require_before on calls", () => {
    const p = rules(`  - id: lookup_first
    match:
      tool: book_reservation
      sequence:
        require_before: { tool: get_user_details, args: { user_id: { exists: true } } }
    effect: block
`);
    const ok = trace([
      { user: "go" },
      { assistant: "", calls: [{ tool: "get_user_details", args: { user_id: "u1" } }, book] },
    ]);
    expect(verdicts(verify(p, ok))).toEqual(["allow", "allow"]);
    const noArg = trace([
      { user: "go" },
      { assistant: "", calls: [{ tool: "get_user_details", args: {} }, book] },
    ]);
    expect(verdicts(verify(p, noArg))).toEqual(["allow", "block"]);
    const after = trace([
      { user: "go" },
      { assistant: "", calls: [book, { tool: "get_user_details", args: { user_id: "u1" } }] },
    ]);
    expect(verdicts(verify(p, after))).toEqual(["block", "allow"]);
  });
});

describe("forbid_before", () => {
  const p = rules(`  - id: no_write_after_web
    match:
      tool: send_*
      sequence:
        forbid_before: { tool: get_webpage }
        since: { role: user }
    effect: block
    reason: write_after_untrusted_read
`);

  it("matches when the pattern is present in the window, naming the latest such event", () => {
    const t = trace([
      { user: "read the page and email me a summary" },
      { assistant: "", calls: [{ tool: "get_webpage", args: { url: "https://x.test" } }] },
      { result: "<html>...</html>", tool: "get_webpage" },
      { assistant: "", calls: [{ tool: "send_email", args: {} }] },
    ]);
    const d = lastCall(verify(p, t), "send_email");
    expect(d.verdict).toBe("block");
    expect(d.evidence).toEqual([
      {
        rule: "no_write_after_web",
        kind: "forbid_before",
        // the result (seq 3) also names the tool, and is later than the call (seq 2)
        found: { seq: 3, at: "messages[2]", type: "tool_result", tool: "get_webpage" },
        since: { seq: 0, at: "messages[0]", type: "message", role: "user" },
      },
    ]);
  });

  it("does not match when the pattern is absent, or only before the window", () => {
    const clean = trace([{ user: "email me" }, { assistant: "", calls: [{ tool: "send_email" }] }]);
    expect(decision(verify(p, clean)).verdict).toBe("allow");
    const earlier = trace([
      { user: "read the page" },
      { assistant: "", calls: [{ tool: "get_webpage" }] },
      { result: "page", tool: "get_webpage" },
      { user: "now email me" },
      { assistant: "", calls: [{ tool: "send_email" }] },
    ]);
    expect(lastCall(verify(p, earlier), "send_email").verdict).toBe("allow");
  });

  it("without since looks back to the start of the trace, and works without messages", () => {
    const q = rules(`  - id: no_transfer_after_big_one
    match:
      tool: transfer
      sequence:
        forbid_before: { tool: transfer, args: { amount: { gt: 100 } } }
    effect: warn
`);
    const t = trace([
      { call: "transfer", args: { amount: 50 } },
      { call: "transfer", args: { amount: 500 } },
      { call: "transfer", args: { amount: 5 } },
      { call: "transfer", args: { amount: 5 } },
    ]);
    expect(verdicts(verify(q, t))).toEqual(["allow", "allow", "warn", "warn"]);
  });

  it("matches content of earlier messages by role", () => {
    const q = rules(`  - id: stop_means_stop
    match:
      sequence:
        forbid_before: { role: user, content: { matches: '(?i)\\bstop\\b' } }
    effect: block
`);
    const t = trace([
      { user: "do it" },
      { assistant: "", calls: [{ tool: "a" }] },
      { user: "STOP now" },
      { assistant: "", calls: [{ tool: "b" }] },
    ]);
    expect(verdicts(verify(q, t))).toEqual(["allow", "block"]);
  });
});

describe("max_calls", () => {
  const limit = (per: string, count = 1, tool = "[search_*]") =>
    rules(`  - id: call_limit
    match:
      tool: ${tool}
      sequence:
        max_calls: { count: ${count}${per ? `, per: ${per}` : ""} }
    effect: warn
    reason: too_many_calls
`);
  const search = (q = "x") => ({ tool: "search_flights", args: { q } });

  it("per message: the call that exceeds the count within one assistant message", () => {
    const t = trace([
      { user: "find flights" },
      { assistant: "", calls: [search("a"), search("b"), search("c")] },
      { assistant: "", calls: [search("d")] },
    ]);
    const r = verify(limit("message"), t);
    expect(verdicts(r)).toEqual(["allow", "warn", "warn", "allow"]);
    expect(decision(r, 1).evidence).toEqual([
      { rule: "call_limit", kind: "max_calls", count: 2, limit: 1, per: "message" },
    ]);
    expect(decision(r, 2).evidence).toMatchObject([{ count: 3 }]);
  });

  it("per turn: counts across assistant messages until the next user message", () => {
    const t = trace([
      { user: "find flights" },
      { assistant: "", calls: [search()] },
      { result: "none", tool: "search_flights" },
      { assistant: "", calls: [search()] },
      { result: "none", tool: "search_flights" },
      { assistant: "", calls: [search()] },
      { user: "try again" },
      { assistant: "", calls: [search(), search()] },
    ]);
    expect(verdicts(verify(limit("turn", 2), t))).toEqual(["allow", "allow", "warn", "allow", "allow"]);
  });

  it("per turn is the default", () => {
    const t = trace([
      { user: "a" },
      { assistant: "", calls: [search(), search()] },
      { user: "b" },
      { assistant: "", calls: [search()] },
    ]);
    expect(verdicts(verify(limit(""), t))).toEqual(["allow", "warn", "allow"]);
  });

  it("per trace: never resets", () => {
    const t = trace([
      { user: "a" },
      { assistant: "", calls: [search()] },
      { user: "b" },
      { assistant: "", calls: [search()] },
      { user: "c" },
      { assistant: "", calls: [search(), search()] },
    ]);
    expect(verdicts(verify(limit("trace", 2), t))).toEqual(["allow", "allow", "warn", "warn"]);
  });

  it("counts only calls of the rule's tools", () => {
    const t = trace([
      { user: "a" },
      {
        assistant: "",
        calls: [{ tool: "get_user" }, search(), { tool: "get_user" }, { tool: "book" }, search()],
      },
    ]);
    expect(verdicts(verify(limit("turn", 1), t))).toEqual(["allow", "allow", "allow", "allow", "warn"]);
  });

  it("count 0 matches every call; a trace without messages counts over the whole trace", () => {
    const t = trace([{ user: "a" }, { assistant: "", calls: [search()] }]);
    expect(verdicts(verify(limit("turn", 0), t))).toEqual(["warn"]);
    const mcp = trace([{ call: "search_flights" }, { call: "search_flights" }, { call: "search_hotels" }]);
    expect(verdicts(verify(limit("message", 1), mcp))).toEqual(["allow", "warn", "warn"]);
  });

  it("ANDs with argument matchers: only matching calls are flagged, every call of the tools is counted", () => {
    const p = rules(`  - id: big_searches
    match:
      tool: search_flights
      args: { q: { eq: big } }
      sequence:
        max_calls: { count: 1, per: trace }
    effect: block
`);
    const t = trace([
      { user: "a" },
      { assistant: "", calls: [search("small"), search("big"), search("small")] },
    ]);
    expect(verdicts(verify(p, t))).toEqual(["allow", "block", "allow"]);
  });
});

describe("sequence state is per rule", () => {
  it("two rules on the same tool keep separate windows and counters", () => {
    const p = rules(`  - id: a_confirm
    match:
      tool: pay
      sequence:
        require_before: { role: user, content: { contains: confirm } }
    effect: require_approval
  - id: b_once
    match:
      tool: pay
      sequence:
        max_calls: { count: 1, per: trace }
    effect: block
`);
    const steps: Step[] = [
      { user: "confirm" },
      { assistant: "", calls: [{ tool: "pay" }] },
      { assistant: "", calls: [{ tool: "pay" }] },
    ];
    const r = verify(p, trace(steps));
    expect(verdicts(r)).toEqual(["allow", "block"]);
    expect(decision(r, 1).rules).toEqual(["b_once"]);
  });
});
