import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytesOfName, displayPath, fsPath, nameFromBytes } from '../../../src/tree/index.js';

test('UTF-8 names stay themselves; other bytes round-trip exactly through the NUL-marked form', () => {
  assert.equal(nameFromBytes(Buffer.from('naïve café.txt')), 'naïve café.txt');
  const raws = [Buffer.from([0x63, 0x61, 0x66, 0xe9]), Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('a\\x41')];
  for (const raw of raws) {
    const name = nameFromBytes(raw);
    assert.deepEqual(bytesOfName(name), raw);
    if (!raw.equals(Buffer.from(raw.toString('utf8')))) assert.ok(name.startsWith('\u0000'), 'an invalid name must be marked');
  }
  // Two Latin-1 names that decode to the same lossy string stay distinct.
  assert.notEqual(nameFromBytes(Buffer.from([0x61, 0xe9])), nameFromBytes(Buffer.from([0x61, 0xe8])));
});

test('fsPath gives the exact bytes of a path with marked parts; displayPath escapes only the odd bytes', () => {
  const odd = nameFromBytes(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74]));
  const path = `/home/é/${odd}/x`;
  assert.deepEqual(fsPath(path), Buffer.concat([Buffer.from('/home/é/'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74]), Buffer.from('/x')]));
  assert.equal(fsPath('/plain/é'), '/plain/é');
  assert.equal(displayPath(path), '/home/é/caf\\xe9.t/x');
  assert.equal(displayPath(nameFromBytes(Buffer.from([0xe2, 0x82, 0xac, 0xff, 0x41]))), '€\\xffA');
});
