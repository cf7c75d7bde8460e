/**
 * Live test of the Linear tracker (src/trackers/linear.ts) against the real GraphQL API.
 *
 * Reads run with FOREMAN_LIVE=1, LINEAR_API_KEY and FOREMAN_LIVE_LINEAR_TEAM (a team key such as
 * `ENG`). Writes additionally need FOREMAN_LIVE_LINEAR_ISSUE (identifier of a scratch issue, e.g.
 * `ENG-123`); without it they report "skipped". Active states: FOREMAN_LIVE_LINEAR_ACTIVE_STATES,
 * comma-separated (default `Todo,In Progress`). The comments the writes create are deleted at the
 * end; nothing else is changed. How to run: specs/live-tests.md.
 *
 * Besides idempotency, this checks the adapter's one unverified assumption: that Linear stores a
 * comment body's HTML comment (`<!-- foreman:key=… -->`, the idempotency marker) as written.
 */
import { randomBytes } from 'node:crypto';
import { LinearClient } from '@linear/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrackerError } from '../../src/errors.js';
import { createLinearTracker, type LinearTracker } from '../../src/trackers/linear/index.js';
import type { Issue } from '../../src/trackers/types.js';
import { TEST_COMMENT_KEY } from '../support/comment-key.js';

const apiKey = process.env.LINEAR_API_KEY?.trim() ?? '';
const teamKey = process.env.FOREMAN_LIVE_LINEAR_TEAM?.trim() ?? '';
const issueIdentifier = process.env.FOREMAN_LIVE_LINEAR_ISSUE?.trim() ?? '';
const activeStates = (process.env.FOREMAN_LIVE_LINEAR_ACTIVE_STATES ?? 'Todo,In Progress')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '');
/** GraphQL endpoint. (Default: https://api.linear.app/graphql) */
const apiUrl = process.env.FOREMAN_LIVE_LINEAR_API_URL?.trim() || undefined;
const enabled = process.env.FOREMAN_LIVE === '1' && apiKey !== '' && teamKey !== '';
const writesEnabled = enabled && issueIdentifier !== '';

const TERMINAL = ['Done', 'Canceled', 'Cancelled', 'Duplicate'];
/** Unique per run, so parallel runs on one scratch issue never share a comment key. */
const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

function makeTracker(extra: { pageSize?: number; apiKey?: string } = {}): LinearTracker {
  return createLinearTracker({
    apiKey: extra.apiKey ?? apiKey,
    teamKey,
    ...(apiUrl !== undefined ? { apiUrl } : {}),
    activeStates,
    terminalStates: TERMINAL,
    commentKey: TEST_COMMENT_KEY,
    ...(extra.pageSize !== undefined ? { pageSize: extra.pageSize } : {}),
  });
}

/** A raw GraphQL call through the SDK's client; failures never carry the key. */
async function raw(
  client: LinearClient,
  what: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  try {
    const res = await client.client.rawRequest<Record<string, unknown>, Record<string, unknown>>(query, variables);
    return res.data ?? {};
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    // eslint-disable-next-line preserve-caught-error -- the cause would carry request details; the message is redacted instead
    throw new Error(`Linear ${what} failed: ${text.split(apiKey).join('[redacted]')}`);
  }
}

