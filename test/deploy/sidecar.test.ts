/**
 * The MCP gateway sidecar of deploy/k8s (components/mcp-gateway-sidecar, overlays/agent-sidecar,
 * docs/cookbooks/kubernetes-sidecar.md): the overlay renders with `kubectl kustomize`, each object
 * validates against the Kubernetes schemas (kubernetes-models), and the invariants the cookbook
 * promises hold: the gateway is a native sidecar of the agent pod, non-root with a read-only root
 * file system, probed on /healthz and /readyz, with resources; its arguments pass the gateway's own
 * configuration checks; the agent knows only the sidecar's loopback URL; and the NetworkPolicies
 * let the MCP server be reached only from pods that run the gateway.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { Deployment } from "kubernetes-models/apps/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { ConfigMap, Namespace, Service } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { compilePolicy } from "../../src/policy/compile.js";
import { resolveServeConfig, type ServeFlags } from "../../src/serve/config.js";
import { ROOT } from "../e2e/cli.js";
import { missingTools } from "../helpers/tools.js";

const K8S = join(ROOT, "deploy", "k8s");
const OVERLAY = join(K8S, "overlays", "agent-sidecar");

/** A rendered Kubernetes object, loosely typed: the schemas check the shapes. */
// biome-ignore lint/suspicious/noExplicitAny: manifests are checked by schema, then read freely
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & any;

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
};

function render(dir: string): K8sObject[] {
  const text = execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8", timeout: 60_000 });
  return parseAllDocuments(text).map((doc) => {
    expect(doc.errors).toEqual([]);
    return doc.toJSON() as K8sObject;
  });
}

function schemaProblems(obj: K8sObject): string[] {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const Model = MODELS[key];
  if (Model === undefined) return [`${key} ${obj.metadata?.name}: no schema to validate it`];
  try {
    new Model(obj as never).validate();
    return [];
  } catch (err) {
    return [`${key} ${obj.metadata.name}: ${(err as Error).message}`];
  }
}

const one = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  expect(found, `${kind} ${name}`).toHaveLength(1);
  return found[0];
};

/** True when every label of `selector` (non-empty) is on `labels`. */
const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/**
 * The `--name=value` arguments of `proof mcp gateway` as the flags `resolveServeConfig` takes
 * (the gateway command hands them over the same way: `--policy` as the policy directory), and
 * the gateway's own flags (`upstream`, timeouts, record, ledger) beside them.
 */
function gatewayFlags(args: string[]): { serve: ServeFlags; own: Record<string, string> } {
  const serve: Record<string, unknown> = {};
  const own: Record<string, string> = {};
  for (const arg of args) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m?.[1]) throw new Error(`not a --flag: ${arg}`);
    const name = m[1].replace(/-([a-z])/g, (_, ch: string) => ch.toUpperCase());
    if (name === "policy") serve.policyDir = m[2];
    else if (name === "allowedSan") serve[name] = [...((serve[name] as string[]) ?? []), m[2]];
    else if (["listen", "profile", "auth", "tlsCert", "tlsKey", "clientCa"].includes(name))
      serve[name] = m[2];
    else if (name === "insecureNoAuth") serve[name] = m[2] === undefined ? true : m[2];
    else own[name] = m[2] ?? "true";
  }
  return { serve: serve as ServeFlags, own };
}

const skip = missingTools("kubectl");

