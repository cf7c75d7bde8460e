/** The local tracker's public surface. */
export { createLocalTracker, type LocalTracker, type LocalTrackerOptions } from './adapter.js';
export { FOREMAN_AUTHOR, HUMAN_AUTHOR } from './comments.js';
