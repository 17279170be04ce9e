import type { Command } from "commander";
import { inputError, ProofError } from "../../errors.js";
import { readKeyFile } from "../../io/artifacts.js";
import { jsonLine, prettyJson } from "../../io/canonical.js";
import { toPosix } from "../../io/files.js";
import { headPath, readLedgerFiles } from "../../io/ledger-file.js";
import {
  type LedgerQuery,
  type LedgerRecord,
  matchesQuery,
  parseRecord,
  verifyLedger,
} from "../../ledger/ledger.js";
import { type Lineage, type LineageTarget, traceLineage } from "../../ledger/lineage.js";
import { parsePublicKey } from "../../report/manifest.js";
import { type GlobalOptions, oneLine } from "../output.js";
import { parseVerdict } from "./verify.js";

/** Said whenever a ledger is verified without a public key. */
const UNSIGNED_WARNING =
  "without --pub the head proves nothing against truncation: records cut off the end with the head rewritten would verify too";

/**
 * `proof ledger verify FILE [--pub KEY]` and `proof ledger query FILE [filters]` (issue 7).
 * verify: exit 0 when every record links to the one before, hashes to its `hash`, the head sidecar
 * names the last record and (with KEY) every record and the head are signed by KEY; exit 2 naming
 * the first broken line or the head; exit 6 when FILE or KEY cannot be read. Without KEY the
 * success line says that truncation is not ruled out: anyone can rewrite an unsigned head.
 * query: prints the records passing every filter, as JSON lines (`--json`: one array); exit 2 on
 * a line that is no record (queries do not check the chain: run verify for that).
 */
export function registerLedger(
  program: Command,
  run: (action: () => Promise<number>) => Promise<void>,
): void {
  const ledger = program.command("ledger").description("check and search a decision ledger");
  ledger
    .command("verify")
    .description("check a ledger's hash chain, signatures and head; exit 2 naming the first break")
    .argument("<file>", "ledger written with --ledger (JSON lines; FILE.head beside it)")
    .option("--pub <key>", "Ed25519 public key (PEM): every record must be signed by it")
    .action((file: string, opts: { pub?: string }, cmd: Command) =>
      run(async () => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        const key = opts.pub ? parsePublicKey(await readKeyFile(opts.pub), toPosix(opts.pub)) : undefined;
        const { lines, head, text } = await readLedgerFiles(file);
        if (text === null)
          throw inputError("io.unreadable", `cannot read ${toPosix(file)}: no such file or directory`, {
            file: toPosix(file),
          });
        const { records, problem } = verifyLedger(lines, head, key);
        if (problem) {
          // The location is printed from `location` (errorLine): the message must not repeat it.
          throw new ProofError("ledger.broken", problem.message, {
            category: "integrity",
            location:
              problem.line === null
                ? { file: toPosix(headPath(file)) }
                : { file: toPosix(file), line: problem.line },
          });
        }
        const signed = key !== undefined;
        if (global.json)
          process.stdout.write(
            prettyJson({
              verified: true,
              file: toPosix(file),
              records,
              signed,
              // What the check rules out: a cut ledger with a rewritten head passes without a key.
              truncation_detected: signed,
              ...(signed ? {} : { warning: UNSIGNED_WARNING }),
            }),
          );
        else if (!global.quiet)
          process.stderr.write(
            `${oneLine(
              signed
                ? `${toPosix(file)}: verified, ${records} records, records and head signed by the given key`
                : `${toPosix(file)}: chain verified, ${records} records; ${UNSIGNED_WARNING}`,
            )}\n`,
          );
        return 0;
      }),
    );
  ledger
    .command("query")
    .description("print the ledger records that pass every filter (JSON lines; --json: an array)")
    .argument("<file>", "ledger written with --ledger")
    .option("--verdict <verdict>", "decisions with this verdict")
    .option("--rule <id>", "decisions that this rule matched")
    .option("--tool <name>", "decisions on this tool")
    .option("--since-seq <n>", "records with seq at or above N")
    .action(
      (
        file: string,
        opts: { verdict?: string; rule?: string; tool?: string; sinceSeq?: string },
        cmd: Command,
      ) =>
        run(async () => {
          const global = cmd.optsWithGlobals<GlobalOptions>();
          const query: LedgerQuery = {};
          if (opts.verdict !== undefined) query.verdict = parseVerdict(opts.verdict, "--verdict");
          if (opts.rule !== undefined) query.rule = opts.rule;
          if (opts.tool !== undefined) query.tool = opts.tool;
          if (opts.sinceSeq !== undefined) {
            if (!/^\d+$/.test(opts.sinceSeq))
              throw inputError(
                "usage.since_seq",
                `--since-seq must be a non-negative integer, not '${opts.sinceSeq}'`,
              );
            query.sinceSeq = Number(opts.sinceSeq);
          }
          const { lines, text } = await readLedgerFiles(file);
          if (text === null)
            throw inputError("io.unreadable", `cannot read ${toPosix(file)}: no such file or directory`, {
              file: toPosix(file),
            });
          const out: LedgerRecord[] = [];
          for (const [i, line] of lines.entries()) {
            const record = parseRecord(line);
            if (typeof record === "string")
              throw new ProofError("ledger.broken", record, {
                category: "integrity",
                location: { file: toPosix(file), line: i + 1 },
              });
            if (matchesQuery(record, query)) out.push(record);
          }
          if (global.json) process.stdout.write(prettyJson(out));
          else process.stdout.write(out.map(jsonLine).join(""));
          return 0;
        }),
    );
  ledger
    .command("lineage")
    .description("trace one decision to its cause: call, rules, and each evidence step's source record")
    .argument("<file>", "ledger written with --ledger")
    .option("--seq <n>", "the decision record with this ledger seq")
    .option("--call-id <id>", "the decision record of this call id")
    .option("--pub <key>", "Ed25519 public key (PEM): every record through the decision must be signed by it")
    .action((file: string, opts: { seq?: string; callId?: string; pub?: string }, cmd: Command) =>
      run(async () => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        if ((opts.seq === undefined) === (opts.callId === undefined))
          throw inputError("usage.lineage_target", "give exactly one of --seq N and --call-id ID");
        let target: LineageTarget;
        if (opts.seq !== undefined) {
          if (!/^\d+$/.test(opts.seq))
            throw inputError("usage.seq", `--seq must be a non-negative integer, not '${opts.seq}'`);
          target = { seq: Number(opts.seq) };
        } else target = { callId: opts.callId as string };
        const key = opts.pub ? parsePublicKey(await readKeyFile(opts.pub), toPosix(opts.pub)) : undefined;
        const { lines, text } = await readLedgerFiles(file);
        if (text === null)
          throw inputError("io.unreadable", `cannot read ${toPosix(file)}: no such file or directory`, {
            file: toPosix(file),
          });
        const result = traceLineage(lines, target, key);
        if ("kind" in result) {
          if (result.kind === "input")
            throw inputError("ledger.no_decision", result.message, { file: toPosix(file) });
          throw new ProofError("ledger.broken", result.message, {
            category: "integrity",
            location: { file: toPosix(file), ...(result.line === null ? {} : { line: result.line }) },
          });
        }
        if (global.json) process.stdout.write(prettyJson({ file: toPosix(file), ...result }));
        else process.stdout.write(lineageText(result));
        return 0;
      }),
    );
}

