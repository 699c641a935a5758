/**
 * providers/ — storage backends behind one small interface (types.ts). A provider stores opaque
 * immutable objects under keys chosen by raic; it knows nothing of shares, crypto or layout.
 * `openProvider(url)` (registry.ts) is the only way the layers above obtain one; `withRetry` wraps
 * one with timeouts, retries and backoff. `credentialVariables(scheme)` names the environment
 * variables a scheme's adapter reads, without loading it.
 */
export type { Provider, ProviderCapabilities, ByteRange, CallOptions, ObjectInfo, ProviderFactory } from './types.js';
export { MAX_OBJECT_BYTES } from './types.js';
export { credentialVariables, openProvider, supportedSchemes } from './registry.js';
export { withRetry, type RetryPolicy } from './retry.js';
