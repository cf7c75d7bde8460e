/**
 * The trust rules (specs/trust.md): who may start work, answer an escalation and approve. One
 * `TrustGate` per tracker serves every path — the webhook router, the dispatcher's poll and
 * reconcile, local files — so the rules cannot drift apart. Permission look-ups the tracker
 * answers (`Tracker.writeAccess`, `Tracker.labelAppliers`) are cached for `trust.cache_ms`.
 */
import type { Policy } from '../config/schema.js';
import type { Issue, Tracker, TrackerUser } from '../trackers/types.js';

/**
 * GitHub `author_association` values of people with write access to the repository (owner,
 * organization member, collaborator). Source: GitHub REST docs "author_association"; specs/trust.md.
 */
export const TRUSTED_GITHUB_ASSOCIATIONS: ReadonlySet<string> = new Set(['OWNER', 'MEMBER', 'COLLABORATOR']);

/** Roles that are never trusted by the tracker rule (`trust.users` still can): Linear guests. */
const UNTRUSTED_ROLES: ReadonlySet<string> = new Set(['GUEST']);

/** Entries kept per cache before it is emptied (a bound, not an eviction policy). */
const MAX_CACHED = 2000;

/** Longest reuse of a label-applier look-up, ms (see `TrustGate.appliers`). */
const APPLIERS_TTL_MS = 60_000;

/** The decision for one issue: may it start, and if not, why (shown in `foreman status`). */
export type StartDecision = { trusted: true } | { trusted: false; reason: string };

/** Options of `TrustGate`. */
export interface TrustGateOptions {
  /** The policy's `trust` section. */
  trust: Policy['trust'];
  /** `tracker.required_labels`: the labels that let an untrusted author's issue start (else `trust.start_label`). */
  requiredLabels: string[];
  /** The tracker: its `kind`, and the optional `writeAccess` / `labelAppliers` look-ups. */
  tracker: Pick<Tracker, 'kind' | 'writeAccess' | 'labelAppliers'>;
  /** Clock for the cache, epoch ms. (Default: Date.now) */
  now?: () => number;
}

/** Case-insensitive membership of a user (id or name) in a policy list. */
function listed(list: readonly string[], user: TrackerUser): boolean {
  const names = new Set([user.id, user.name].map((n) => n.trim().toLowerCase()).filter((n) => n !== ''));
  return list.some((entry) => names.has(entry.trim().toLowerCase()));
}

/**
 * Applies the trust rules of specs/trust.md for one tracker and policy. Cheap to build; keep one
 * per tracker to reuse its permission cache (`trustGateFor`).
 */
export class TrustGate {
  private trust: Policy['trust'];
  private requiredLabels: string[];
  private readonly tracker: TrustGateOptions['tracker'];
  private readonly now: () => number;
  private readonly access = new Map<string, { at: number; value: Promise<boolean> }>();
  /**
   * Label appliers by issue id, label and `updated_at` (a label change updates the issue), kept
   * at most `APPLIERS_TTL_MS` (trackers report `updated_at` to the second, so two label changes
   * within one second share a key).
   */
  private readonly appliers = new Map<string, { at: number; value: Promise<TrackerUser[]> }>();

  constructor(opts: TrustGateOptions) {
    this.trust = opts.trust;
    this.requiredLabels = opts.requiredLabels;
    this.tracker = opts.tracker;
    this.now = opts.now ?? Date.now;
  }

  /** Takes a reloaded policy's `trust` and required labels (the permission cache is kept). */
  update(trust: Policy['trust'], requiredLabels: string[]): void {
    this.trust = trust;
    this.requiredLabels = requiredLabels;
  }

  /** The policy's `trust` section the gate applies. */
  get policy(): Policy['trust'] {
    return this.trust;
  }

  /** The tracker kind the gate decides for (`local`, `linear`, `github`). */
  get kind(): string {
    return this.tracker.kind;
  }

  /** The label a trusted person must apply to let an untrusted author's issue start. */
  get startLabel(): string {
    return this.requiredLabels.find((l) => l.trim() !== '') ?? this.trust.start_label;
  }

