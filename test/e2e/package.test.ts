/**
 * The published package, as a new user gets it: `npm pack`, installed with no network into an
 * empty project, then `npx proof init` and the command it prints. Also what makes that possible:
 * no runtime dependency (everything is bundled), no import of an undeclared package, one npm name.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, removeTempDirs, tempDir } from "./cli.js";
import { offlineNpmEnv, type Packed, packTarball } from "./pack.js";

interface Manifest {
  name: string;
  version: string;
  files: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  bundleDependencies?: unknown;
  bundledDependencies?: unknown;
}

const manifest = async (): Promise<Manifest> =>
  JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as Manifest;

/** What a command did. */
interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` in `cwd` with `env`; never rejects on a non-zero exit. */
function run(cmd: string, args: string[], cwd: string, env: Record<string, string>): Promise<Exit> {
  return new Promise((resolve, reject) =>
    execFile(
      cmd,
      args,
      { cwd, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    ),
  );
}

/** Files under `dir` whose name ends with one of `exts`, recursively. */
async function sourceFiles(dir: string, exts: readonly string[]): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && exts.some((x) => e.name.endsWith(x)))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** One module specifier a source file imports, and whether only types are imported from it. */
interface Imported {
  specifier: string;
  typeOnly: boolean;
}

/**
 * Every module a TypeScript or JavaScript file imports: static imports and re-exports, `import()`,
 * `require()`, `import x = require()` and `import("x").T` types, parsed by the TypeScript compiler.
 */
function importsOf(file: string, text: string): Imported[] {
  const kind = file.endsWith(".js") ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const found: Imported[] = [];
  const add = (node: ts.Node | undefined, typeOnly: boolean): void => {
    if (node !== undefined && ts.isStringLiteralLike(node)) found.push({ specifier: node.text, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            named !== undefined &&
            ts.isNamedImports(named) &&
            named.elements.length > 0 &&
            named.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, allTypes);
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === "require"))
    ) {
      add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The package a bare specifier names (`@scope/name/sub` -> `@scope/name`), or null for a relative or built-in one. */
function packageOf(specifier: string): string | null {
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:")) return null;
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? "");
  return builtinModules.includes(name) ? null : name;
}

/** The DefinitelyTyped package of `name`: `@types/name`, `@types/scope__name` for `@scope/name`. */
const typesPackage = (name: string): string => `@types/${name.replace(/^@/, "").replace("/", "__")}`;

afterAll(removeTempDirs);

describe("the package's dependencies", () => {
  it("declares no runtime dependency: everything it runs is bundled in dist/", async () => {
    const pkg = await manifest();
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.optionalDependencies ?? {}).toEqual({});
    expect(pkg.peerDependencies ?? {}).toEqual({});
    expect(pkg.bundleDependencies ?? pkg.bundledDependencies).toBeUndefined();
  });

  it("declares every package that a source file of src/ imports", async () => {
    const pkg = await manifest();
    const declared = new Set(Object.keys({ ...pkg.devDependencies, ...pkg.dependencies }));
    const undeclared: string[] = [];
    const files = await sourceFiles(join(ROOT, "src"), [".ts", ".mts", ".js", ".mjs"]);
    expect(files.length).toBeGreaterThan(50);
    for (const file of files) {
      for (const { specifier, typeOnly } of importsOf(file, await readFile(file, "utf8"))) {
        const name = packageOf(specifier);
        if (name === null || declared.has(name)) continue;
        if (typeOnly && declared.has(typesPackage(name))) continue;
        undeclared.push(`${relative(ROOT, file)}: ${specifier}`);
      }
    }
    expect(undeclared).toEqual([]);
  });

  it("finds every kind of import it checks (the parser is not blind)", () => {
    const text = [
      'import a from "pkg-a";',
      'import { type B } from "pkg-b/sub";',
      'export { c } from "@scope/pkg-c";',
      'const d = await import("pkg-d");',
      'const e = require("pkg-e");',
      'type F = import("pkg-f").F;',
      'import "./local.js";',
      'import { readFile } from "node:fs/promises";',
      'import { join } from "path";',
    ].join("\n");
    const found = importsOf("x.ts", text).map((i) => [packageOf(i.specifier), i.typeOnly]);
    expect(found).toEqual([
      ["pkg-a", false],
      ["pkg-b", true],
      ["@scope/pkg-c", false],
      ["pkg-d", false],
      ["pkg-e", false],
      ["pkg-f", true],
      [null, false],
      [null, false],
      [null, false],
    ]);
  });
});

describe("the packed tarball", () => {
  let packed: Packed;
  beforeAll(async () => {
    packed = await packTarball();
  }, 120_000);

  it("is named proof-gate, never proof (the npm name of another project)", async () => {
    expect((await manifest()).name).toBe("proof-gate");
    expect(packed.tarball).toMatch(/proof-gate-\d+\.\d+\.\d+.*\.tgz$/);
  });

  it("holds the bundle, its licenses, the docs init points to, the templates, and no sources", () => {
    for (const file of [
      "bin/proof.js",
      "dist/proof.js",
      "dist/index.js",
      // The yaml library, which the chunks require on first use (src/policy/yaml-library.ts).
      "dist/yaml.cjs",
      // The worker threads of `proof verify --jobs N`, started from beside their modules.
      "dist/verify-worker.js",
      "dist/regions-worker.js",
      "dist/THIRD-PARTY-LICENSES.txt",
      "docs/ci.md",
      "docs/traces.md",
      "docs/boundary.md",
      "scripts/proof-ci.sh",
      "ci-templates/gitlab/proof.gitlab-ci.yml",
      "templates/init/proof.config.yaml",
      "README.md",
      "LICENSE",
      "package.json",
    ]) {
      expect(packed.files, file).toContain(file);
    }
    expect(packed.files.filter((f) => /^(src|test|fixtures|node_modules)\//.test(f))).toEqual([]);
    // The GitHub action's bundle ships with the action's release, not with the npm package.
    expect(packed.files).not.toContain("dist/action.js");
  });

  it("installs offline into an empty project; npx proof init, then the command it prints, exit 0", async () => {
    const env = await offlineNpmEnv();
    const project = await tempDir();
    await writeFile(
      join(project, "package.json"),
      `${JSON.stringify({ name: "agent", version: "1.0.0", private: true }, null, 2)}\n`,
    );
    const install = await run(
      "npm",
      ["install", "--offline", "--no-audit", "--no-fund", "-D", packed.tarball],
      project,
      env,
    );
    expect(install.code, install.stderr).toBe(0);
    // One package and nothing else: no runtime dependency was fetched, or needed.
    expect((await readdir(join(project, "node_modules"))).filter((e) => !e.startsWith("."))).toEqual([
      "proof-gate",
    ]);

    const init = await run("npx", ["proof", "init", "--template", "payments"], project, env);
    expect(init.code, init.stderr).toBe(0);
    const next = /run the gate as CI will: (.+)$/m.exec(init.stdout)?.[1] ?? "";
    expect(next).toBe("npx proof-gate regress run");
    const docs = /^Documentation: (.+)\/ \(/m.exec(init.stdout)?.[1];
    expect(docs).toBe("node_modules/proof-gate/docs");
    expect(existsSync(join(project, "node_modules", "proof-gate", "docs", "ci.md"))).toBe(true);
    expect(await readFile(join(project, ".gitignore"), "utf8")).toBe("proof-out/\n");

    const [cmd = "", ...args] = next.split(" ");
    const gate = await run(cmd, args, project, env);
    expect(gate.code, gate.stderr).toBe(0);
    const sarif = JSON.parse(await readFile(join(project, "proof-out", "results.sarif"), "utf8")) as {
      runs: Array<{ tool: { driver: { informationUri: string } } }>;
    };
    expect(sarif.runs[0]?.tool.driver.informationUri).toBe("https://www.npmjs.com/package/proof-gate");

    // The lazily loaded parts of the bundle (process running) need nothing from node_modules either.
    const wrapped = await run("npx", ["proof", "run", "--", process.execPath, "-e", "0"], project, env);
    expect(wrapped.code, wrapped.stderr).toBe(0);
  }, 120_000);
});

describe("one package name and one version everywhere", () => {
  /** The user-facing files: docs, README, CI templates, init templates, shipped scripts. */
  const userFacing = async (): Promise<string[]> => [
    join(ROOT, "README.md"),
    ...(await sourceFiles(join(ROOT, "docs"), [".md"])),
    ...(await sourceFiles(join(ROOT, "ci-templates"), [".yml", "Jenkinsfile"])),
    ...(await sourceFiles(join(ROOT, "templates"), [".yml", ".yaml", ".json"])),
    join(ROOT, "scripts", "proof-ci.sh"),
  ];

  it("pins proof-gate at this version and never installs or imports the npm package proof", async () => {
    const { version } = await manifest();
    const wrong: string[] = [];
    for (const file of await userFacing()) {
      const text = await readFile(file, "utf8");
      for (const m of text.matchAll(/proof-gate@(\d[\w.+-]*)/g))
        if (m[1] !== version) wrong.push(`${relative(ROOT, file)}: ${m[0]}`);
      for (const m of text.matchAll(
        /\bproof@(\d|\$)|npm (install|i|add)( -\S+)* proof\b(?!-)|node_modules\/proof\b(?!-)|from "proof"|"args":\s*\[\s*"proof"/g,
      ))
        wrong.push(`${relative(ROOT, file)}: ${m[0]}`);
    }
    expect(wrong).toEqual([]);
  });

  it("the README lists every document of docs/", async () => {
    const readme = await readFile(join(ROOT, "README.md"), "utf8");
    const docs = (await readdir(join(ROOT, "docs"))).filter((f) => f.endsWith(".md"));
    expect(docs.filter((d) => !readme.includes(`(docs/${d})`))).toEqual([]);
  });
});
