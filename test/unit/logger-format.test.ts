/**
 * The log format (src/logger.ts): pretty for a person at a terminal, JSON for machines, with the
 * `FOREMAN_LOG_FORMAT` override; pretty lines are redacted like JSON ones.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, logFormat } from '../../src/logger.js';

/** A destination that keeps what is written. */
function capture() {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { sink, text: () => text };
}

describe('log format', () => {
  it('is pretty on a terminal and JSON otherwise, unless FOREMAN_LOG_FORMAT says', () => {
    expect(logFormat({}, true)).toEqual({ format: 'pretty', warning: null });
    expect(logFormat({}, false)).toEqual({ format: 'json', warning: null });
    expect(logFormat({ FOREMAN_LOG_FORMAT: 'json' }, true).format).toBe('json');
    expect(logFormat({ FOREMAN_LOG_FORMAT: ' Pretty ' }, false).format).toBe('pretty');
    const typo = logFormat({ FOREMAN_LOG_FORMAT: 'jsno' }, false);
    expect(typo.format).toBe('json');
    expect(typo.warning).toMatch(/FOREMAN_LOG_FORMAT must be "json" or "pretty", not "jsno"/);
  });

  it('writes one readable, redacted line per entry when pretty, JSON lines otherwise', () => {
    const secret = `ghp_${'a1B2'.repeat(9)}`;
    const pretty = capture();
    const log = createLogger({ FOREMAN_LOG_FORMAT: 'pretty', FOREMAN_LOG_LEVEL: 'info' }, pretty.sink);
    log.info({ event: 'dispatched', issue_id: 'id-1', issue_identifier: 'DEMO-1', title: secret }, 'dispatched');
    const lines = pretty.text().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/INFO.*dispatched/);
    expect(lines[0]).toContain('"issue_identifier":"DEMO-1"');
    expect(lines[0]).not.toContain(secret);
    expect(() => JSON.parse(lines[0]!)).toThrow();

    const json = capture();
    createLogger({ FOREMAN_LOG_LEVEL: 'info' }, json.sink).info({ issue_identifier: 'DEMO-1', title: secret }, 'x');
    const entry = JSON.parse(json.text().trim()) as Record<string, unknown>;
    expect(entry).toMatchObject({ msg: 'x', issue_identifier: 'DEMO-1' });
    expect(json.text()).not.toContain(secret);

    const warned = capture();
    createLogger({ FOREMAN_LOG_FORMAT: 'yaml' }, warned.sink);
    expect(JSON.parse(warned.text().trim()).msg).toMatch(/FOREMAN_LOG_FORMAT/);
  });
});
