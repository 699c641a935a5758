/**
 * The Azure adapter against Azurite: the conformance suite, then the other two ways to give
 * credentials (connection string, SAS token) and what happens without any.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { RaicError } from '../../src/errors.js';
import { createAzureProvider } from '../../src/providers/azure.js';
import { azuriteServer, hostPort, tcpRelay, uniqueName } from '../support/servers.js';
import { providerConformance, rejectsWith } from './conformance.js';

const server = await azuriteServer();
const account = server.accountName;
const key = { AZURE_STORAGE_KEY: server.accountKey };
const relay = await tcpRelay(hostPort(server.blobEndpoint));
after(() => relay.close());

const endpointPath = new URL(server.blobEndpoint).pathname;
const memberUrl = (container: string, endpoint = `${relay.url}${endpointPath}`) =>
  new URL(`azure://${account}/${container}/raic/member?endpoint=${endpoint}`);

providerConformance('azure', () => createAzureProvider(memberUrl(uniqueName('raic-azure')), key), {
  stopServer: () => relay.stop(),
  startServer: () => relay.start(),
  badAuth: () => createAzureProvider(memberUrl(uniqueName('raic-azure')), { AZURE_STORAGE_KEY: Buffer.alloc(64, 7).toString('base64') }),
});

describe('azure adapter', () => {
  it('refuses to open without credentials, naming the variables to set', async () => {
    await rejectsWith(createAzureProvider(memberUrl('c0ntainer'), {}), 'Auth', 'no credentials');
    const err = (await createAzureProvider(memberUrl('c0ntainer'), {}).catch((e: unknown) => e)) as RaicError;
    assert.match(err.message, /azure:\/\/devstoreaccount1\/c0ntainer\/raic\/member/);
    assert.match(String(err.hint), /AZURE_STORAGE_KEY/);
  });

  it('works with a connection string (endpoint taken from it)', async () => {
    const container = uniqueName('raic-azure');
    const p = await createAzureProvider(new URL(`azure://${account}/${container}/cs`), {
      AZURE_STORAGE_CONNECTION_STRING: server.connectionString,
    });
    assert.equal(p.displayUrl, `azure://${account}/${container}/cs`, 'no secret, no endpoint shown');
    await p.prepare();
    await p.put('a/b', Buffer.from('via connection string'));
    assert.equal((await p.get('a/b')).toString(), 'via connection string');
    await p.delete('a/b');
    await p.close();
  });

  it('works with a SAS token, and a SAS without write permission is refused as Auth', async () => {
    const container = uniqueName('raic-azure');
    const owner = await createAzureProvider(memberUrl(container, server.blobEndpoint), key);
    await owner.prepare();
    await owner.put('x', Buffer.from('readable'));
    const sdk = await import('@azure/storage-blob');
    const sas = (permissions: string) =>
      sdk
        .generateAccountSASQueryParameters(
          {
            expiresOn: new Date(Date.now() + 3600_000),
            permissions: sdk.AccountSASPermissions.parse(permissions),
            resourceTypes: sdk.AccountSASResourceTypes.parse('sco').toString(),
            services: sdk.AccountSASServices.parse('b').toString(),
          },
          new sdk.StorageSharedKeyCredential(account, server.accountKey),
        )
        .toString();
    const rw = await createAzureProvider(memberUrl(container, server.blobEndpoint), { AZURE_STORAGE_SAS_TOKEN: `?${sas('rwdlc')}` });
    await rw.put('y', Buffer.from('written with SAS'));
    assert.equal((await rw.get('y')).toString(), 'written with SAS');
    assert.deepEqual((await rw.head('x')).size, 8);
    const readOnly = await createAzureProvider(memberUrl(container, server.blobEndpoint), { AZURE_STORAGE_SAS_TOKEN: sas('rl') });
    assert.equal((await readOnly.get('x')).toString(), 'readable');
    await rejectsWith(readOnly.put('z', Buffer.from('no')), 'Auth', 'put with a read-only SAS');
    await Promise.all([owner.close(), rw.close(), readOnly.close()]);
  });
});
