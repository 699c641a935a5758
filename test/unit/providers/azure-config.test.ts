import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRaicError, type ErrorCode } from '../../../src/errors.js';
import { parseAzureUrl, parseConnectionString } from '../../../src/providers/azure-config.js';

const key = { AZURE_STORAGE_KEY: 'c2VjcmV0' };
const parse = (u: string, env: Record<string, string> = key) => parseAzureUrl(new URL(u), env);
const rejects = (code: ErrorCode, u: string, env: Record<string, string> = key) =>
  assert.throws(() => parse(u, env), (e: unknown) => isRaicError(e, code), u);

describe('parseAzureUrl', () => {
  it('reads account, container and prefix; defaults to the public endpoint', () => {
    assert.deepEqual(parse('azure://acct1/backups/raic/one/'), {
      account: 'acct1',
      container: 'backups',
      prefix: 'raic/one/',
      endpoint: 'https://acct1.blob.core.windows.net',
      credential: { kind: 'sharedKey', key: 'c2VjcmV0' },
      displayUrl: 'azure://acct1/backups/raic/one',
    });
    assert.equal(parse('azure://acct1/backups').prefix, '');
  });

  it('takes an endpoint for emulators and shows it', () => {
    const c = parse('azure://devstoreaccount1/c01?endpoint=http://127.0.0.1:10000/devstoreaccount1/');
    assert.equal(c.endpoint, 'http://127.0.0.1:10000/devstoreaccount1');
    assert.equal(c.displayUrl, 'azure://devstoreaccount1/c01?endpoint=http://127.0.0.1:10000/devstoreaccount1/');
    rejects('Usage', 'azure://a01/c01?endpoint=ftp://x');
    rejects('Usage', 'azure://a01/c01?endpoint=http://x/?sig=secret');
  });

  it('chooses key, then SAS, then connection string', () => {
    const all = { AZURE_STORAGE_KEY: 'k', AZURE_STORAGE_SAS_TOKEN: '?sv=1&sig=s', AZURE_STORAGE_CONNECTION_STRING: 'AccountName=a01;AccountKey=z' };
    assert.deepEqual(parse('azure://a01/c01', all).credential, { kind: 'sharedKey', key: 'k' });
    const { AZURE_STORAGE_KEY: _k, ...sasAndCs } = all;
    assert.deepEqual(parse('azure://a01/c01', sasAndCs).credential, { kind: 'sas', token: 'sv=1&sig=s' });
    const c = parse('azure://a01/c01', { AZURE_STORAGE_CONNECTION_STRING: 'DefaultEndpointsProtocol=http;AccountName=a01;AccountKey=z==;EndpointSuffix=core.chinacloudapi.cn' });
    assert.deepEqual(c.credential, { kind: 'sharedKey', key: 'z==' }, "a value may contain '='");
    assert.equal(c.endpoint, 'http://a01.blob.core.chinacloudapi.cn');
  });

  it('reads BlobEndpoint, SAS and UseDevelopmentStorage from a connection string', () => {
    const cs = 'BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;SharedAccessSignature=sv=2&sig=x';
    const c = parse('azure://devstoreaccount1/c01', { AZURE_STORAGE_CONNECTION_STRING: cs });
    assert.equal(c.endpoint, 'http://127.0.0.1:10000/devstoreaccount1');
    assert.deepEqual(c.credential, { kind: 'sas', token: 'sv=2&sig=x' });
    const dev = parse('azure://devstoreaccount1/c01', { AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' });
    assert.equal(dev.endpoint, 'http://127.0.0.1:10000/devstoreaccount1');
    assert.equal(dev.credential.kind, 'sharedKey');
    assert.equal(parseConnectionString(' AccountName = a ; ;junk').get('accountname'), 'a');
  });

  it('rejects missing credentials with Auth, mismatched or malformed input with Usage', () => {
    rejects('Auth', 'azure://a01/c01', {});
    rejects('Auth', 'azure://a01/c01', { AZURE_STORAGE_CONNECTION_STRING: 'AccountName=a01' });
    rejects('Usage', 'azure://a01/c01', { AZURE_STORAGE_CONNECTION_STRING: 'AccountName=other;AccountKey=k' });
    rejects('Usage', 'azure://a01/c01', { AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' });
    rejects('Usage', 'azure://a01'); // no container
    rejects('Usage', 'azure://a01/Upper');
    rejects('Usage', 'azure://a01/double--hyphen');
    rejects('Usage', 'azure://a01/ab'); // too short
    rejects('Usage', 'azure://ab/c01'); // account too short
    rejects('Usage', 'azure://user:pw@a01/c01');
    rejects('Usage', 'azure://a01:443/c01');
    rejects('Usage', 'azure://a01/c01?sig=x');
    rejects('Usage', 'azure://a01/c01/a//b');
  });
});
