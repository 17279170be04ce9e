// Generates the JSON Schemas of the formats proof writes from their TypeScript types, so the
// published schemas and the types cannot drift apart (test/schemas.test.ts regenerates and
// compares). Run with `npm run gen:schemas` after changing src/policy/ir.ts, src/report/report.ts or src/verify/coverage.ts.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGenerator } from "ts-json-schema-generator";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Schema files generated from types: file -> {source, type, title}. */
export const GENERATED = {
  "ir.schema.json": {
    path: "src/policy/ir.ts",
    type: "ProofIR",
    title: "proof compiled policy (proof.ir/v1)",
  },
  "report.schema.json": {
    path: "src/report/report.ts",
    type: "Report",
    title: "proof report (proof.report/v1)",
  },
  "plan.schema.json": {
    path: "src/plan/plan.ts",
    type: "Plan",
    title: "proof plan (proof.plan/v1)",
  },
  "baseline.schema.json": {
    path: "src/regress/baseline.ts",
    type: "Baseline",
    title: "proof regression baseline (proof.baseline/v1, v2)",
  },
  "coverage.schema.json": {
    path: "src/verify/coverage.ts",
    type: "CoverageReport",
    title: "proof policy coverage (proof.coverage/v1)",
  },
  "regress.schema.json": {
    path: "src/regress/compare.ts",
    type: "RegressResult",
    title: "proof regression comparison (proof.regress/v1)",
  },
  "eval.schema.json": {
    path: "src/eval/score.ts",
    type: "EvalReport",
    title: "proof evaluation scorecard (proof.eval/v1)",
  },
};

/** Returns the schema generated for one entry of GENERATED, as pretty JSON text. */
export function generateSchema(file) {
  const spec = GENERATED[file];
  const schema = createGenerator({
    path: join(root, spec.path),
    tsconfig: join(root, "tsconfig.json"),
    type: spec.type,
    expose: "export",
    topRef: true,
    jsDoc: "extended",
    additionalProperties: false,
    skipTypeCheck: true,
  }).createSchema(spec.type);
  const out = { $id: `https://proof.dev/schemas/${file}`, title: spec.title, ...schema };
  return `${JSON.stringify(out, null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const file of Object.keys(GENERATED)) writeFileSync(join(root, "schemas", file), generateSchema(file));
}
