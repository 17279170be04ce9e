/**
 * The policies `proof serve` judges with: every policy of the policy directory, compiled once and
 * cached by digest, swapped as a whole on reload so that a request sees the old set or the new
 * one, never a mix. A reload that fails (a policy does not compile, two files share a policy id)
 * keeps the old set and records why.
 */
import { inputError, ProofError } from "../errors.js";
import type { ProofIR } from "../policy/ir.js";
import { type PolicySet, policyFromText, policySetOf } from "../policy/set.js";
import type { ServeMetricsSink } from "./types.js";

/** One served policy: its IR, the file it came from, and its policy set of one. */
export interface ServedPolicy {
  ir: ProofIR;
  file: string;
  /** The set `proof verify --policy FILE` would load (bundle digest of this policy alone). */
  set: PolicySet;
}

/** An immutable view of the loaded policies; requests hold the one current when they began. */
export interface PolicySnapshot {
  /** Counts applied loads from 1: a client sees a reload happened. */
  generation: number;
  /** Sorted by policy id. */
  policies: readonly ServedPolicy[];
}

/** The last reload that failed and kept the previous set; cleared by a successful one. */
export interface ReloadFailure {
  error: ProofError;
  /** The generation that stayed in use. */
  kept: number;
}

/** Reads the policy files' texts (src/io/policy-dir.ts). */
export type PolicyLoader = () => Promise<readonly { file: string; text: string }[]>;

/**
 * Holds the current {@link PolicySnapshot}. Reloads run one at a time: one asked for while
 * another runs waits for it, then reads the files again (they may have changed meanwhile).
 */
export class PolicyStore {
  private current: PolicySnapshot | undefined;
  private failure: ReloadFailure | undefined;
  /** Compiled sets by policy digest, kept across reloads: an unchanged policy is not recompiled. */
  private readonly cache = new Map<string, PolicySet>();
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly load: PolicyLoader,
    private readonly metrics?: ServeMetricsSink,
  ) {}

  /** The current snapshot. @throws Error before the first successful {@link reload}. */
  snapshot(): PolicySnapshot {
    if (!this.current) throw new Error("policies are not loaded yet");
    return this.current;
  }

  /** Whether a set is loaded (for `/readyz`). */
  loaded(): boolean {
    return this.current !== undefined;
  }

  /** The last failed reload, while no later one succeeded. */
  lastFailure(): ReloadFailure | undefined {
    return this.failure;
  }

  /**
   * Reads and compiles every policy, then swaps the set in at once.
   * @returns the error when the reload failed (the previous set, if any, stays in use).
   */
  reload(): Promise<ProofError | undefined> {
    const next = this.running.then(() => this.reloadNow());
    this.running = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  private async reloadNow(): Promise<ProofError | undefined> {
    try {
      const texts = await this.load();
      const byId = new Map<string, ServedPolicy>();
      const used = new Map<string, PolicySet>();
      for (const { file, text } of texts) {
        const ir = policyFromText(text, file);
        const other = byId.get(ir.policy_id);
        if (other) {
          throw inputError(
            "policy.duplicate_policy",
            `policy id '${ir.policy_id}' is in ${other.file} and ${file}`,
            {
              file,
            },
          );
        }
        let set = this.cache.get(ir.policy_digest) ?? used.get(ir.policy_digest);
        this.metrics?.policyCache(set !== undefined);
        set ??= policySetOf([{ ir, file }]);
        used.set(ir.policy_digest, set);
        byId.set(ir.policy_id, { ir, file, set });
      }
      const policies = [...byId.values()].sort((a, b) =>
        a.ir.policy_id < b.ir.policy_id ? -1 : a.ir.policy_id > b.ir.policy_id ? 1 : 0,
      );
      this.cache.clear();
      for (const [digest, set] of used) this.cache.set(digest, set);
      this.current = { generation: (this.current?.generation ?? 0) + 1, policies };
      this.failure = undefined;
      this.metrics?.policyReload("ok");
      return undefined;
    } catch (err) {
      const error =
        err instanceof ProofError
          ? err
          : new ProofError("policy.reload", `cannot load the policies: ${(err as Error).message}`, {
              cause: err,
            });
      if (this.current) this.failure = { error, kept: this.current.generation };
      this.metrics?.policyReload("error");
      return error;
    }
  }
}

/**
 * Finds the policy a request names: by policy id or by policy digest (`sha256:...`); with none
 * named, the only policy of the snapshot.
 * @param where the request field, for messages
 * @throws ProofError `policy.not_found` (exit 6 / HTTP 400) naming the ids on offer,
 *   `policy.ambiguous` when none is named and there are several.
 */
export function findPolicy(snapshot: PolicySnapshot, name: string | undefined, where: string): ServedPolicy {
  const ids = snapshot.policies.map((p) => p.ir.policy_id).join(", ");
  if (name === undefined) {
    const [only, ...more] = snapshot.policies;
    if (only && more.length === 0) return only;
    throw inputError("policy.ambiguous", `${where} is required: the server holds several policies (${ids})`);
  }
  const found = snapshot.policies.find((p) => p.ir.policy_id === name || p.ir.policy_digest === name);
  if (!found)
    throw inputError("policy.not_found", `no policy with id or digest '${name}' (policy ids: ${ids})`);
  return found;
}
