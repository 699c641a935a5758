import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isRaicError } from '../../../src/errors.js';
import { arrayTagOf, formatCapability, parseCapability } from '../../../src/store/capability.js';

describe('capability text form', () => {
  const arrayId = randomBytes(16).toString('hex');
  const manifestId = randomBytes(32).toString('hex');
  const key = randomBytes(32);
  const cap = formatCapability(arrayId, manifestId, key);

  it('round-trips and is copy-paste safe (lowercase base32 and colons only)', () => {
    assert.match(cap, /^raic:file:1:[a-z2-7]+:[a-z2-7]+:[a-z2-7]+:[a-z2-7]+$/);
    const parsed = parseCapability(`  ${cap}\n`);
    assert.equal(parsed.manifestId, manifestId);
    assert.ok(parsed.key.equals(key));
    assert.equal(parsed.arrayTag, arrayTagOf(arrayId));
  });

  it('rejects every single-character change as a Usage error', () => {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
    for (let i = 0; i < cap.length; i++) {
      if (cap[i] === ':') continue;
      const swapped = alphabet[(alphabet.indexOf(cap[i]!) + 1) % alphabet.length]!;
      const typo = cap.slice(0, i) + swapped + cap.slice(i + 1);
      assert.throws(() => parseCapability(typo), (e) => isRaicError(e, 'Usage'), `position ${i}`);
    }
  });

  it('rejects truncation at every length', () => {
    for (let len = 0; len < cap.length; len++) assert.throws(() => parseCapability(cap.slice(0, len)), (e) => isRaicError(e, 'Usage'));
  });
});
