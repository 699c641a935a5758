/**
 * Parses an Azure Blob member URL plus the environment into the Azure adapter's settings. Pure.
 *
 *   azure://ACCOUNT/CONTAINER/PREFIX[?endpoint=SERVICE_URL]
 *
 * - `endpoint`: the blob service URL, for emulators and sovereign clouds, e.g. Azurite's
 *   `http://127.0.0.1:10000/devstoreaccount1`. Default `https://ACCOUNT.blob.core.windows.net`.
 * - Credentials, first found wins, never from the URL:
 *   1. `AZURE_STORAGE_KEY`: the account's shared key (the account is the URL's);
 *   2. `AZURE_STORAGE_SAS_TOKEN`: a SAS token (`sv=…&sig=…`, leading `?` optional);
 *   3. `AZURE_STORAGE_CONNECTION_STRING`: `AccountName=…;AccountKey=…` or `SharedAccessSignature=…`,
 *      with optional `BlobEndpoint`, `DefaultEndpointsProtocol`, `EndpointSuffix`, or
 *      `UseDevelopmentStorage=true` (Azurite's well-known account on 127.0.0.1:10000).
 */
import { RaicError } from '../errors.js';
import { folderPrefix, readableQuery, refuseUrlPassword } from './member-path.js';

export type AzureCredential = { kind: 'sharedKey'; key: string } | { kind: 'sas'; token: string };

export interface AzureConfig {
  account: string;
  container: string;
  /** '' or 'a/b/': prepended to every blob name. */
  prefix: string;
  /** Blob service URL without a trailing slash. */
  endpoint: string;
  credential: AzureCredential;
  /** azure://account/container/prefix[?endpoint=…]: no secret. */
  displayUrl: string;
}

type Env = Record<string, string | undefined>;

/** Azurite's development account: public, documented by Microsoft, valid only against the emulator. */
const devAccount = 'devstoreaccount1';
const devKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function parseAzureUrl(url: URL, env: Env): AzureConfig {
  refuseUrlPassword(url, 'AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN');
  const bare = `azure://${url.host}${url.pathname}`;
  const usage = 'write azure://ACCOUNT/CONTAINER/PREFIX';
  if (url.username !== '' || url.port !== '') throw new RaicError('Usage', `${bare}: the host part must be the storage account name`, { hint: usage });
  const account = url.hostname;
  if (!/^[a-z0-9]{3,24}$/.test(account)) {
    throw new RaicError('Usage', `"${account}" in ${bare} is not a storage account name (3-24 lowercase letters and digits)`, { hint: usage });
  }
  const [first, ...rest] = url.pathname.replace(/^\/+/, '').split('/');
  const container = first ?? '';
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(container)) {
    throw new RaicError('Usage', `"${container}" in ${bare} is not a container name (3-63 lowercase letters, digits, single hyphens)`, { hint: usage });
  }
  const prefix = folderPrefix(rest.join('/'), bare);
  for (const name of url.searchParams.keys()) {
    if (name !== 'endpoint') throw new RaicError('Usage', `unknown parameter "${name}" in ${bare}`, { hint: 'the only parameter is endpoint=URL' });
  }
  const endpointParam = url.searchParams.get('endpoint') ?? undefined;
  if (endpointParam !== undefined) checkEndpoint(endpointParam, bare);

  const found = credentialFromEnv(account, env, bare);
  const endpoint = (endpointParam ?? found.endpoint ?? `https://${account}.blob.core.windows.net`).replace(/\/+$/, '');
  return {
    account,
    container,
    prefix,
    endpoint,
    credential: found.credential,
    displayUrl: bare.replace(/\/+$/, '') + readableQuery(endpointParam === undefined ? [] : [['endpoint', endpointParam]]),
  };
}

function credentialFromEnv(account: string, env: Env, bare: string): { credential: AzureCredential; endpoint?: string } {
  const key = env.AZURE_STORAGE_KEY;
  if (key) return { credential: { kind: 'sharedKey', key } };
  const sas = env.AZURE_STORAGE_SAS_TOKEN;
  if (sas) return { credential: { kind: 'sas', token: sas.replace(/^\?/, '') } };
  const cs = env.AZURE_STORAGE_CONNECTION_STRING;
  if (cs) return fromConnectionString(cs, account, bare);
  throw new RaicError('Auth', `no Azure credentials for ${bare}`, {
    hint: 'set AZURE_STORAGE_KEY (the account key), AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING',
  });
}

/** Connection-string fields (names are case-insensitive, values may contain '='). */
export function parseConnectionString(cs: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of cs.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return fields;
}

function fromConnectionString(cs: string, account: string, bare: string): { credential: AzureCredential; endpoint?: string } {
  const f = parseConnectionString(cs);
  if (f.get('usedevelopmentstorage') === 'true') {
    if (account !== devAccount) {
      throw new RaicError('Usage', `UseDevelopmentStorage=true is the account ${devAccount}, not ${account} of ${bare}`);
    }
    return { credential: { kind: 'sharedKey', key: devKey }, endpoint: `http://127.0.0.1:10000/${devAccount}` };
  }
  const name = f.get('accountname');
  if (name !== undefined && name !== account) {
    throw new RaicError('Usage', `AZURE_STORAGE_CONNECTION_STRING is for account ${name}, not ${account} of ${bare}`);
  }
  const blobEndpoint = f.get('blobendpoint');
  const suffix = f.get('endpointsuffix') ?? 'core.windows.net';
  const protocol = f.get('defaultendpointsprotocol') ?? 'https';
  const endpoint = blobEndpoint ?? (name === undefined ? undefined : `${protocol}://${account}.blob.${suffix}`);
  if (blobEndpoint !== undefined) checkEndpoint(blobEndpoint, bare);
  const key = f.get('accountkey');
  const sas = f.get('sharedaccesssignature');
  const credential: AzureCredential | undefined = key ? { kind: 'sharedKey', key } : sas ? { kind: 'sas', token: sas.replace(/^\?/, '') } : undefined;
  if (credential === undefined) {
    throw new RaicError('Auth', `AZURE_STORAGE_CONNECTION_STRING has neither AccountKey nor SharedAccessSignature (for ${bare})`);
  }
  return endpoint === undefined ? { credential } : { credential, endpoint };
}

function checkEndpoint(endpoint: string, bare: string): void {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw new RaicError('Usage', `endpoint ${JSON.stringify(endpoint)} of ${bare} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RaicError('Usage', `endpoint of ${bare} must be http(s)`);
  if (u.username !== '' || u.password !== '' || u.search !== '') {
    throw new RaicError('Usage', `endpoint of ${bare} must not carry credentials or a query`, {
      hint: 'put a SAS token in AZURE_STORAGE_SAS_TOKEN',
    });
  }
}
