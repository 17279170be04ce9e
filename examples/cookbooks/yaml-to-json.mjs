#!/usr/bin/env node
// Reads a stream of YAML documents on stdin (such as the output of `kubectl kustomize`) and
// prints each document as one line of JSON, for jq, in the cookbooks (docs/cookbooks/). Parsed
// with the `yaml` package (YAML 1.2); a document with a syntax error stops it with exit 1 and the
// parser's message, naming the line and column.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const docs = parseAllDocuments(readFileSync(0, "utf8"));
for (const doc of docs) {
  if (doc.errors.length > 0) {
    process.stderr.write(`yaml-to-json: ${doc.errors[0].message}\n`);
    process.exit(1);
  }
  const value = doc.toJSON();
  if (value !== null && value !== undefined) process.stdout.write(`${JSON.stringify(value)}\n`);
}
