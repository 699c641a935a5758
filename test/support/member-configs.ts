/** Makes providers the members of a fresh array, as `raic init` does: member i holds its own public config. */
import type { Provider } from '../../src/providers/types.js';
import { CONFIG_KEY, encodeArrayConfig, newArrayConfig } from '../../src/store/index.js';

export async function writeMemberConfigs(providers: readonly Provider[], arrayId: string, k: number, createdAt = new Date().toISOString()): Promise<void> {
  for (const [i, p] of providers.entries()) await p.put(CONFIG_KEY, encodeArrayConfig(newArrayConfig(arrayId, k, providers.length, i, createdAt)));
}
