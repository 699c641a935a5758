/**
 * The one list of storage backends raic ships, keyed by URL scheme. Adding a cloud = one adapter
 * file + one line here. Adapters (and their SDKs) are imported lazily so `raic --help` stays fast.
 */
import { RaicError } from '../errors.js';
import type { Provider, ProviderFactory } from './types.js';

const registry: Record<string, () => Promise<ProviderFactory>> = {
  file: async () => (await import('./file.js')).createFileProvider,
  s3: async () => (await import('./s3.js')).createS3Provider,
  swift: async () => (await import('./swift.js')).createSwiftProvider,
  azure: async () => (await import('./azure.js')).createAzureProvider,
  sftp: async () => (await import('./sftp.js')).createSftpProvider,
  webdav: async () => (await import('./webdav.js')).createWebdavProvider,
  'webdav+http': async () => (await import('./webdav.js')).createWebdavProvider,
};

export function supportedSchemes(): string[] {
  return Object.keys(registry);
}

/** Parses a member URL and opens its provider. Rejects `Usage` for a malformed URL or unknown scheme. */
export async function openProvider(memberUrl: string): Promise<Provider> {
  let url: URL;
  try {
    url = new URL(memberUrl);
  } catch {
    throw new RaicError('Usage', `not a member URL: ${JSON.stringify(memberUrl)}`, {
      hint: `a member is a URL such as file:///abs/dir or s3://bucket/prefix (schemes: ${supportedSchemes().join(', ')})`,
    });
  }
  const scheme = url.protocol.replace(/:$/, '');
  const load = registry[scheme];
  if (!load) {
    throw new RaicError('Usage', `unknown URL scheme "${scheme}:" in ${JSON.stringify(memberUrl)}`, {
      hint: `supported schemes: ${supportedSchemes().join(', ')}`,
    });
  }
  const factory = await load();
  return factory(url);
}
