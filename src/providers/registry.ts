/**
 * The one list of storage backends raic ships, keyed by URL scheme, with the credential variables
 * each reads. Adding a cloud = one adapter file + one entry here. Adapters (and their SDKs) are imported lazily so `raic --help` stays fast.
 */
import { RaicError } from '../errors.js';
import type { Provider, ProviderFactory } from './types.js';

interface Backend {
  /** Imports the adapter (and its SDK) on first use. */
  load: () => Promise<ProviderFactory>;
  /**
   * Every environment variable the adapter reads for credentials or auth, in its order of preference:
   * what `raic config show` reports as set or not. Kept here, not in the adapter, so reading it loads no
   * SDK. Keep in step with the adapter's config parser and README "Members and credentials".
   */
  credentialVariables: readonly string[];
}

const WEBDAV_VARIABLES = ['WEBDAV_USERNAME', 'WEBDAV_PASSWORD'];

const registry: Record<string, Backend> = {
  file: { load: async () => (await import('./file.js')).createFileProvider, credentialVariables: [] },
  s3: {
    load: async () => (await import('./s3.js')).createS3Provider,
    // s3.ts: fromEnv, then fromIni / fromProcess (the profile and the two shared files they read).
    credentialVariables: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE'],
  },
  swift: {
    load: async () => (await import('./swift.js')).createSwiftProvider,
    // swift-config.ts: the user and key, then the Keystone auth URL and scope.
    credentialVariables: [
      'SWIFT_USERNAME',
      'SWIFT_PASSWORD',
      'OS_USERNAME',
      'OS_PASSWORD',
      'ST_USER',
      'ST_KEY',
      'OS_AUTH_URL',
      'ST_AUTH',
      'OS_PROJECT_NAME',
      'OS_TENANT_NAME',
      'OS_PROJECT_ID',
      'OS_TENANT_ID',
      'OS_USER_DOMAIN_NAME',
      'OS_PROJECT_DOMAIN_NAME',
      'OS_REGION_NAME',
    ],
  },
  azure: {
    load: async () => (await import('./azure.js')).createAzureProvider,
    // azure-config.ts
    credentialVariables: ['AZURE_STORAGE_KEY', 'AZURE_STORAGE_SAS_TOKEN', 'AZURE_STORAGE_CONNECTION_STRING'],
  },
  sftp: {
    load: async () => (await import('./sftp.js')).createSftpProvider,
    // sftp-config.ts
    credentialVariables: ['SFTP_USER', 'SFTP_KEY_FILE', 'SFTP_KEY_PASSPHRASE', 'SSH_AUTH_SOCK', 'SFTP_PASSWORD', 'SFTP_KNOWN_HOSTS'],
  },
  // webdav-config.ts
  webdav: { load: async () => (await import('./webdav.js')).createWebdavProvider, credentialVariables: WEBDAV_VARIABLES },
  'webdav+http': { load: async () => (await import('./webdav.js')).createWebdavProvider, credentialVariables: WEBDAV_VARIABLES },
};

export function supportedSchemes(): string[] {
  return Object.keys(registry);
}

/** The environment variables the adapter for `scheme` reads; [] for file:// and unknown schemes. */
export function credentialVariables(scheme: string): readonly string[] {
  return registry[scheme]?.credentialVariables ?? [];
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
  const backend = registry[scheme];
  if (!backend) {
    throw new RaicError('Usage', `unknown URL scheme "${scheme}:" in ${JSON.stringify(memberUrl)}`, {
      hint: `supported schemes: ${supportedSchemes().join(', ')}`,
    });
  }
  const factory = await backend.load();
  return factory(url);
}
