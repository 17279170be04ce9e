/**
 * The Kubernetes manifests of deploy/k8s: every overlay renders with `kubectl kustomize`, each
 * object validates against the Kubernetes schemas (kubernetes-models; the ExternalSecret CRD
 * against a small JSON schema of the fields used), and the security and availability invariants
 * docs/deploy.md promises hold: non-root, read-only root file system, no capabilities, seccomp,
 * no service-account token, probes over HTTPS, resources, PDB, HPA, NetworkPolicy, no Secret in
 * the manifests, and prod with mTLS and --profile prod and never --insecure-no-auth.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Namespace, Service, ServiceAccount } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { compilePolicy } from "../../src/policy/compile.js";
import { resolveServeConfig, type ServeFlags } from "../../src/serve/config.js";
import { ROOT } from "../e2e/cli.js";
import { missingTools } from "../helpers/tools.js";

const K8S = join(ROOT, "deploy", "k8s");
const OVERLAYS = ["dev", "stage", "prod"] as const;

/** A rendered Kubernetes object, loosely typed: the schemas check the shapes. */
// biome-ignore lint/suspicious/noExplicitAny: manifests are checked by schema, then read freely
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & any;

/** Each model class validates one apiVersion/kind against the Kubernetes OpenAPI schema. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
};

/**
 * The fields of an External Secrets Operator `ExternalSecret` (external-secrets.io/v1, its CRD
 * reference "ExternalSecret") that these manifests use, closed so that a typo fails.
 */
const EXTERNAL_SECRET_SCHEMA = {
  type: "object",
  required: ["apiVersion", "kind", "metadata", "spec"],
  additionalProperties: false,
  properties: {
    apiVersion: { const: "external-secrets.io/v1" },
    kind: { const: "ExternalSecret" },
    metadata: {
      type: "object",
      required: ["name", "namespace"],
      properties: {
        name: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" },
        namespace: { type: "string" },
      },
    },
    spec: {
      type: "object",
      required: ["secretStoreRef", "target", "data"],
      additionalProperties: false,
      properties: {
        refreshInterval: { type: "string", pattern: "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$" },
        secretStoreRef: {
          type: "object",
          required: ["kind", "name"],
          additionalProperties: false,
          properties: { kind: { enum: ["SecretStore", "ClusterSecretStore"] }, name: { type: "string" } },
        },
        target: {
          type: "object",
          required: ["name"],
          additionalProperties: false,
          properties: {
            name: { type: "string" },
            creationPolicy: { enum: ["Owner", "Orphan", "Merge", "None"] },
            template: {
              type: "object",
              additionalProperties: false,
              properties: { type: { type: "string" } },
            },
          },
        },
        data: {
          type: "array",
          minItems: 1,
          items: {
            type: "object",
            required: ["secretKey", "remoteRef"],
            additionalProperties: false,
            properties: {
              secretKey: { type: "string", pattern: "^[-._a-zA-Z0-9]+$" },
              remoteRef: {
                type: "object",
                required: ["key"],
                additionalProperties: false,
                properties: { key: { type: "string" }, property: { type: "string" } },
              },
            },
          },
        },
      },
    },
  },
} as const;
const validateExternalSecret = new Ajv({ allErrors: true, strict: true }).compile(EXTERNAL_SECRET_SCHEMA);

/** Runs `kubectl kustomize DIR` and parses the YAML stream (a parse error fails the test). */
function render(dir: string): K8sObject[] {
  const text = execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8", timeout: 60_000 });
  return parseAllDocuments(text).map((doc) => {
    expect(doc.errors).toEqual([]);
    return doc.toJSON() as K8sObject;
  });
}

