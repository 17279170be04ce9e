/**
 * The container files of deploy/docker hold what docs/cookbooks/local-service.md claims, and what
 * that cookbook runs as plain processes is what the image runs. No Docker engine is needed: the
 * Dockerfile is parsed with dockerfile-ast, the compose file with yaml.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DockerfileParser } from "dockerfile-ast";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../e2e/cli.js";
import { parseCookbook } from "./runner.js";

const DOCKER = join(ROOT, "deploy", "docker");
const dockerfile = DockerfileParser.parse(readFileSync(join(DOCKER, "Dockerfile"), "utf8"));
const compose = parse(readFileSync(join(DOCKER, "compose.yaml"), "utf8")) as {
  services: Record<string, Record<string, unknown>>;
};
const service = compose.services.proof as Record<string, unknown>;
const cookbook = parseCookbook(
  readFileSync(join(ROOT, "docs", "cookbooks", "local-service.md"), "utf8"),
  "docs/cookbooks/local-service.md",
);

/** The JSON (exec) form of an instruction's arguments; the shell form is refused. */
function execForm(keyword: string): string[] {
  const found = dockerfile.getInstructions().filter((i) => i.getKeyword() === keyword);
  expect(found, `one ${keyword}`).toHaveLength(1);
  const text = (found[0]?.getArgumentsContent() ?? "").replace(/^CMD\s+/, "");
  return JSON.parse(text) as string[];
}

/** The command as the cookbook writes it: /app is $PROOF_REPO, /etc/proof is etc-proof/. */
function asCookbookRuns(argv: string[]): string {
  return argv
    .map((a) =>
      a.startsWith("/app/")
        ? `"$PROOF_REPO/${a.slice("/app/".length)}"`
        : a.startsWith("/etc/proof/")
          ? `etc-proof/${a.slice("/etc/proof/".length)}`
          : a,
    )
    .join(" ");
}

const entrypoint = execForm("ENTRYPOINT");
const cmd = execForm("CMD");
const healthcheck = execForm("HEALTHCHECK");

describe("deploy/docker", () => {
  it("pins every base image by digest, in every stage", () => {
    const froms = dockerfile.getFROMs();
    expect(froms.length).toBeGreaterThanOrEqual(1);
    for (const from of froms) {
      expect(from.getImageName()).toBe("node");
      expect(from.getImageTag()).toBe("20-bookworm-slim");
      expect(from.getImageDigest()).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    expect(dockerfile.getARGs().filter((a) => /FROM/i.test(a.getArgumentsContent() ?? ""))).toEqual([]);
  });

  it("runs the final stage as a non-root user, with a health check", () => {
    const instructions = dockerfile.getInstructions();
    const lastFrom = instructions.map((i) => i.getKeyword()).lastIndexOf("FROM");
    const users = instructions.slice(lastFrom).filter((i) => i.getKeyword() === "USER");
    expect(users).toHaveLength(1);
    const user = users[0]?.getArgumentsContent() ?? "";
    expect(user).toMatch(/^\d+:\d+$/);
    expect(
      user
        .split(":")
        .map(Number)
        .every((n) => n > 0),
    ).toBe(true);
    expect(healthcheck.slice(0, 1)).toEqual(["node"]);
    expect(entrypoint).toEqual(["node", "/app/bin/proof.js", "serve"]);
    expect(cmd).toEqual(["--config", "/etc/proof/serve.yaml"]);
    // The health check script is in the image where the HEALTHCHECK looks for it.
    const copied = dockerfile
      .getInstructions()
      .map((i) => i.getArgumentsContent() ?? "")
      .join("\n");
    expect(copied).toContain(`${healthcheck[1]}`);
  });

  it("compose runs the same command, user and health check, read-only and without capabilities", () => {
    expect(service.command).toEqual(cmd);
    expect(service.entrypoint).toBeUndefined();
    expect(service.user).toBe(
      dockerfile
        .getInstructions()
        .filter((i) => i.getKeyword() === "USER")
        .at(-1)
        ?.getArgumentsContent(),
    );
    expect(service.read_only).toBe(true);
    expect(service.cap_drop).toEqual(["ALL"]);
    expect(service.security_opt).toContain("no-new-privileges:true");
    expect(service.tmpfs).toEqual(["/tmp"]);
    expect((service.healthcheck as { test: string[] }).test).toEqual(["CMD", ...healthcheck]);
    const volumes = service.volumes as string[];
    expect(volumes.every((v) => v.endsWith(":ro"))).toBe(true);
    expect(volumes).toContain(`./serve.yaml:${cmd[1]}:ro`);
  });

  it("the cookbook runs the image's entrypoint and health check as plain processes", () => {
    const container = cookbook.steps.find((s) => s.background === "container");
    expect(container?.code.trim()).toBe(asCookbookRuns([...entrypoint, ...cmd]));
    const health = asCookbookRuns(healthcheck);
    const runs = cookbook.steps.filter((s) => s.code.includes(health));
    // Once while the server runs (exit 0), once after it stopped (exit 1).
    expect(runs.map((s) => s.exit)).toEqual([0, 1]);
  });

  it("serve.yaml of the image listens on the port the image exposes", () => {
    const serveYaml = parse(readFileSync(join(DOCKER, "serve.yaml"), "utf8")) as Record<string, unknown>;
    const exposed = dockerfile
      .getInstructions()
      .filter((i) => i.getKeyword() === "EXPOSE")
      .map((i) => i.getArgumentsContent());
    expect(exposed).toEqual([String(serveYaml.listen).split(":").at(-1)]);
    expect(serveYaml.profile).not.toBe("dev");
    expect(serveYaml.insecureNoAuth).toBeUndefined();
    expect((service.ports as string[])[0]).toMatch(/:8443$/);
  });
});