describe.skipIf(!enabled)(`live Linear: team ${teamKey || '(none)'}, reads`, () => {
  let tracker: LinearTracker;
  let active: Issue[] = [];

  beforeAll(() => {
    tracker = makeTracker();
  });

  it(`lists the team's issues in ${activeStates.join(', ')} (every page)`, async () => {
    active = await tracker.fetchIssuesByStates(activeStates);
    const wanted = new Set(activeStates.map((s) => s.toLowerCase()));
    for (const issue of active) {
      expect(issue.identifier.toUpperCase().startsWith(`${teamKey.toUpperCase()}-`)).toBe(true);
      expect(wanted.has(issue.state.toLowerCase())).toBe(true);
      expect(issue.id).not.toBe('');
      expect(issue.title).not.toBe('');
      expect(issue.url).toMatch(/^https:\/\//);
      expect(issue.native_ref).toMatchObject({ id: issue.id, identifier: issue.identifier });
    }
    // Small pages force the cursor path; the result must be the same set.
    const paged = await makeTracker({ pageSize: 5 }).fetchIssuesByStates(activeStates);
    expect(new Set(paged.map((i) => i.id))).toEqual(new Set(active.map((i) => i.id)));
  });

  it('fetches an issue by identifier and by id, and an unknown identifier as null', async () => {
    const identifier = issueIdentifier || active[0]?.identifier;
    if (identifier !== undefined) {
      const issue = await tracker.fetchIssueByIdentifier(identifier);
      expect(issue, `${identifier} should be visible in team ${teamKey}`).not.toBeNull();
      expect(issue!.identifier.toLowerCase()).toBe(identifier.toLowerCase());
      expect((await tracker.fetchIssueByIdentifier(identifier.toLowerCase()))?.id).toBe(issue!.id);
      const byId = await tracker.fetchIssuesByIds([issue!.id]);
      expect(byId.map((i) => i.identifier)).toEqual([issue!.identifier]);
    }
    expect(await tracker.fetchIssueByIdentifier(`${teamKey}-999999999`)).toBeNull();
  });

  it('maps a rejected API key to tracker_unauthorized without echoing it', async () => {
    const bad = `lin_api_foremanLiveInvalid${randomBytes(12).toString('hex')}`;
    const err = await makeTracker({ apiKey: bad })
      .fetchIssuesByStates(activeStates)
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(TrackerError);
    expect((err as TrackerError).code).toBe('tracker_unauthorized');
    expect((err as TrackerError).retryable).toBe(false);
    expect((err as TrackerError).message).not.toContain(bad);
  });
});

describe.skipIf(!writesEnabled)(`live Linear: comments on ${issueIdentifier || '(no scratch issue)'}`, () => {
  let tracker: LinearTracker;
  let client: LinearClient;
  let issue: Issue;
  const createdCommentIds: string[] = [];

  beforeAll(async () => {
    tracker = makeTracker();
    client = new LinearClient({ apiKey, ...(apiUrl !== undefined ? { apiUrl } : {}) });
    const found = await tracker.fetchIssueByIdentifier(issueIdentifier);
    if (found === null)
      throw new Error(
        `FOREMAN_LIVE_LINEAR_ISSUE ${issueIdentifier} is not an issue of team ${teamKey} visible to the key`,
      );
    issue = found;
  }, 60_000);

  afterAll(async () => {
    const problems: string[] = [];
    for (const id of createdCommentIds) {
      try {
        const data = await raw(
          client,
          `deleting comment ${id}`,
          'mutation ForemanLiveCommentDelete($id: String!) { commentDelete(id: $id) { success } }',
          { id },
        );
        const res = data.commentDelete as { success?: boolean } | undefined;
        if (res?.success !== true) problems.push(`deleting comment ${id}: success was not true`);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    if (problems.length > 0)
      throw new Error(`Live Linear cleanup left comments on ${issueIdentifier}:\n${problems.join('\n')}`);
  }, 60_000);

  const rawBody = async (id: string): Promise<string> => {
    const data = await raw(
      client,
      `reading comment ${id}`,
      'query ForemanLiveComment($id: String!) { comment(id: $id) { id body } }',
      { id },
    );
    const comment = data.comment as { body?: unknown } | null | undefined;
    if (typeof comment?.body !== 'string') throw new Error(`Linear comment ${id} came back without a body`);
    return comment.body;
  };

  it('upserts a keyed comment idempotently: one comment, updated in place', async () => {
    const key = `live-test-${runId}`;
    const first = await tracker.upsertComment(issue.id, key, `Foreman live test ${runId}: first body`);
    expect(first.created).toBe(true);
    createdCommentIds.push(first.id);

    const second = await tracker.upsertComment(issue.id, key, `Foreman live test ${runId}: second body`);
    expect(second).toEqual({ id: first.id, created: false });
    const third = await tracker.upsertComment(issue.id, key, `Foreman live test ${runId}: second body`);
    expect(third).toEqual({ id: first.id, created: false });

    const mine = (await tracker.fetchComments(issue.id)).filter((c) => c.key === key);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      id: first.id,
      by_foreman: true,
      author: 'foreman',
      body: `Foreman live test ${runId}: second body`,
    });
  });

  it('keeps the hidden <!-- foreman:key=… --> marker verbatim in the stored body, on create and on update', async () => {
    const key = `live-marker-${runId}`;
    const marker = `<!-- foreman:key=${key} -->`;
    const created = await tracker.upsertComment(issue.id, key, 'Marker check: created.');
    expect(created.created).toBe(true);
    createdCommentIds.push(created.id);

    // The adapter tolerates escaped forms (&lt;!-- , \<!--); this asserts Linear needs none of that.
    const afterCreate = await rawBody(created.id);
    expect(afterCreate, 'Linear changed the marker on commentCreate').toContain(marker);
    expect(afterCreate).toContain('Marker check: created.');

    const updated = await tracker.upsertComment(issue.id, key, 'Marker check: updated.');
    expect(updated).toEqual({ id: created.id, created: false });
    const afterUpdate = await rawBody(created.id);
    expect(afterUpdate, 'Linear changed the marker on commentUpdate').toContain(marker);
    expect(afterUpdate).toContain('Marker check: updated.');

    const seen = (await tracker.fetchComments(issue.id)).find((c) => c.id === created.id);
    expect(seen).toMatchObject({ key, by_foreman: true, body: 'Marker check: updated.' });
  });
});