/** Schema problems of `obj`, or [] when it is valid. */
function schemaProblems(obj: K8sObject): string[] {
  const key = `${obj.apiVersion}/${obj.kind}`;
  if (key === "external-secrets.io/v1/ExternalSecret") {
    return validateExternalSecret(obj)
      ? []
      : (validateExternalSecret.errors ?? []).map(
          (e) => `${key} ${obj.metadata.name}: ${e.instancePath} ${e.message}`,
        );
  }
  const Model = MODELS[key];
  if (Model === undefined) return [`${key} ${obj.metadata?.name}: no schema to validate it`];
  try {
    new Model(obj as never).validate();
    return [];
  } catch (err) {
    return [`${key} ${obj.metadata.name}: ${(err as Error).message}`];
  }
}

const one = (objects: K8sObject[], kind: string, name = "proof"): K8sObject => {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  expect(found, `${kind} ${name}`).toHaveLength(1);
  return found[0];
};

const skip = missingTools("kubectl");

describe.skipIf(skip !== undefined)("Kubernetes manifests (kubectl kustomize)", () => {
  const rendered = Object.fromEntries(OVERLAYS.map((o) => [o, render(join(K8S, "overlays", o))])) as Record<
    (typeof OVERLAYS)[number],
    K8sObject[]
  >;

  it("the schema checks can fail", () => {
    const deployment = one(rendered.prod, "Deployment");
    const broken = structuredClone(deployment);
    broken.spec.replicas = "three";
    expect(schemaProblems(broken).join("\n")).toMatch(/replicas must be integer/);
    const secret = structuredClone(one(rendered.prod, "ExternalSecret", "proof-tls"));
    secret.spec.secretStoreRef.kind = "Vault";
    expect(schemaProblems(secret)).not.toEqual([]);
    expect(schemaProblems({ apiVersion: "v1", kind: "Secret", metadata: { name: "x" } })).not.toEqual([]);
  });

  it("the base renders and validates on its own", () => {
    expect(render(join(K8S, "base")).flatMap(schemaProblems)).toEqual([]);
  });

  for (const overlay of OVERLAYS) {
    describe(`overlay ${overlay}`, () => {
      const objects = rendered[overlay];
      const deployment = (): K8sObject => one(objects, "Deployment");
      const pod = () => deployment().spec.template.spec;
      const container = () => {
        const containers = pod().containers as K8sObject[];
        expect(containers).toHaveLength(1);
        return containers[0];
      };

      it("every object validates against its schema", () => {
        expect(objects.length).toBeGreaterThanOrEqual(9);
        expect(objects.flatMap(schemaProblems)).toEqual([]);
      });

      it("puts everything in the overlay's namespace", () => {
        const ns = one(objects, "Namespace", overlay === "prod" ? "proof" : `proof-${overlay}`).metadata.name;
        for (const o of objects.filter((x) => x.kind !== "Namespace"))
          expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(ns);
      });

      it("runs non-root with a read-only root file system, no capabilities and seccomp", () => {
        const p = pod();
        expect(p.securityContext.runAsNonRoot).toBe(true);
        expect(p.securityContext.runAsUser).toBeGreaterThan(0);
        expect(p.securityContext.seccompProfile).toEqual({ type: "RuntimeDefault" });
        expect(p.automountServiceAccountToken).toBe(false);
        expect(one(objects, "ServiceAccount").automountServiceAccountToken).toBe(false);
        const sc = container().securityContext;
        expect(sc.readOnlyRootFilesystem).toBe(true);
        expect(sc.allowPrivilegeEscalation).toBe(false);
        expect(sc.runAsNonRoot).toBe(true);
        expect(sc.capabilities.drop).toEqual(["ALL"]);
        expect(sc.capabilities.add).toBeUndefined();
        expect(sc.privileged).not.toBe(true);
        // The only writable place is the /tmp emptyDir.
        const tmp = container().volumeMounts.find((m: K8sObject) => m.mountPath === "/tmp");
        expect(p.volumes.find((v: K8sObject) => v.name === tmp?.name)?.emptyDir).toBeDefined();
        expect(
          container()
            .volumeMounts.filter((m: K8sObject) => m.readOnly !== true)
            .map((m: K8sObject) => m.mountPath),
        ).toEqual(["/tmp"]);
      });

      it("probes /healthz and /readyz over HTTPS and sets requests and limits", () => {
        const c = container();
        expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "https", scheme: "HTTPS" });
        expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "https", scheme: "HTTPS" });
        expect(c.ports).toContainEqual({ name: "https", containerPort: 8443, protocol: "TCP" });
        for (const kind of ["requests", "limits"])
          for (const r of ["cpu", "memory"]) expect(c.resources[kind][r], `${kind}.${r}`).toBeDefined();
      });

      it("runs proof serve with TLS, policies from the generated ConfigMap and the image of the overlay", () => {
        const c = container();
        expect(c.command).toEqual(["node", "/app/bin/proof.js"]);
        expect(c.args[0]).toBe("serve");
        expect(c.args).toContain("--tls-cert=/etc/proof/tls/tls.crt");
        expect(c.args).toContain("--tls-key=/etc/proof/tls/tls.key");
        expect(c.args).toContain("--policy-dir=/etc/proof/policies");
        expect(c.args).toContain(`--profile=${overlay}`);
        expect(c.image).toMatch(/^registry\.example\.com\/proof-gate:/);
        const volume = pod().volumes.find((v: K8sObject) => v.name === "policies");
        const configMap = one(objects, "ConfigMap", volume.configMap.name);
        expect(configMap.metadata.name).toMatch(/^proof-policies-[a-z0-9]+$/);
        // Every mounted Secret is one the external secret store creates.
        const targets = objects.filter((o) => o.kind === "ExternalSecret").map((o) => o.spec.target.name);
        const mounted = pod()
          .volumes.filter((v: K8sObject) => v.secret)
          .map((v: K8sObject) => v.secret.secretName);
        expect(mounted.length).toBeGreaterThan(0);
        expect(targets.sort()).toEqual([...mounted].sort());
      });

      it("passes proof serve's own configuration checks (prod: auth and mutual TLS)", () => {
        const c = container();
        // The args are --name=value flags; turn them into the command's parsed options.
        const flags: Record<string, unknown> = {};
        for (const arg of c.args.slice(1) as string[]) {
          const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
          if (!m?.[1]) throw new Error(`not a --flag: ${arg}`);
          const name = m[1].replace(/-([a-z])/g, (_, ch: string) => ch.toUpperCase());
          if (name === "allowedSan") flags[name] = [...((flags[name] as string[]) ?? []), m[2]];
          else flags[name] = m[2] ?? true;
        }
        const config = resolveServeConfig(flags as ServeFlags, undefined);
        expect(config.profile).toBe(overlay);
        expect(config.tls).toBeDefined();
        if (overlay === "prod") expect(config.clientCa).toBeDefined();
      });

      it("has a PDB, an HPA on CPU and Services selecting the pods", () => {
        const labels = deployment().spec.template.metadata.labels;
        const selects = (sel: Record<string, string>) =>
          Object.entries(sel).every(([k, v]) => labels[k] === v) && Object.keys(sel).length > 0;
        expect(selects(one(objects, "PodDisruptionBudget").spec.selector.matchLabels)).toBe(true);
        expect(selects(one(objects, "Service").spec.selector)).toBe(true);
        expect(selects(one(objects, "Service", "proof-pods").spec.selector)).toBe(true);
        expect(selects(deployment().spec.selector.matchLabels)).toBe(true);
        const hpa = one(objects, "HorizontalPodAutoscaler");
        expect(hpa.apiVersion).toBe("autoscaling/v2");
        expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: "proof" });
        expect(hpa.spec.metrics[0].resource.name).toBe("cpu");
        expect(hpa.spec.minReplicas).toBeLessThanOrEqual(deployment().spec.replicas);
        expect(hpa.spec.maxReplicas).toBeGreaterThanOrEqual(hpa.spec.minReplicas);
      });

      it("lets in only labelled clients and Prometheus, and out only DNS and HTTPS", () => {
        const np = one(objects, "NetworkPolicy");
        expect(np.spec.policyTypes).toEqual(["Ingress", "Egress"]);
        expect(np.spec.podSelector.matchLabels).toEqual(deployment().spec.selector.matchLabels);
        expect(np.spec.ingress).toHaveLength(1);
        expect(np.spec.ingress[0].ports).toEqual([{ port: "https", protocol: "TCP" }]);
        expect(np.spec.ingress[0].from).toEqual([
          { namespaceSelector: {}, podSelector: { matchLabels: { "proof-gate.dev/client": "true" } } },
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
            podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
          },
        ]);
        const ports = np.spec.egress.flatMap((e: K8sObject) =>
          e.ports.map((p: K8sObject) => `${p.protocol}/${p.port}`),
        );
        expect(ports.sort()).toEqual(["TCP/443", "TCP/53", "UDP/53"]);
        expect(np.spec.egress[0].to[0].podSelector).toEqual({ matchLabels: { "k8s-app": "kube-dns" } });
      });

      it("holds no Secret: secret values come from the external store", () => {
        expect(objects.filter((o) => o.kind === "Secret")).toEqual([]);
        for (const o of objects.filter((x) => x.kind === "ExternalSecret"))
          expect(o.spec.secretStoreRef).toEqual({ kind: "ClusterSecretStore", name: "proof-secrets" });
      });
    });
  }

  it("dev runs without authentication and mounts no auth.yaml", () => {
    const c = one(rendered.dev, "Deployment").spec.template.spec.containers[0];
    expect(c.args).toContain("--insecure-no-auth");
    expect(c.args.some((a: string) => a.startsWith("--auth"))).toBe(false);
    expect(one(rendered.dev, "Deployment").spec.replicas).toBe(1);
  });

  it("stage authenticates and serves TLS", () => {
    const c = one(rendered.stage, "Deployment").spec.template.spec.containers[0];
    expect(c.args).toContain("--auth=/etc/proof/auth/auth.yaml");
    expect(c.args).not.toContain("--insecure-no-auth");
  });

  it("prod authenticates, requires client certificates and runs --profile prod, never without auth", () => {
    const deployment = one(rendered.prod, "Deployment");
    const c = deployment.spec.template.spec.containers[0];
    expect(c.args).toContain("--auth=/etc/proof/auth/auth.yaml");
    expect(c.args).toContain("--client-ca=/etc/proof/client-ca/ca.crt");
    expect(c.args.filter((a: string) => a.startsWith("--allowed-san=")).length).toBeGreaterThan(0);
    expect(c.args).toContain("--profile=prod");
    expect(c.args.join(" ")).not.toMatch(/insecure/);
    expect(c.volumeMounts).toContainEqual({
      name: "client-ca",
      mountPath: "/etc/proof/client-ca",
      readOnly: true,
    });
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(3);
    expect(one(rendered.prod, "HorizontalPodAutoscaler").spec.minReplicas).toBeGreaterThanOrEqual(3);
    expect(one(rendered.prod, "ExternalSecret", "proof-client-ca").spec.target.name).toBe("proof-client-ca");
  });

  it("renders the same bytes twice", () => {
    const a = execFileSync("kubectl", ["kustomize", join(K8S, "overlays", "prod")], { encoding: "utf8" });
    const b = execFileSync("kubectl", ["kustomize", join(K8S, "overlays", "prod")], { encoding: "utf8" });
    expect(a).toBe(b);
  });
});

describe("policies shipped in the base ConfigMap", () => {
  it("each compiles", () => {
    const dir = join(K8S, "base", "policies");
    const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const ir = compilePolicy(readFileSync(join(dir, f), "utf8"), `deploy/k8s/base/policies/${f}`);
      expect(ir.rules.length, f).toBeGreaterThan(0);
    }
  });
});
