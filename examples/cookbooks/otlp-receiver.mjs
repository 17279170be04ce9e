#!/usr/bin/env node
// A stand-in for an OpenTelemetry Collector's OTLP/HTTP receiver, for the cookbooks
// (docs/cookbooks/observability.md): it accepts POST /v1/traces with a JSON body (an OTLP
// ExportTraceServiceRequest, the JSON encoding of the OTLP specification) and appends each
// request, as one line, to $OTLP_FILE (default spans.otlp.jsonl), as the Collector's file exporter
// does. It answers 200 with an empty ExportTraceServiceResponse, 415 to another media type, 400
// to a body that is not JSON, 404 elsewhere. Protobuf bodies are not decoded. Not for production:
// listens on 127.0.0.1:$OTLP_PORT (default 4318) over plain http.
import { appendFileSync } from "node:fs";
import { createServer } from "node:http";

const port = Number(process.env.OTLP_PORT ?? 4318);
const file = process.env.OTLP_FILE ?? "spans.otlp.jsonl";

const server = createServer((req, res) => {
  const answer = (status, body) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (req.method !== "POST" || req.url !== "/v1/traces")
    return answer(404, { error: "POST /v1/traces only" });
  if (!String(req.headers["content-type"] ?? "").startsWith("application/json"))
    return answer(415, { error: "JSON encoding only" });
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    let request;
    try {
      request = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return answer(400, { error: "not JSON" });
    }
    appendFileSync(file, `${JSON.stringify(request)}\n`);
    const spans = (request.resourceSpans ?? []).flatMap((r) =>
      (r.scopeSpans ?? []).flatMap((s) => s.spans ?? []),
    );
    process.stdout.write(`otlp-receiver: ${spans.length} span(s)\n`);
    answer(200, {});
  });
});
server.listen(port, "127.0.0.1", () =>
  process.stdout.write(`otlp-receiver: listening on http://127.0.0.1:${port}/v1/traces\n`),
);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
