/**
 * docker-compose.yml checked by the Compose specification's own loader (no Docker here): it is a
 * valid Compose file, runs the current Temporal server image with a schema setup step instead of
 * the deprecated auto-setup image, refuses to start without FOREMAN_REPO or FOREMAN_API_TOKEN, and
 * carries git credentials (GITHUB_TOKEN; SSH via deploy/compose.ssh.yml).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FOREMAN_SEARCH_ATTRIBUTES } from '../../src/temporal/dev-server.js';
import { composeCheck, composeCheckBinary } from '../support/compose-check.js';

const REQUIRED = { FOREMAN_API_TOKEN: 'token-for-the-test', FOREMAN_REPO: 'https://github.com/acme/app.git' };

describe('docker-compose.yml', () => {
  beforeAll(async () => {
    await composeCheckBinary(); // a Go build the first time on a machine
  }, 600_000);

  it('is a valid Compose file with the server image, a schema step and setup before Foreman', async () => {
    const r = await composeCheck(['docker-compose.yml'], REQUIRED);
    expect(r.error).toBe('');
    const s = r.project!.services;
    for (const svc of Object.values(s)) expect(svc.image ?? '').not.toMatch(/auto-setup/);
    expect(s.temporal!.image).toMatch(/^temporalio\/server:/);
    expect(s['temporal-schema']!.image).toMatch(/^temporalio\/admin-tools:/);
    expect(s['temporal-schema']!.entrypoint!.join(' ')).toMatch(/setup-schema[\s\S]*update-schema/);
    expect(s.temporal!.depends_on!['temporal-schema']!.condition).toBe('service_completed_successfully');
    expect(s['temporal-setup']!.entrypoint!.join(' ')).toMatch(/namespace create[\s\S]*ForemanDeployment/);
    // Every search attribute Foreman needs (the dev server's list) is registered, with its type.
    for (const [name, type] of Object.entries(FOREMAN_SEARCH_ATTRIBUTES))
      expect(s['temporal-setup']!.entrypoint!.join(' ')).toContain(`${name}:${type}`);
    expect(s.foreman!.depends_on!['temporal-setup']!.condition).toBe('service_completed_successfully');
    expect(s.foreman!.environment!.FOREMAN_REPO).toBe(REQUIRED.FOREMAN_REPO);
  });

  it('runs FOREMAN_WORKERS worker replicas beside the one daemon, sharing the issues folder, each with a home of its own', async () => {
    const r = await composeCheck(['docker-compose.yml'], REQUIRED);
    expect(r.error).toBe('');
    const { foreman, 'foreman-worker': worker } = r.project!.services;
    expect(worker!.command).toEqual(['start', '--worker-only', '/config/WORKFLOW.md']);
    expect(worker!.deploy!.replicas).toBe(2);
    expect(foreman!.deploy?.replicas ?? 1).toBe(1);
    expect(foreman!.command).not.toContain('--worker-only');
    // Same image, Temporal server, credentials and sandbox options as the daemon.
    expect(worker!.image).toBe(foreman!.image);
    expect(worker!.environment).toEqual(foreman!.environment);
    expect(worker!.security_opt).toEqual(foreman!.security_opt);
    expect(worker!.depends_on!['temporal-setup']!.condition).toBe('service_completed_successfully');
    // The worker serves no HTTP and publishes nothing (several replicas could not share a port).
    expect(worker!.ports ?? []).toEqual([]);
    // The issues folder the default policy names is one named volume in both; the worker's
    // FOREMAN_HOME is an anonymous volume (one per replica), never the daemon's named one.
    const mounts = (svc: typeof worker) =>
      Object.fromEntries((svc!.volumes ?? []).map((v) => [v.target, { type: v.type, source: v.source ?? '' }]));
    const issuesPath = '/var/lib/foreman-issues';
    expect(mounts(foreman)[issuesPath]).toEqual({ type: 'volume', source: 'foreman-issues' });
    expect(mounts(worker)[issuesPath]).toEqual({ type: 'volume', source: 'foreman-issues' });
    expect(mounts(foreman)['/var/lib/foreman']).toEqual({ type: 'volume', source: 'foreman-home' });
    expect(mounts(worker)['/var/lib/foreman']).toEqual({ type: 'volume', source: '' });
    const { readFile } = await import('node:fs/promises');
    expect(await readFile(new URL('../../deploy/WORKFLOW.md', import.meta.url), 'utf8')).toMatch(
      new RegExp(`path: ${issuesPath}\\s`),
    );
    const scaled = await composeCheck(['docker-compose.yml'], { ...REQUIRED, FOREMAN_WORKERS: '5' });
    expect(scaled.project!.services['foreman-worker']!.deploy!.replicas).toBe(5);
  });

  it('passes GITHUB_TOKEN through only when it is set', async () => {
    const without = await composeCheck(['docker-compose.yml'], REQUIRED);
    expect(without.project!.services.foreman!.environment!.GITHUB_TOKEN ?? null).toBeNull();
    const withToken = await composeCheck(['docker-compose.yml'], { ...REQUIRED, GITHUB_TOKEN: 'ghp_test' });
    expect(withToken.project!.services.foreman!.environment!.GITHUB_TOKEN).toBe('ghp_test');
  });

  it('refuses to start without FOREMAN_REPO, naming it', async () => {
    const r = await composeCheck(['docker-compose.yml'], { FOREMAN_API_TOKEN: REQUIRED.FOREMAN_API_TOKEN });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/FOREMAN_REPO/);
  });

  it('refuses to start without FOREMAN_API_TOKEN, naming it', async () => {
    const r = await composeCheck(['docker-compose.yml'], { FOREMAN_REPO: REQUIRED.FOREMAN_REPO });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/FOREMAN_API_TOKEN/);
  });

  it('adds the SSH agent socket and known hosts with deploy/compose.ssh.yml, and needs SSH_AUTH_SOCK for it', async () => {
    const r = await composeCheck(['docker-compose.yml', 'deploy/compose.ssh.yml'], {
      ...REQUIRED,
      SSH_AUTH_SOCK: '/tmp/ssh-agent.sock',
      SSH_KNOWN_HOSTS: '/tmp/known_hosts',
    });
    expect(r.error).toBe('');
    for (const name of ['foreman', 'foreman-worker']) {
      const svc = r.project!.services[name]!;
      expect(svc.environment!.SSH_AUTH_SOCK).toBe('/run/ssh-agent.sock');
      const targets = (svc.volumes ?? []).map((v) => `${v.source}:${v.target}`);
      expect(targets).toContain('/tmp/ssh-agent.sock:/run/ssh-agent.sock');
      expect(targets).toContain('/tmp/known_hosts:/etc/ssh/ssh_known_hosts');
      // The override adds to the service's own mounts and environment, it does not replace them.
      expect(targets).toContain('foreman-issues:/var/lib/foreman-issues');
      expect(svc.environment!.TEMPORAL_ADDRESS).toBe('temporal:7233');
    }
    const missing = await composeCheck(['docker-compose.yml', 'deploy/compose.ssh.yml'], REQUIRED);
    expect(missing.ok).toBe(false);
    expect(missing.error).toMatch(/SSH_AUTH_SOCK/);
  });

  it('the checker rejects what the Compose schema forbids (so the checks above can fail)', async () => {
    const { writeFile, mkdtemp, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const os = await import('node:os');
    const dir = await mkdtemp(join(os.tmpdir(), 'compose-'));
    try {
      const file = join(dir, 'bad.yml');
      await writeFile(file, 'services:\n  a:\n    image: busybox\n    restart_policy_typo: always\n');
      const r = await composeCheck([file], {});
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/restart_policy_typo/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