  /**
   * True when `user` may answer an escalation (and start work): local tracker; listed in
   * `trust.users`; else not a bot or guest, and a trusted GitHub association or write access
   * per `Tracker.writeAccess` (cached for `trust.cache_ms`). Unknown user → false. A failed
   * look-up counts as untrusted and is not cached (the next call asks again).
   */
  async mayAnswer(user: TrackerUser | null | undefined): Promise<boolean> {
    if (this.tracker.kind === 'local') return true;
    if (!user || (user.id.trim() === '' && user.name.trim() === '')) return false;
    if (listed(this.trust.users, user)) return true;
    if (user.bot) return false;
    const role = user.role?.toUpperCase() ?? null;
    if (role !== null && UNTRUSTED_ROLES.has(role)) return false;
    if (this.tracker.kind === 'github' && role !== null && TRUSTED_GITHUB_ASSOCIATIONS.has(role)) return true;
    if (!this.tracker.writeAccess) return false;
    return this.cachedAccess(user);
  }

  /** True when `user` may approve: listed in `trust.approvers` when it is set, else `mayAnswer`. */
  async mayApprove(user: TrackerUser | null | undefined): Promise<boolean> {
    if (this.trust.approvers.length > 0) return !!user && listed(this.trust.approvers, user);
    return this.mayAnswer(user);
  }

  /**
   * Whether `issue` may start: its author may answer, or a trusted person applied the start label
   * (`startLabel`) and the issue still carries it. Otherwise a reason naming the author and label.
   * A failed look-up of the label's appliers counts as not applied (the next tick asks again).
   */
  async mayStart(issue: Issue): Promise<StartDecision> {
    if (await this.mayAnswer(issue.author)) return { trusted: true };
    const label = this.startLabel;
    const carries = issue.labels.some((l) => l.trim().toLowerCase() === label.trim().toLowerCase());
    if (carries && this.tracker.labelAppliers) {
      for (const u of await this.labelAppliers(issue, label)) if (await this.mayAnswer(u)) return { trusted: true };
    }
    const who = issue.author?.name || 'unknown';
    return {
      trusted: false,
      reason: `author ${who} is not trusted; a trusted person must apply the label "${label}"`,
    };
  }

  private labelAppliers(issue: Issue, label: string): Promise<TrackerUser[]> {
    const key = `${issue.id}\0${label.toLowerCase()}\0${issue.updated_at ?? ''}`;
    const t = this.now();
    let hit = this.appliers.get(key);
    if (!hit || t - hit.at >= Math.min(this.trust.cache_ms, APPLIERS_TTL_MS)) {
      if (this.appliers.size >= MAX_CACHED) this.appliers.clear();
      const entry = { at: t, value: this.tracker.labelAppliers!(issue, label) };
      this.appliers.set(key, entry);
      entry.value.catch(() => {
        if (this.appliers.get(key) === entry) this.appliers.delete(key);
      });
      hit = entry;
    }
    return hit.value.catch(() => [] as TrackerUser[]);
  }

  private cachedAccess(user: TrackerUser): Promise<boolean> {
    const key = user.id.toLowerCase();
    const t = this.now();
    const hit = this.access.get(key);
    if (hit && t - hit.at < this.trust.cache_ms) return hit.value;
    if (this.access.size >= MAX_CACHED) this.access.clear();
    // The cached promise never rejects: a failure answers false to every waiting caller and is
    // forgotten, so the next call asks again.
    const entry: { at: number; value: Promise<boolean> } = { at: t, value: Promise.resolve(false) };
    entry.value = this.tracker.writeAccess!(user).catch(() => {
      if (this.access.get(key) === entry) this.access.delete(key);
      return false;
    });
    this.access.set(key, entry);
    return entry.value;
  }
}

const gates = new WeakMap<object, TrustGate>();

/**
 * The `TrustGate` of `tracker` under `policy` (one per tracker object, so its permission cache
 * outlives a dispatcher tick; a reloaded policy's `trust` section is applied to it).
 */
export function trustGateFor(
  tracker: TrustGateOptions['tracker'],
  policy: Pick<Policy, 'trust' | 'tracker'>,
): TrustGate {
  let gate = gates.get(tracker);
  if (!gate) {
    gate = new TrustGate({ trust: policy.trust, requiredLabels: policy.tracker.required_labels, tracker });
    gates.set(tracker, gate);
  } else gate.update(policy.trust, policy.tracker.required_labels);
  return gate;
}

/** A comment author as the trust rules see them, when the tracker did not say (name only, unknown role). */
export function userOf(comment: { author: string; author_user?: TrackerUser | null }): TrackerUser {
  return comment.author_user ?? { id: comment.author, name: comment.author, role: null, bot: false };
}
