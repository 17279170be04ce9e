/**
 * Version of the injection detector's rules (src/verify/injection.ts, docs/policy.md "Injected
 * content"). Any change to what the detector marks changes this version, and with it the digest
 * of every policy that asks for `from: injected`.
 */
export const INJECTION_DETECTOR = "injection/1";
