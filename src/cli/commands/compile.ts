import type { Command } from "commander";
import { compileSource } from "../../api/compile.js";
import { fileLimit, readTextFile } from "../../io/files.js";
import { writeFileAtomic } from "../../io/write.js";
import type { GlobalOptions } from "../output.js";

/** `proof compile POLICY.yaml [-o IR.json]`: validate and compile a policy to its IR. */
export function registerCompile(
  program: Command,
  run: (action: () => Promise<number>) => Promise<void>,
): void {
  program
    .command("compile")
    .description("validate a policy and compile it to the JSON IR (proof.ir/v1)")
    .argument("<policy>", "policy YAML file")
    .option("-o, --output <file>", "write the IR here instead of stdout")
    .action((policy: string, opts: { output?: string }, cmd: Command) =>
      run(async () => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        const { ir, text } = compileSource(await readTextFile(policy, fileLimit()), policy);
        if (opts.output) {
          await writeFileAtomic(opts.output, text);
          if (!global.quiet && !global.json)
            process.stderr.write(`${ir.policy_id} ${ir.policy_digest} -> ${opts.output}\n`);
          if (global.json) process.stdout.write(text);
        } else process.stdout.write(text);
        return 0;
      }),
    );
}
