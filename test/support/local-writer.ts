/**
 * A second Foreman process writing to a local-tracker folder (for the cross-process lock tests):
 * `tsx local-writer.ts <dir> <prefix> <count>` posts `count` keyed comments `<prefix>-<i>` on
 * DEMO-1 and moves the issue between two states after each, then exits 0.
 */
import { createLocalTracker } from '../../src/trackers/local/index.js';
import { TEST_COMMENT_KEY } from './comment-key.js';

const [dir, prefix, countText] = process.argv.slice(2);
const tracker = createLocalTracker({ path: dir!, commentKey: TEST_COMMENT_KEY });
for (let i = 0; i < Number(countText); i++) {
  await tracker.upsertComment('DEMO-1', `${prefix}-${i}`, `${prefix} comment ${i}`);
  await tracker.moveIssue('DEMO-1', i % 2 === 0 ? 'In Progress' : 'Todo');
}