describe.skipIf(skip !== undefined)("MCP gateway sidecar (kubectl kustomize overlays/agent-sidecar)", () => {
  const objects = render(OVERLAY);
  const agent = () => one(objects, "Deployment", "agent");
  const pod = () => agent().spec.template.spec;
  const sidecar = () => {
    const init = pod().initContainers as K8sObject[];
    expect(init.map((c) => c.name)).toEqual(["mcp-gateway"]);
    return init[0];
  };

  it("every object validates against its schema, all in the namespace agents", () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, "")}`).sort()).toEqual([
      "ConfigMap/mcp-gateway-policy",
      "Deployment/agent",
      "Deployment/mcp-server",
      "Namespace/agents",
      "NetworkPolicy/mcp-gateway-sidecar-egress",
      "NetworkPolicy/mcp-server-ingress",
      "Service/mcp-server",
    ]);
    expect(objects.flatMap(schemaProblems)).toEqual([]);
    for (const o of objects.filter((x) => x.kind !== "Namespace"))
      expect(o.metadata.namespace).toBe("agents");
    // The check can fail: a sidecar with malformed resources is refused by the schema.
    const broken = structuredClone(agent());
    broken.spec.template.spec.initContainers[0].resources.limits = "lots";
    expect(schemaProblems(broken)).not.toEqual([]);
  });

  it("runs the gateway as a native sidecar: non-root, read-only root file system, no capabilities", () => {
    const c = sidecar();
    expect(c.restartPolicy).toBe("Always");
    expect(c.command).toEqual(["node", "/app/bin/proof.js"]);
    expect(c.args.slice(0, 2)).toEqual(["mcp", "gateway"]);
    expect(c.image).toBe("registry.example.com/proof-gate:0.1.0");
    const sc = c.securityContext;
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.runAsNonRoot).toBe(true);
    expect(sc.runAsUser).toBeGreaterThan(0);
    expect(sc.capabilities).toEqual({ drop: ["ALL"] });
    expect(sc.privileged).not.toBe(true);
    expect(pod().securityContext.seccompProfile).toEqual({ type: "RuntimeDefault" });
    expect(pod().automountServiceAccountToken).toBe(false);
    // Writable mounts are emptyDirs of the pod; the policy is mounted read-only.
    for (const m of c.volumeMounts as K8sObject[]) {
      const volume = pod().volumes.find((v: K8sObject) => v.name === m.name);
      expect(volume, m.name).toBeDefined();
      if (m.readOnly !== true) expect(volume.emptyDir, m.mountPath).toBeDefined();
    }
    for (const kind of ["requests", "limits"])
      for (const r of ["cpu", "memory"]) expect(c.resources[kind][r], `${kind}.${r}`).toBeDefined();
  });

  it("probes /healthz for startup and liveness and /readyz for readiness, on the listen address", () => {
    const c = sidecar();
    const { serve } = gatewayFlags(c.args.slice(2));
    const url = (probe: K8sObject) => {
      const command = probe.exec.command as string[];
      expect(command.slice(2)).toEqual(["node", "/app/deploy/docker/healthcheck.mjs"]);
      expect(command[0]).toBe("env");
      return command[1]?.replace(/^PROOF_HEALTH_URL=/, "");
    };
    expect(url(c.startupProbe)).toBe(`http://${serve.listen}/healthz`);
    expect(url(c.livenessProbe)).toBe(`http://${serve.listen}/healthz`);
    expect(url(c.readinessProbe)).toBe(`http://${serve.listen}/readyz`);
  });

  it("passes the gateway's configuration checks, listening on loopback only", () => {
    const c = sidecar();
    const { serve, own } = gatewayFlags(c.args.slice(2));
    const config = resolveServeConfig(serve, undefined);
    // Without authentication the listener must not leave the pod.
    expect(config.listen.host).toBe("127.0.0.1");
    expect(config.insecureNoAuth).toBe(true);
    expect(config.profile).not.toBe("prod");
    expect(Object.keys(own).sort()).toEqual([
      "connectTimeout",
      "ledger",
      "record",
      "requestTimeout",
      "upstream",
    ]);
    for (const key of ["connectTimeout", "requestTimeout"]) expect(own[key]).toMatch(/^[1-9][0-9]*$/);
    // Records and ledger are written under a writable mount.
    const writable = (c.volumeMounts as K8sObject[])
      .filter((m) => m.readOnly !== true)
      .map((m) => m.mountPath);
    for (const key of ["record", "ledger"])
      expect(
        writable.some((dir: string) => own[key]?.startsWith(`${dir}/`)),
        key,
      ).toBe(true);
  });

  it("mounts a policy that compiles, from the generated ConfigMap", () => {
    const c = sidecar();
    const { serve } = gatewayFlags(c.args.slice(2));
    const mount = (c.volumeMounts as K8sObject[]).find((m) => serve.policyDir?.startsWith(`${m.mountPath}/`));
    expect(mount?.readOnly).toBe(true);
    const volume = pod().volumes.find((v: K8sObject) => v.name === mount.name);
    const configMap = one(objects, "ConfigMap", volume.configMap.name);
    expect(configMap.metadata.name).toMatch(/^mcp-gateway-policy-[a-z0-9]+$/);
    const file = serve.policyDir?.slice(mount.mountPath.length + 1) as string;
    const ir = compilePolicy(configMap.data[file], file);
    expect(ir.policy_id).toBe("mcp-gateway.sidecar.v1");
    expect(ir.rules.map((r) => r.id)).toContain("no_env_dump");
  });

  it("points the gateway at the MCP server's Service, and the agent only at the sidecar", () => {
    const c = sidecar();
    const { serve, own } = gatewayFlags(c.args.slice(2));
    const upstream = new URL(own.upstream as string);
    const service = one(objects, "Service", upstream.hostname);
    expect(service.spec.ports.map((p: K8sObject) => p.port)).toContain(Number(upstream.port));
    const server = one(objects, "Deployment", "mcp-server");
    expect(selects(service.spec.selector, server.spec.template.metadata.labels)).toBe(true);
    const agentContainers = pod().containers as K8sObject[];
    expect(agentContainers.map((x) => x.name)).toEqual(["agent"]);
    const env = Object.fromEntries(agentContainers[0].env.map((e: K8sObject) => [e.name, e.value]));
    expect(env.MCP_SERVER_URL).toBe(`http://${serve.listen}/mcp`);
    // Nothing in the agent's container names the MCP server directly.
    expect(JSON.stringify(agentContainers[0])).not.toContain(upstream.hostname);
  });

  it("lets the MCP server be reached only from pods that run the gateway", () => {
    const agentLabels = agent().spec.template.metadata.labels;
    const server = one(objects, "Deployment", "mcp-server");
    const serverLabels = server.spec.template.metadata.labels;
    const serverPort = server.spec.template.spec.containers[0].ports[0].containerPort;
    const egress = one(objects, "NetworkPolicy", "mcp-gateway-sidecar-egress");
    expect(selects(egress.spec.podSelector.matchLabels, agentLabels)).toBe(true);
    expect(egress.spec.policyTypes).toEqual(["Egress"]);
    const ports = egress.spec.egress.flatMap((e: K8sObject) =>
      e.ports.map((p: K8sObject) => `${p.protocol}/${p.port}`),
    );
    expect(ports.sort()).toEqual([`TCP/${serverPort}`, "TCP/53", "UDP/53"]);
    const toServer = egress.spec.egress.find((e: K8sObject) => e.ports[0].port === serverPort);
    expect(toServer.to).toHaveLength(1);
    expect(selects(toServer.to[0].podSelector.matchLabels, serverLabels)).toBe(true);

    const ingress = one(objects, "NetworkPolicy", "mcp-server-ingress");
    expect(selects(ingress.spec.podSelector.matchLabels, serverLabels)).toBe(true);
    expect(ingress.spec.policyTypes).toEqual(["Ingress"]);
    expect(ingress.spec.ingress).toHaveLength(1);
    expect(ingress.spec.ingress[0].ports).toEqual([{ port: serverPort, protocol: "TCP" }]);
    const peers = ingress.spec.ingress[0].from as K8sObject[];
    expect(peers).toHaveLength(1);
    expect(peers[0].namespaceSelector).toBeUndefined();
    // The agent pod carries the label because it runs the sidecar; a pod without the sidecar
    // (the MCP server itself, a separate agent) does not.
    expect(selects(peers[0].podSelector.matchLabels, agentLabels)).toBe(true);
    expect(selects(peers[0].podSelector.matchLabels, serverLabels)).toBe(false);
    const withoutSidecar = Object.fromEntries(
      Object.entries(agentLabels as Record<string, string>).filter(
        ([k]) => k !== "proof-gate.dev/mcp-gateway",
      ),
    );
    expect(selects(peers[0].podSelector.matchLabels, withoutSidecar)).toBe(false);
  });

  it("adds the sidecar only to Deployments labelled for it", () => {
    const server = one(objects, "Deployment", "mcp-server");
    expect(server.spec.template.spec.initContainers).toBeUndefined();
    expect(server.metadata.labels["proof-gate.dev/mcp-gateway-sidecar"]).toBeUndefined();
    expect(agent().metadata.labels["proof-gate.dev/mcp-gateway-sidecar"]).toBe("true");
  });

  it("renders the same bytes twice", () => {
    const a = execFileSync("kubectl", ["kustomize", OVERLAY], { encoding: "utf8" });
    const b = execFileSync("kubectl", ["kustomize", OVERLAY], { encoding: "utf8" });
    expect(a).toBe(b);
  });
});
