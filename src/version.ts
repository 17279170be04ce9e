declare const PROOF_VERSION: string | undefined;

/** The package version, injected at build time; `0.0.0-dev` when running from sources. */
export const VERSION: string = typeof PROOF_VERSION === "string" ? PROOF_VERSION : "0.0.0-dev";
