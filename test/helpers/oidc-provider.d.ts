/**
 * The part of oidc-provider's API the test IdP uses (the package ships no types, and is used
 * by tests only, never by src/).
 */
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  export default class Provider {
    /** @param configuration see oidc-provider's docs/README.md ("Configuration options") */
    constructor(issuer: string, configuration: Record<string, unknown>);
    /** The request handler of a `node:http` server. */
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
  }
}
