/** The Linear tracker's public surface: the adapter, its options and the policy reader. */
export {
  createLinearTracker,
  linearTrackerFromPolicy,
  type LinearTracker,
  type LinearTrackerOptions,
  type LinkedAttachment,
} from './adapter.js';
export type { LinearRateLimitedError, LinearTrackerLog } from './client.js';
export {
  LINEAR_API_KEY_ENV,
  LINEAR_DEFAULT_ENDPOINT,
  linearOptionsFromPolicy,
  type LinearTrackerPolicy,
} from './policy.js';
