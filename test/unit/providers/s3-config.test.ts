import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRaicError } from '../../../src/errors.js';
import { parseS3Url } from '../../../src/providers/s3-config.js';

const parse = (u: string) => parseS3Url(new URL(u));
const usage = (u: string, pattern: RegExp) =>
  assert.throws(
    () => parse(u),
    (e: unknown) => isRaicError(e, 'Usage') && pattern.test(e.message),
    u,
  );

describe('parseS3Url', () => {
  it('bucket only: AWS, virtual-hosted style, no prefix', () => {
    assert.deepEqual(parse('s3://my-bucket'), { bucket: 'my-bucket', prefix: '', forcePathStyle: false, displayUrl: 's3://my-bucket' });
    assert.deepEqual(parse('s3://my-bucket/'), parse('s3://my-bucket'));
  });

  it('prefix: normalized to end in one slash; displayUrl without it', () => {
    const c = parse('s3://b.example/backups//host-1/');
    assert.equal(c.prefix, 'backups/host-1/');
    assert.equal(c.displayUrl, 's3://b.example/backups/host-1');
  });

  it('endpoint, region, path style and profile from the query', () => {
    assert.deepEqual(parse('s3://bkt/p?endpoint=http://127.0.0.1:18080/&region=us-east-1&path-style=true&profile=lab'), {
      bucket: 'bkt',
      prefix: 'p/',
      endpoint: 'http://127.0.0.1:18080',
      region: 'us-east-1',
      forcePathStyle: true,
      profile: 'lab',
      displayUrl: 's3://bkt/p',
    });
  });

  it('path style defaults to on with a custom endpoint, and can be turned off', () => {
    assert.equal(parse('s3://bkt?endpoint=https://s3.example.net').forcePathStyle, true);
    assert.equal(parse('s3://bkt?endpoint=https://s3.example.net&path-style=false').forcePathStyle, false);
    assert.equal(parse('s3://bkt?path-style=1').forcePathStyle, true);
  });

  it('refuses credentials, ports and fragments in the URL', () => {
    usage('s3://AKIA:secret@bkt/p', /credentials do not belong in the URL/);
    usage('s3://bkt:9000/p', /port belongs in \?endpoint=/);
    usage('s3://bkt/p#x', /fragment/);
    usage('s3://bkt?endpoint=http://u:p@127.0.0.1:1', /credentials do not belong in the endpoint/);
  });

  it('refuses bad bucket names, prefixes and parameters, naming the problem', () => {
    usage('s3://Bad_Bucket', /is not a bucket name/);
    usage('s3://ab', /is not a bucket name/);
    usage('s3:///p', /is not a bucket name/);
    assert.equal(parse('s3://bkt/a/../b').prefix, 'b/', 'the URL parser itself resolves dot segments');
    usage('s3://bkt/a/b%3Fc', /bad prefix segment/);
    usage('s3://bkt/a%20b', /bad prefix segment/);
    usage('s3://bkt?endpiont=http://x', /unknown parameter "endpiont" \(known: endpoint, region, path-style, profile\)/);
    usage('s3://bkt?region=us-east-1&region=eu-west-1', /given twice/);
    usage('s3://bkt?endpoint=ftp://x', /http:\/\/ or https:\/\//);
    usage('s3://bkt?endpoint=not a url', /is not a URL/);
    usage('s3://bkt?path-style=yes', /path-style must be true or false/);
    usage('s3://bkt?region=US_EAST', /not a region name/);
    usage('file:///x', /scheme must be s3:/);
  });
});
