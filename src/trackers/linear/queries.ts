/**
 * The Linear tracker's GraphQL documents and the shapes of their answers. Each document asks only
 * for what normalization (./normalize.ts) or a write needs; an answer that does not match its
 * schema is `tracker_payload_invalid` (./client.ts `parse`).
 */
import { z } from 'zod';

/** Sub-connections (labels, relations) are fetched in one page of this size. */
const NESTED_PAGE_SIZE = 50;

// ---------------------------------------------------------------------------------------------
// GraphQL documents. Each asks only for what normalization needs.

/** What the trust rules read of a user (specs/trust.md). */
const USER_FIELDS = 'id name displayName guest app';

const ISSUE_FIELDS = `
      id
      identifier
      title
      description
      priority
      branchName
      url
      createdAt
      updatedAt
      state { name }
      team { id key }
      assignee { id email }
      creator { ${USER_FIELDS} }
      labels(first: ${NESTED_PAGE_SIZE}) { nodes { name } }
      inverseRelations(first: ${NESTED_PAGE_SIZE}) { nodes { type issue { id identifier state { name } } } }`;

export const ISSUES_QUERY = `query ForemanIssues($filter: IssueFilter, $first: Int, $after: String) {
  issues(filter: $filter, first: $first, after: $after) {
    nodes {${ISSUE_FIELDS}
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const WORKFLOW_STATES_QUERY = `query ForemanWorkflowStates($filter: WorkflowStateFilter, $first: Int, $after: String) {
  workflowStates(filter: $filter, first: $first, after: $after) {
    nodes { id name type team { id key } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const VIEWER_QUERY = `query ForemanViewer {
  viewer { id email }
}`;

/** A user's standing for `writeAccess` (specs/trust.md): guest/app flags and team memberships. */
export const USER_ACCESS_QUERY = `query ForemanUserAccess($id: String!) {
  user(id: $id) { id active guest app teams(first: 100) { nodes { key } } }
}`;

/** Who added which labels to an issue (its history), and the ids of its labels. */
export const LABEL_HISTORY_QUERY = `query ForemanLabelHistory($id: String!) {
  issue(id: $id) {
    id
    labels(first: ${NESTED_PAGE_SIZE}) { nodes { id name } }
    history(first: 100) { nodes { addedLabelIds actor { ${USER_FIELDS} } } }
  }
}`;

export const COMMENTS_QUERY = `query ForemanComments($filter: CommentFilter, $first: Int, $after: String) {
  comments(filter: $filter, first: $first, after: $after) {
    nodes { id body createdAt user { ${USER_FIELDS} } botActor { name } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** `COMMENTS_QUERY` with each comment's issue id, for comments on several issues at once. */
export const ISSUE_COMMENTS_QUERY = `query ForemanIssueComments($filter: CommentFilter, $first: Int, $after: String) {
  comments(filter: $filter, first: $first, after: $after) {
    nodes { id body createdAt user { ${USER_FIELDS} } botActor { name } issue { id } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const ISSUE_STATE_QUERY = `query ForemanIssueState($id: String!) {
  issue(id: $id) { id identifier state { id name } team { id key } }
}`;

export const ISSUE_UPDATE_MUTATION = `mutation ForemanIssueUpdate($id: String!, $input: IssueUpdateInput!) {
  issueUpdate(id: $id, input: $input) { success issue { id state { name } } }
}`;

export const COMMENT_CREATE_MUTATION = `mutation ForemanCommentCreate($input: CommentCreateInput!) {
  commentCreate(input: $input) { success comment { id } }
}`;

export const COMMENT_UPDATE_MUTATION = `mutation ForemanCommentUpdate($id: String!, $input: CommentUpdateInput!) {
  commentUpdate(id: $id, input: $input) { success comment { id } }
}`;

export const ATTACHMENTS_QUERY = `query ForemanAttachments($id: String!, $url: String!) {
  issue(id: $id) {
    id
    attachments(filter: { url: { eq: $url } }, first: 10) { nodes { id url title } }
  }
}`;

export const ATTACHMENT_LINK_MUTATION = `mutation ForemanAttachmentLinkUrl($issueId: String!, $url: String!, $title: String) {
  attachmentLinkURL(issueId: $issueId, url: $url, title: $title) { success attachment { id url } }
}`;

// ---------------------------------------------------------------------------------------------
// Response shapes (only what we select). Anything else is `tracker_payload_invalid`.

export const pageInfoSchema = z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullish() });
export const connectionSchema = z.object({ nodes: z.array(z.unknown()), pageInfo: pageInfoSchema });
export const workflowStateSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  type: z.string().nullish(),
  team: z.object({ id: z.string(), key: z.string() }).nullish(),
});
export const commentSchema = z.object({
  id: z.string().min(1),
  body: z.string(),
  createdAt: z.string(),
  user: z
    .object({
      id: z.string().nullish(),
      name: z.string().nullish(),
      displayName: z.string().nullish(),
      guest: z.boolean().nullish(),
      app: z.boolean().nullish(),
    })
    .nullish(),
  botActor: z.object({ name: z.string().nullish() }).nullish(),
});
export const issueStateSchema = z.object({
  issue: z.object({
    id: z.string().min(1),
    identifier: z.string(),
    state: z.object({ id: z.string(), name: z.string() }),
    team: z.object({ id: z.string().min(1), key: z.string() }),
  }),
});
export const mutationResultSchema = (root: string, child: string) =>
  z.object({ [root]: z.object({ success: z.boolean(), [child]: z.object({ id: z.string().min(1) }).nullish() }) });
export const attachmentsSchema = z.object({
  issue: z.object({
    id: z.string(),
    attachments: z.object({
      nodes: z.array(z.object({ id: z.string().min(1), url: z.string(), title: z.string().nullish() })),
    }),
  }),
});
/** A Linear user as `USER_FIELDS` selects it. */
export const userSchema = z.object({
  id: z.string().nullish(),
  name: z.string().nullish(),
  displayName: z.string().nullish(),
  guest: z.boolean().nullish(),
  app: z.boolean().nullish(),
});
export const userAccessSchema = z.object({
  user: z.object({
    id: z.string(),
    active: z.boolean().nullish(),
    guest: z.boolean().nullish(),
    app: z.boolean().nullish(),
    teams: z.object({ nodes: z.array(z.object({ key: z.string() })) }),
  }),
});
export const labelHistorySchema = z.object({
  issue: z.object({
    id: z.string(),
    labels: z.object({ nodes: z.array(z.object({ id: z.string(), name: z.string() })) }),
    history: z.object({
      nodes: z.array(z.object({ addedLabelIds: z.array(z.string()).nullish(), actor: userSchema.nullish() })),
    }),
  }),
});
export const viewerSchema = z.object({ viewer: z.object({ id: z.string().min(1), email: z.string().nullish() }) });

/** One workflow state as `WORKFLOW_STATES_QUERY` selects it. */
export type WorkflowStateNode = z.infer<typeof workflowStateSchema>;

export const TEAMS_QUERY = `query ForemanTeams($filter: TeamFilter, $first: Int, $after: String) {
  teams(filter: $filter, first: $first, after: $after) {
    nodes { id key }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const PROJECTS_QUERY = `query ForemanProjects($filter: ProjectFilter, $first: Int, $after: String) {
  projects(filter: $filter, first: $first, after: $after) {
    nodes { id }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const ISSUE_LABELS_QUERY = `query ForemanIssueLabels($filter: IssueLabelFilter, $first: Int, $after: String) {
  issueLabels(filter: $filter, first: $first, after: $after) {
    nodes { id name }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const ISSUE_LABEL_CREATE_MUTATION = `mutation ForemanIssueLabelCreate($input: IssueLabelCreateInput!) {
  issueLabelCreate(input: $input) { success issueLabel { id } }
}`;

export const ISSUE_CREATE_MUTATION = `mutation ForemanIssueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id } }
}`;

export const idNodeSchema = z.object({ id: z.string().min(1) });
export const teamSchema = z.object({ id: z.string().min(1), key: z.string() });
export const labelSchema = z.object({ id: z.string().min(1), name: z.string() });

/** What a Linear mutation payload carries (only the fields we select). */
export type MutationResult = {
  success: boolean;
  comment?: { id: string } | null;
  issue?: { id: string } | null;
  attachment?: { id: string } | null;
  issueLabel?: { id: string } | null;
};