function show(v: unknown): string {
  return oneLine(typeof v === "string" ? v : JSON.stringify(v));
}

/** The human form of a lineage: one fact a line, record hashes in full. */
export function lineageText(l: Lineage): string {
  const d = l.decision;
  const out: string[] = [];
  out.push(`decision: record ${d.record.seq} ${d.record.hash}`);
  out.push(
    `  ${show(d.verdict ?? "?")} ${show(d.tool ?? "?")} (event ${d.seq ?? "?"} ${show(d.at ?? "")}, session ${show(d.session ?? "not recorded")})`,
  );
  if (d.call)
    out.push(
      `  call id ${show(d.call.call_id ?? "none")}; arguments ${d.call.arg_names.map(show).join(", ") || "none"}; args ${d.call.args_sha256}`,
    );
  else out.push("  call: not recorded");
  if (d.policies) for (const p of d.policies) out.push(`  policy ${show(p.id)} ${p.digest}`);
  else out.push("  policies: not recorded");
  for (const r of d.rules) out.push(`  rule ${show(r.id)}: effect ${show(r.effect ?? "not recorded")}`);
  if (d.reasons.length > 0) out.push(`  reasons ${d.reasons.map(show).join(", ")}`);
  if (d.approval) out.push(`  approval ${show(d.approval)}`);
  for (const s of l.steps) {
    const e = s.evidence;
    const what =
      e.kind === "provenance" ? `argument ${show(e.arg)} = ${show(e.value)} (${e.integrity})` : e.kind;
    out.push(`evidence: rule ${show(s.rule)}: ${what}`);
    if (e.kind === "provenance") {
      if (e.source_field) out.push(`  field ${show(e.source_field.path)} (${show(e.source_field.at)})`);
      if (e.injection)
        out.push(
          `  injection rules ${e.injection.rules.map(show).join(", ")} span ${e.injection.start}..${e.injection.end}`,
        );
    }
    for (const { role, event, proof } of s.events) {
      const name = `${event.type}${event.tool ? ` ${show(event.tool)}` : ""}${event.role ? ` (${show(event.role)})` : ""}`;
      out.push(`  ${role}: event ${event.seq} ${show(event.at)}, ${name}`);
      if (proof.status === "recorded") {
        out.push(`    proved by record ${proof.record.seq} ${proof.record.hash}`);
        const o = proof.observation;
        if (o) out.push(`    content ${o.content_sha256}${o.call_id ? `, call id ${show(o.call_id)}` : ""}`);
      } else if (proof.status === "mismatch")
        out.push(`    record ${proof.record.seq} ${proof.record.hash} does not match: ${show(proof.reason)}`);
      else out.push(`    source not recorded: ${show(proof.reason)}`);
    }
  }
  const signed = l.signed ? ", signed by the given key" : "";
  out.push(`chain verified through record ${d.record.seq} (${l.verified_records} records${signed})`);
  return `${out.join("\n")}\n`;
}
