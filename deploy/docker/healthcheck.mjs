#!/usr/bin/env node
// The container's health check: GET /readyz of the server in the same container, exit 0 when it
// answers 200 (policies loaded and, with authentication, the IdP's signing keys fetched), else 1.
// PROOF_HEALTH_URL overrides the address (default https://127.0.0.1:8443/readyz).
//
// The certificate is not verified: the check talks to its own process over loopback, and the
// server's certificate names the service, not 127.0.0.1 (Kubernetes' HTTPS probes skip the check
// for the same reason). No token is sent: /readyz is never authenticated.
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";

const url = new URL(process.env.PROOF_HEALTH_URL ?? "https://127.0.0.1:8443/readyz");
const get = url.protocol === "https:" ? httpsGet : httpGet;
const request = get(url, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
  res.resume();
  process.stdout.write(`${url.pathname}: ${res.statusCode}\n`);
  process.exitCode = res.statusCode === 200 ? 0 : 1;
});
request.on("timeout", () => request.destroy(new Error("no answer within 2 s")));
request.on("error", (err) => {
  process.stdout.write(`${url.pathname}: ${err.message}\n`);
  process.exitCode = 1;
});
