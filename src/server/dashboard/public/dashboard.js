// The dashboard page's script (docs/architecture.md, "Dashboard"). No framework, no build step.
// It reads the server's Server-Sent Events with fetch (so it can send the bearer token, which
// EventSource cannot) and swaps in the HTML fragments the server rendered and escaped; it never
// builds HTML from data itself (only textContent). The token the operator enters is kept in
// sessionStorage: for this tab only, gone when it closes.

const TOKEN_KEY = 'foreman.token';
const body = document.body;
const conn = document.getElementById('conn');
const tokenForm = document.getElementById('token-form');
let controller = null;
let retryTimer = null;

/** The `Authorization` header with the token the operator entered, if any (also used by metrics.js). */
export function authHeaders() {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? { authorization: `Bearer ${t}` } : {};
}

function setConn(text, state) {
  conn.textContent = text;
  conn.className = `conn ${state}`;
}

function askToken(message) {
  tokenForm.hidden = false;
  setConn(message, 'down');
}

tokenForm.addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, tokenForm.elements.token.value.trim());
  tokenForm.reset();
  tokenForm.hidden = true;
  connect();
});

function retryLater() {
  clearTimeout(retryTimer);
  setConn('reconnecting…', 'down');
  retryTimer = setTimeout(connect, 2000);
}

async function connect() {
  clearTimeout(retryTimer);
  controller?.abort();
  controller = new AbortController();
  let res;
  try {
    res = await fetch(body.dataset.stream, {
      headers: { accept: 'text/event-stream', ...authHeaders() },
      signal: controller.signal,
    });
  } catch {
    return retryLater();
  }
  if (res.status === 401) return askToken('This server needs its token.');
  if (!res.ok || !res.body) return retryLater();
  setConn('live', 'live');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch {
      break;
    }
    if (chunk.done) break;
    buf += chunk.value.replace(/\r\n/g, '\n');
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      onEvent(buf.slice(0, i));
      buf = buf.slice(i + 2);
    }
  }
  if (!controller.signal.aborted) retryLater();
}

function onEvent(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (!data.length) return;
  const payload = JSON.parse(data.join('\n'));
  if (event === 'fragments') apply(payload);
  else if (event === 'failure') setConn(`Temporal could not be read: ${payload.message}`, 'down');
}

/** Swaps in fragments, keeping what the operator typed (and the last answer's result) per question. */
function apply(fragments) {
  for (const [id, fragment] of Object.entries(fragments)) {
    const el = document.getElementById(id);
    if (!el) continue;
    const kept = new Map();
    for (const q of el.querySelectorAll('article.question')) {
      kept.set(q.dataset.key, {
        text: q.querySelector('textarea')?.value ?? '',
        result: q.querySelector('output')?.textContent ?? '',
        focused: q.contains(document.activeElement) && document.activeElement.tagName === 'TEXTAREA',
      });
    }
    el.innerHTML = fragment;
    for (const q of el.querySelectorAll('article.question')) {
      const k = kept.get(q.dataset.key);
      if (!k) continue;
      const area = q.querySelector('textarea');
      if (area) area.value = k.text;
      const out = q.querySelector('output');
      if (out) out.textContent = k.result;
      if (k.focused) area?.focus();
    }
  }
  document.dispatchEvent(new CustomEvent('foreman:fragments', { detail: Object.keys(fragments) }));
  updateTimes();
}

function formatAge(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

function updateTimes() {
  const now = Date.now();
  for (const t of document.querySelectorAll('time[data-age]')) {
    t.textContent = `${formatAge(now - Date.parse(t.dateTime))} ago`;
  }
  for (const t of document.querySelectorAll('time[data-until]')) {
    const left = Date.parse(t.dateTime) - now;
    t.textContent = left > 0 ? `in ${formatAge(left)}` : 'due now';
  }
}
setInterval(updateTimes, 1000);

async function sendAnswer(form, text) {
  const out = form.querySelector('output');
  const buttons = form.querySelectorAll('button');
  buttons.forEach((b) => (b.disabled = true));
  out.textContent = 'sending…';
  try {
    const res = await fetch(`/api/v1/${encodeURIComponent(form.dataset.identifier)}/answer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders() },
      body: JSON.stringify({ text, escalation: Number(form.dataset.escalation) }),
    });
    const reply = await res.json().catch(() => ({}));
    if (res.status === 401) askToken('This server needs its token.');
    out.textContent = res.ok ? `Sent: ${reply.line}` : `Not sent (${reply.error?.code}): ${reply.error?.message}`;
    out.className = res.ok ? 'result ok' : 'result bad';
    if (res.ok) form.querySelector('textarea').value = '';
  } catch (err) {
    out.textContent = `Not sent: ${err.message}`;
    out.className = 'result bad';
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

document.addEventListener('click', (e) => {
  const button = e.target.closest?.('button[data-answer]');
  if (button) sendAnswer(button.closest('form'), button.dataset.answer);
});
document.addEventListener('submit', (e) => {
  if (!e.target.matches('form.answer')) return;
  e.preventDefault();
  const text = e.target.elements.text.value.trim();
  if (text) sendAnswer(e.target, text);
});

connect();
