/** Resolving what the user names — a snapshot id prefix, "latest", or a tree capability — to its manifest. */
import { RaicError } from '../errors.js';
import { parseCapability, type ManifestRoot, type RaicArray, type RepoKeys } from '../store/index.js';
import { findRecord, readCatalog, type CatalogRecord } from './catalog.js';
import { loadManifest } from './get.js';
import type { FirstListings } from './open-array.js';

export const isCapability = (ref: string): boolean => ref.startsWith('raic:');

/** What resolving and reading `ref` lists first (openConfiguredArray's firstListings): a capability needs no key or catalog. */
export function listingsToRead(ref: string): FirstListings {
  return isCapability(ref) ? 'forwards' : 'read';
}

/** `unlock` is called only when the reference is not a capability (capabilities need no passphrase). */
export async function resolveSnapshot(
  array: RaicArray,
  ref: string,
  unlock: () => Promise<RepoKeys>,
  filter: { host?: string | undefined } = {},
): Promise<{ root: ManifestRoot; record: CatalogRecord | null }> {
  if (isCapability(ref)) {
    const cap = parseCapability(ref);
    if (cap.kind !== 'tree') throw new RaicError('Usage', 'this capability names a file, not a snapshot', { hint: 'use raic get CAP PATH' });
    return { root: await loadManifest(array, cap), record: null };
  }
  const record = findRecord(await readCatalog(array, await unlock()), ref, { ...filter, kind: 'tree' });
  return { root: await loadManifest(array, parseCapability(record.capability)), record };
}
