/**
 * The OpenTelemetry Collector configuration of deploy/otel (docs/cookbooks/observability.md). No
 * Collector binary is available where the tests run, so its structure is checked against the
 * rules the Collector applies when it loads a configuration (its "service" documentation): every
 * component a pipeline or the service names is defined, every defined one is used, each component
 * type exists in the distribution named in the file, and a traces pipeline has receivers and
 * exporters. Then what proof relies on: the OTLP receiver takes HTTP on port 4318 at the path
 * `--otel-endpoint` posts to, the argument attribute proof exports (`ATTR.args`) is deleted before
 * any exporter, and the memory limiter comes first.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { ATTR } from "../../src/telemetry/otel.js";
import { ROOT } from "../e2e/cli.js";

const FILE = join(ROOT, "deploy", "otel", "collector.yaml");

/** Component types of the Collector's core and contrib distributions that this file may use. */
const KNOWN = {
  receivers: ["otlp"],
  processors: ["memory_limiter", "batch", "attributes"],
  exporters: ["debug", "file", "otlphttp", "otlp"],
  extensions: ["health_check"],
} as const;
type Section = keyof typeof KNOWN;

// biome-ignore lint/suspicious/noExplicitAny: the configuration is checked field by field below
type Config = Record<string, any>;

function load(text: string): Config {
  const doc = parseDocument(text, { uniqueKeys: true, strict: true });
  expect(doc.errors.map((e) => e.message)).toEqual([]);
  return doc.toJSON() as Config;
}

/** Problems the Collector would refuse the configuration for (or warn about), [] when none. */
function problems(config: Config): string[] {
  const out: string[] = [];
  const allowedTop = new Set(["receivers", "processors", "exporters", "extensions", "connectors", "service"]);
  for (const key of Object.keys(config)) if (!allowedTop.has(key)) out.push(`unknown top-level key ${key}`);
  for (const section of Object.keys(KNOWN) as Section[]) {
    for (const id of Object.keys(config[section] ?? {})) {
      const type = id.split("/")[0] as string;
      if (!(KNOWN[section] as readonly string[]).includes(type))
        out.push(`${section}: unknown type ${type} (${id})`);
    }
  }
  const used: Record<Section, Set<string>> = {
    receivers: new Set(),
    processors: new Set(),
    exporters: new Set(),
    extensions: new Set(config.service?.extensions ?? []),
  };
  const pipelines = config.service?.pipelines ?? {};
  if (Object.keys(pipelines).length === 0) out.push("no pipeline");
  for (const [name, pipeline] of Object.entries(pipelines) as [string, Config][]) {
    if (!/^(traces|metrics|logs)(\/[\w.-]+)?$/.test(name))
      out.push(`pipeline ${name}: not traces, metrics or logs`);
    for (const section of ["receivers", "processors", "exporters"] as const) {
      for (const id of pipeline[section] ?? []) {
        used[section].add(id);
        if (config[section]?.[id] === undefined)
          out.push(`pipeline ${name}: ${section} ${id} is not defined`);
      }
    }
    if ((pipeline.receivers ?? []).length === 0) out.push(`pipeline ${name}: no receiver`);
    if ((pipeline.exporters ?? []).length === 0) out.push(`pipeline ${name}: no exporter`);
  }
  for (const id of used.extensions)
    if (config.extensions?.[id] === undefined) out.push(`service: extension ${id} is not defined`);
  for (const section of Object.keys(KNOWN) as Section[])
    for (const id of Object.keys(config[section] ?? {}))
      if (!used[section].has(id)) out.push(`${section} ${id} is defined but not used`);
  return out;
}

describe("deploy/otel/collector.yaml", () => {
  const text = readFileSync(FILE, "utf8");
  const config = load(text);

  it("is a configuration the Collector would load: components defined, known and used", () => {
    expect(problems(config)).toEqual([]);
  });

  it("the structure checks can fail", () => {
    const broken = structuredClone(config);
    broken.service.pipelines["traces/proof"].exporters.push("otlphttp/backend");
    broken.processors["transform/x"] = {};
    broken.exporter = {};
    expect(problems(broken)).toEqual([
      "unknown top-level key exporter",
      "processors: unknown type transform (transform/x)",
      "pipeline traces/proof: exporters otlphttp/backend is not defined",
      "processors transform/x is defined but not used",
    ]);
    expect(() => load("receivers: {}\nreceivers: {}\n")).toThrow();
  });

  it("receives OTLP over HTTP on 4318 at the path proof's --otel-endpoint posts to", () => {
    const http = config.receivers.otlp.protocols.http;
    expect(http.endpoint).toMatch(/:4318$/);
    // The default path of the receiver is /v1/traces, the path of the docs' --otel-endpoint.
    expect(http.traces_url_path ?? "/v1/traces").toBe("/v1/traces");
    const pipeline = config.service.pipelines["traces/proof"];
    expect(pipeline.receivers).toEqual(["otlp"]);
  });

  it("deletes the call arguments proof may export, before every exporter, after the memory limiter", () => {
    const pipeline = config.service.pipelines["traces/proof"];
    expect(pipeline.processors[0]).toBe("memory_limiter");
    expect(pipeline.processors.at(-1)).toBe("batch");
    const deleting = (pipeline.processors as string[]).filter((id) =>
      (config.processors[id].actions ?? []).some((a: Config) => a.key === ATTR.args && a.action === "delete"),
    );
    expect(deleting).toEqual(["attributes/drop-args"]);
    expect(config.processors.memory_limiter.limit_mib).toBeGreaterThan(
      config.processors.memory_limiter.spike_limit_mib,
    );
  });

  it("writes the spans as OTLP JSON to a file and to the debug exporter", () => {
    const pipeline = config.service.pipelines["traces/proof"];
    expect([...pipeline.exporters].sort()).toEqual(["debug", "file/decisions"]);
    const file = config.exporters["file/decisions"];
    expect(file.format).toBe("json");
    expect(file.path).toMatch(/^\/.+\.jsonl$/);
    expect(config.exporters.debug.verbosity).toBe("detailed");
  });
});
