/**
 * The sandbox settings a command runs under (policy `sandbox`, specs/policy.md): plain data, so a
 * workflow may carry it and a test may build it. Owns the defaults; not how they are enforced
 * (./bwrap.ts, ./egress-proxy.ts).
 */

/** How commands are isolated: `bwrap` (bubblewrap, the default) or `none` (plain host processes). */
export type SandboxMode = 'bwrap' | 'none';

/** What network a sandboxed command gets: none (empty namespace), the host's, or an HTTP(S) proxy allowlist. */
export type SandboxNetwork = 'none' | 'host' | 'allowlist';

/** The sandbox a command runs in. */
export interface SandboxPolicy {
  mode: SandboxMode;
  network: SandboxNetwork;
  /** `host` or `host:port` (`*.example.com` matches subdomains); only with `network: allowlist`. */
  allowHosts: string[];
  /** Extra host directories bound read-only at the same path (toolchains outside the defaults). */
  roPaths: string[];
}

/** The default: bubblewrap, no network. */
export const DEFAULT_SANDBOX: SandboxPolicy = { mode: 'bwrap', network: 'none', allowHosts: [], roPaths: [] };

/** The sandbox a policy's `sandbox` section asks for (the section as parsed by src/config/schema.ts). */
export function sandboxPolicyOf(section: {
  mode: SandboxMode;
  network: SandboxNetwork;
  allow_hosts: string[];
  ro_paths: string[];
}): SandboxPolicy {
  return {
    mode: section.mode,
    network: section.network,
    allowHosts: [...section.allow_hosts],
    roPaths: [...section.ro_paths],
  };
}

/**
 * What a sandbox setting gives up, one sentence each, for the evidence packet's "Risks" heading:
 * empty for the default (bwrap, no network).
 */
export function sandboxRisks(policy: Pick<SandboxPolicy, 'mode' | 'network' | 'allowHosts'>): string[] {
  if (policy.mode === 'none') {
    return [
      'sandbox.mode is none: agent commands, QA commands and hooks ran as plain host processes ' +
        "(the daemon's user, files and network).",
    ];
  }
  if (policy.network === 'host') return ["sandbox.network is host: sandboxed commands had the host's full network."];
  return [];
}
