/** translateS3Error over error objects shaped like those AWS SDK v3 and Node's sockets produce. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RaicError, type ErrorCode } from '../../../src/errors.js';
import { translateS3Error } from '../../../src/providers/s3-errors.js';

const ctx = { displayUrl: 's3://b/p', endpoint: 'http://127.0.0.1:1', op: 'get', key: 'k/1' };

function sdkError(name: string, status: number | undefined, message = name): Error {
  return Object.assign(new Error(message), { name, ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }) });
}
function sysError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });
}

function classify(err: unknown): [ErrorCode, string] {
  const r = translateS3Error(err, ctx);
  assert.ok(r instanceof RaicError);
  assert.doesNotMatch(r.message, /\n/, 'one line');
  assert.ok(r.message.startsWith('s3://b/p: '), `names the member: ${r.message}`);
  return [r.code, r.message];
}

describe('translateS3Error', () => {
  it('missing objects are NotFound', () => {
    assert.deepEqual(classify(sdkError('NoSuchKey', 404, 'The specified key does not exist.')), ['NotFound', 's3://b/p: get k/1: not found']);
    assert.equal(classify(sdkError('NotFound', 404))[0], 'NotFound'); // HEAD: no body, no code
    assert.equal(classify(sdkError('UnknownError', 404))[0], 'NotFound');
  });

  it('a missing bucket is Permanent, not NotFound', () => {
    assert.deepEqual(classify(sdkError('NoSuchBucket', 404)), ['Permanent', 's3://b/p: bucket does not exist']);
  });

  it('refused credentials are Auth', () => {
    for (const [name, status] of [
      ['SignatureDoesNotMatch', 403],
      ['InvalidAccessKeyId', 403],
      ['AccessDenied', 403],
      ['Forbidden', 403],
      ['Unauthorized', 401],
      ['ExpiredToken', 400],
      ['CredentialsProviderError', undefined],
    ] as const) {
      assert.equal(classify(sdkError(name, status))[0], 'Auth', name);
    }
    assert.equal(
      classify(sdkError('SignatureDoesNotMatch', 403, 'The request signature we calculated does not match\nthe signature you provided.'))[1],
      's3://b/p: get k/1: access denied (403 SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided.)',
    );
  });

  it('connection failures are Transient and name the endpoint', () => {
    assert.deepEqual(classify(sysError('ECONNREFUSED')), ['Transient', 's3://b/p: cannot connect to http://127.0.0.1:1 (connection refused)']);
    assert.deepEqual(classify(sysError('ECONNRESET')), ['Transient', 's3://b/p: lost connection to http://127.0.0.1:1 (connection reset)']);
    assert.equal(classify(sysError('EPIPE'))[0], 'Transient');
    assert.equal(classify(sysError('EHOSTUNREACH'))[0], 'Transient');
    assert.equal(classify(sysError('ENOTFOUND'))[0], 'Transient');
    // Node's happy-eyeballs connect wraps the per-address errors in an AggregateError.
    assert.equal(classify(new AggregateError([sysError('ECONNREFUSED')], 'connect failed'))[0], 'Transient');
    assert.equal(classify(Object.assign(new Error('wrapped'), { cause: sysError('ETIMEDOUT') }))[0], 'Transient');
    assert.equal(classify(sdkError('TimeoutError', undefined, 'socket timed out after 60000 ms of inactivity'))[0], 'Transient');
  });

  it('server errors and throttling are Transient', () => {
    for (const [name, status] of [
      ['InternalError', 500],
      ['ServiceUnavailable', 503],
      ['SlowDown', 503],
      ['UnknownError', 502],
      ['Throttling', 400],
      ['RequestTimeout', 400],
      ['TooManyRequests', 429],
    ] as const) {
      assert.equal(classify(sdkError(name, status))[0], 'Transient', name);
    }
  });

  it('other client errors, and 501 Not Implemented, are Permanent', () => {
    for (const [name, status] of [
      ['InvalidArgument', 400],
      ['EntityTooLarge', 400],
      ['InvalidBucketName', 400],
      ['MethodNotAllowed', 405],
      ['NotImplemented', 501],
    ] as const) {
      assert.equal(classify(sdkError(name, status))[0], 'Permanent', name);
    }
  });

  it('keeps the SDK error as the cause, and passes RaicErrors through', () => {
    const original = sdkError('NoSuchKey', 404);
    assert.equal(translateS3Error(original, ctx).cause, original);
    const already = new RaicError('Integrity', 'x');
    assert.equal(translateS3Error(already, ctx), already);
  });
});
