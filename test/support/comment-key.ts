/** A fixed comment key (src/trackers/marker.ts `CommentKey`) for tests that build trackers directly. */
export const TEST_COMMENT_KEY = '5'.repeat(64);
