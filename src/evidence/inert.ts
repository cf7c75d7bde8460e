/**
 * Text Foreman did not write (a model's words, tracker text) made inert before it goes into a
 * comment or pull-request body Foreman posts (docs/architecture.md, "Untrusted text"): no images,
 * no raw HTML (no `<details>` that swallows the rest), no `foreman:key=` in any form (so no forged
 * `<!-- foreman:key=… -->` marker, not even HTML-escaped or in code), no headings (also after list or
 * quote markers), thematic breaks or reference definitions that could forge a section, links
 * live only when they point into the tracker's or the repository's own URL space, bare URLs and
 * autolinks shown as code, code blocks re-fenced with a fence longer than any backtick run inside.
 * Also the delimiting of tracker text for the model (`untrustedBlock`).
 *
 * Owns those rules, as pure functions; one place used by every renderer (src/evidence/render.ts,
 * src/evidence/escalation.ts, the PR body in activities/scm.ts). Does not own where the allowed
 * URL prefixes come from beyond `linkPrefixes` (the policy's tracker and scm sections).
 */

/** URL prefixes (`https://github.com/acme/app/`) whose links stay clickable; anything else is shown as text. */
export type LinkPrefixes = readonly string[];

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const CODE_SPAN_OR_RUN = /(`+)([\s\S]*?[^`])\1(?!`)|`+/y;
/** `![alt](url)` / `[text](url)` / `[text](<url> "title")`, one line. */
const LINK = /(!?)\[([^\]\n]*)\]\(\s*<?([^\s<>()]*)>?(?:\s+(?:"[^"\n]*"|'[^'\n]*'))?\s*\)/y;
const BARE_URL = /(?:https?:\/\/|www\.)[^\s<>`]+/iy;
const MD_PUNCT = /[\\[\]!*_~|]/g;
/** What may precede a reference definition on its line: indentation and block markers (quote, list item). */
const DEFINITION_START = /^(?:[ \t]*(?:>|[-*+]|\d{1,9}[.)])(?=[ \t]|$))*[ \t]*$/;

/**
 * Markdown text made inert for a comment or pull-request body; see the module doc for the rules.
 * `prefixes` are the URL prefixes whose links stay clickable (case-insensitive on scheme and host);
 * empty: no link stays clickable. Pure; never throws.
 */
export function inertMarkdown(text: string, prefixes: LinkPrefixes = []): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(lines[i]!);
    if (open) {
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length; j++) {
        const close = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(lines[j]!);
        if (close && close[1]![0] === open[1]![0] && close[1]!.length >= open[1]!.length) break;
        body.push(lines[j]!);
      }
      const lang = /^[\w+.-]*/.exec(open[2]!.trim())![0];
      out.push(safeFence(body.join('\n'), lang));
      i = j;
      continue;
    }
    out.push(inertLine(lines[i]!, prefixes));
  }
  return breakMarkers(out.join('\n'));
}

/**
 * `inertMarkdown` on one line: newlines and other line breaks become spaces (titles, names, table
 * cells). The result is always one line: text that starts like a code fence is escaped, never
 * re-fenced (a fence in a one-line place would open a block that swallows the rest of the comment).
 */
export function inertInline(text: string, prefixes: LinkPrefixes = []): string {
  const line = text.replace(/\s*[\r\n\u2028\u2029\v\f]+\s*/g, ' ').trim();
  // inertLine escapes a backtick run that closes nothing; a leading `~~~` would still open a fence.
  return breakMarkers(inertLine(line.replace(/^~/, '\\~'), prefixes));
}

/**
 * `text` with every `foreman:key=` broken (a zero-width space before `=`), so no form of it (raw,
 * HTML- or Markdown-escaped, inside code) reads as Foreman's comment marker (src/trackers/marker.ts).
 */
export function breakMarkers(text: string): string {
  return text.replace(/foreman:key=/gi, 'foreman:key\u200b=');
}

/**
 * `label` followed by inert Markdown `md` (from {@link inertMarkdown}): on the same line when `md` is
 * one line, else after a blank line, so its lines (a fenced block, HTML it escaped) start lines of
 * their own instead of continuing the label's paragraph, where a fence does not open and a line
 * the fence was to hold would render as raw HTML.
 */
export function afterLabel(label: string, md: string): string {
  return md.includes('\n') ? `${label}\n\n${md}` : `${label} ${md}`;
}

/** A fenced code block whose backtick fence is longer than any backtick run inside `text` (at least 3). */
export function safeFence(text: string, lang = ''): string {
  const f = '`'.repeat(longestRun(text, '`', 2) + 1);
  return `${f}${lang}\n${text.replace(/\n+$/, '')}\n${f}`;
}

/**
 * Tracker text (an issue's title, description or a comment) delimited for the model: an XML-ish
 * `<untrusted_tracker_text source="…">` block with `&`, `<` and `>` escaped inside, so the text cannot
 * close the block or open another. The system prompts say what such blocks are (src/agents/roles.ts).
 */
export function untrustedBlock(source: string, text: string): string {
  return `<untrusted_tracker_text source="${escapeAttr(source)}">\n${escapeXml(text.trim())}\n</untrusted_tracker_text>`;
}

/**
 * A human's answer to an escalation, delimited for the model as `<human_answer author="…" source="…">`
 * (text escaped like `untrustedBlock`): guidance from a trusted person, kept distinct from tracker text.
 */
export function humanAnswerBlock(author: string, source: string, text: string): string {
  return `<human_answer author="${escapeAttr(author)}" source="${escapeAttr(source)}">\n${escapeXml(text.trim())}\n</human_answer>`;
}

/** `untrustedBlock` on one line (a title): line breaks become spaces. */
export function untrustedInline(source: string, text: string): string {
  const line = escapeXml(text.replace(/\s+/g, ' ').trim());
  return `<untrusted_tracker_text source="${escapeAttr(source)}">${line}</untrusted_tracker_text>`;
}

/**
 * The link prefixes the policy allows: the GitHub repository Foreman works in (`scm.github.repo`,
 * or the GitHub tracker's `repo`, on github.com or the host of `base_url`/`endpoint`) and the
 * tracker's own site (Linear: `https://linear.app/`). A local tracker adds none.
 */
export function linkPrefixes(policy: {
  tracker: { kind: string; provider: Record<string, unknown> };
  scm: { github: { repo?: string | undefined; base_url?: string | undefined } };
}): string[] {
  const p = policy.tracker.provider;
  const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
  const github = policy.tracker.kind === 'github';
  const out = new Set<string>();
  const webHost = (api: string | undefined) => {
    if (!api) return 'github.com';
    try {
      const host = new URL(api).hostname.toLowerCase();
      return host === 'api.github.com' ? 'github.com' : host;
    } catch {
      return 'github.com';
    }
  };
  const add = (slug: string | undefined, api: string | undefined) => {
    const m = slug ? /^(?:https?:\/\/[^/]+\/)?([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(slug) : null;
    if (m) out.add(`https://${webHost(api)}/${m[1]}/${m[2]}/`.toLowerCase());
  };
  if (github)
    add(
      str(p.repo) ?? (str(p.owner) ? `${str(p.owner)}/${str(p.repo)}` : undefined),
      str(p.endpoint) ?? str(p.base_url),
    );
  add(
    policy.scm.github.repo,
    policy.scm.github.base_url ?? (github ? (str(p.endpoint) ?? str(p.base_url)) : undefined),
  );
  if (policy.tracker.kind === 'linear') out.add('https://linear.app/');
  return [...out];
}

/** True when `url` starts with one of `prefixes` (scheme and host case-insensitive) and has no userinfo. */
export function linkAllowed(url: string, prefixes: LinkPrefixes): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username || parsed.password || !/^https?:$/.test(parsed.protocol)) return false;
  const normal = `${parsed.protocol}//${parsed.host.toLowerCase()}${parsed.pathname}`;
  return prefixes.some((p) => {
    const prefix = p.toLowerCase();
    return (normal.toLowerCase() + (normal.endsWith('/') ? '' : '/')).startsWith(prefix);
  });
}

// ─── One line outside code blocks ────────────────────────────────────────────────────────────────

function inertLine(line: string, prefixes: LinkPrefixes): string {
  let s = line;
  // Block structure that could forge a section (reference definitions are handled below).
  s = s.replace(/^((?:[ \t]*(?:>|[-*+]|\d{1,9}[.)])(?=[ \t]|$))*[ \t]*)(#{1,6}(?=[ \t]|$))/, '$1\\$2');
  if (/^ {0,3}([-=*_])[ \t]*(?:\1[ \t]*)*$/.test(s) && s.trim() !== '') s = s.replace(/^( *)/, '$1\\');
  let out = '';
  let i = 0;
  while (i < s.length) {
    const ch = s[i]!;
    if (ch === '`') {
      CODE_SPAN_OR_RUN.lastIndex = i;
      const m = CODE_SPAN_OR_RUN.exec(s)!;
      out += m[1] ? m[0] : m[0].replace(/`/g, '\\`');
      i += m[0].length;
      continue;
    }
    if (ch === '[' || (ch === '!' && s[i + 1] === '[')) {
      LINK.lastIndex = i;
      const m = LINK.exec(s);
      if (m) {
        out += link(m[1] === '!', m[2]!, m[3]!, prefixes);
        i += m[0].length;
        continue;
      }
      // `![` never starts an image; a `[` that opens no link is escaped where it could start a
      // reference definition (only block markers before it on the line), so none is defined.
      const escape = ch === '!' || DEFINITION_START.test(s.slice(0, i));
      out += ch === '!' ? '!\\[' : escape ? '\\[' : '[';
      i += ch === '!' ? 2 : 1;
      continue;
    }
    if (/[hHwW]/.test(ch) && (i === 0 || !/[\w/]/.test(s[i - 1]!))) {
      BARE_URL.lastIndex = i;
      const m = BARE_URL.exec(s);
      if (m) {
        const url = m[0].replace(/[.,;:!?'")\]*_~]+$/, '');
        out += linkAllowed(url, prefixes) ? url : code(url);
        i += url.length;
        continue;
      }
    }
    out += ch === '<' ? '&lt;' : ch;
    i++;
  }
  return out;
}

/** A link kept when its URL is allowed; an image never: both shown as text with the URL as code. */
function link(image: boolean, text: string, url: string, prefixes: LinkPrefixes): string {
  const label = escapeXml(text).replace(MD_PUNCT, (c) => `\\${c}`);
  if (!image && linkAllowed(url, prefixes)) return `[${label}](${url})`;
  const shown = url ? ` (${code(url)})` : '';
  return image ? `image${label ? ` "${label}"` : ''}${shown}` : `${label}${shown}`;
}

function code(text: string): string {
  const f = '`'.repeat(longestRun(text, '`', 0) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${f}${pad}${text}${pad}${f}`;
}

function longestRun(text: string, ch: string, min: number): number {
  let best = min;
  for (const m of text.matchAll(new RegExp(`${ch === '`' ? '`' : ch}+`, 'g'))) best = Math.max(best, m[0].length);
  return best;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttr(s: string): string {
  return escapeXml(s.replace(/\s+/g, ' ')).replace(/"/g, '&quot;');
}
