/**
 * oidc-provider ships no type declarations; this covers only what the test authorization server
 * uses. If another test needs more, extend this file rather than declaring the module twice.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface ProviderContext {
    get(header: string): string;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    static errors: { InvalidTarget: new (description?: string) => Error };
  }
}
