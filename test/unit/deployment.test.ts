/** Deployment keys (src/deployment.ts): derived from the tracker identity, id-safe, or explicit. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePolicyText } from '../../src/config/load.js';
import { DEPLOYMENT_KEY_PATTERN } from '../../src/config/schema.js';
import { deploymentOf, deploymentQuery, trackerIdentity } from '../../src/deployment.js';
import { PolicyError } from '../../src/errors.js';

const policy = (front: string, dir = '/srv/proj') =>
  parsePolicyText(`---\n${front}\n---\nWork.\n`, { file: path.join(dir, 'WORKFLOW.md'), env: {} });

describe('deployment keys', () => {
  it('GitHub: the repository, whichever way it is written', () => {
    const slug = deploymentOf(policy('tracker: { kind: github, provider: { repo: Acme/App } }'));
    const url = deploymentOf(policy('tracker: { kind: github, provider: { repo: "https://github.com/acme/app" } }'));
    const split = deploymentOf(policy('tracker: { kind: github, provider: { owner: acme, repo: app } }'));
    expect(slug.key).toMatch(/^app-[0-9a-f]{8}$/);
    expect(url.key).toBe(slug.key);
    expect(split.key).toBe(slug.key);
    expect(deploymentOf(policy('tracker: { kind: github, provider: { repo: acme/other } }')).key).not.toBe(slug.key);
  });

  it('Linear: team and project', () => {
    const team = deploymentOf(policy('tracker: { kind: linear, provider: { team_key: ENG } }'));
    const project = deploymentOf(policy('tracker: { kind: linear, provider: { team_key: ENG, project_slug: shop } }'));
    expect(team.key).toMatch(/^eng-[0-9a-f]{8}$/);
    expect(project.key).toMatch(/^eng-shop-[0-9a-f]{8}$/);
  });

  it('local: the real path of the issues folder (a symlink to it is the same deployment)', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'foreman-dep-'));
    try {
      await fs.mkdir(path.join(dir, 'a', 'issues'), { recursive: true });
      await fs.mkdir(path.join(dir, 'b', 'issues'), { recursive: true });
      await fs.symlink(path.join(dir, 'a', 'issues'), path.join(dir, 'link'));
      const a = deploymentOf(policy('tracker: { kind: local }', path.join(dir, 'a')));
      const b = deploymentOf(policy('tracker: { kind: local }', path.join(dir, 'b')));
      const viaLink = deploymentOf(policy(`tracker: { kind: local, provider: { path: ${dir}/link } }`, dir));
      expect(a.key).toMatch(/^a-issues-[0-9a-f]{8}$/);
      expect(b.key).not.toBe(a.key);
      expect(viaLink.key).toBe(a.key);
      // Not created yet: the same key it will have once created (the symlinked parent resolved).
      const before = deploymentOf(policy(`tracker: { kind: local, provider: { path: ${dir}/link/new } }`, dir)).key;
      await fs.mkdir(path.join(dir, 'a', 'issues', 'new'));
      expect(deploymentOf(policy(`tracker: { kind: local, provider: { path: ${dir}/link/new } }`, dir)).key).toBe(
        before,
      );
      expect(trackerIdentity(policy('tracker: { kind: local }', path.join(dir, 'a')))).toBe(
        `local:${await fs.realpath(path.join(dir, 'a', 'issues'))}`,
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('every derived key is id-safe, and the task queue carries it', () => {
    const weird = deploymentOf(policy('tracker: { kind: local, provider: { path: "./ü \' x/\\"q" } }'));
    expect(weird.key).toMatch(DEPLOYMENT_KEY_PATTERN);
    expect(weird).toMatchObject({ taskQueue: `foreman-${weird.key}`, legacyTaskQueue: 'foreman' });
  });

  it('temporal.deployment wins, and a key that is not id-safe is a policy error', () => {
    const d = deploymentOf(policy('tracker: { kind: local }\ntemporal: { deployment: team-a, task_queue: q }'));
    expect(d).toEqual({ key: 'team-a', taskQueue: 'q-team-a', legacyTaskQueue: 'q' });
    expect(() => policy('temporal: { deployment: "a\' OR 1=1" }')).toThrow(PolicyError);
  });

  it('the visibility clause takes the key, and legacy runs on the bare queue only', () => {
    expect(deploymentQuery({ key: 'k-1', legacyTaskQueue: null })).toBe("ForemanDeployment = 'k-1'");
    expect(deploymentQuery({ key: 'k-1', legacyTaskQueue: "it's" })).toBe(
      "(ForemanDeployment = 'k-1' OR (ForemanDeployment IS NULL AND TaskQueue = 'it\\'s'))",
    );
  });
});
