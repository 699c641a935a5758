/**
 * check right after a prune, while one member's listings lag (test/support/lagging-provider.ts, on a clock
 * the test holds): that member still lists the index segments, packs, forwarding records and manifest prune
 * deleted, and does not list yet the segments, pack and records it wrote. check must judge objects by what
 * the members hold, not by one member's listing: nothing deleted is "missing" or a leftover, nothing new is a
 * leftover, and the new index is read.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backup } from '../../../src/core/backup.js';
import { readCatalog } from '../../../src/core/catalog.js';
import { checkArray } from '../../../src/core/check.js';
import { forget } from '../../../src/core/forget.js';
import { prune } from '../../../src/core/prune.js';
import { putStream } from '../../../src/core/put.js';
import { FORWARD_PREFIX, INDEX_PREFIX, Members, RaicArray, newMasterKey, repoKeys } from '../../../src/store/index.js';
import { tempDir } from '../../support/cli.js';
import { LaggingProvider } from '../../support/lagging-provider.js';
import { MemoryProvider } from '../../support/memory-provider.js';
import { writeMemberConfigs } from '../../support/member-configs.js';

const KiB = 1024;
const LAG_MS = 1000;

describe('check right after a prune, one member listing as of before it', () => {
  let dir: string;
  let now = 0;
  const memory = Array.from({ length: 3 }, (_, i) => new MemoryProvider({ name: `lag-${i}` }));
  const lagging = memory.map((m) => new LaggingProvider(m, 0, () => now));
  const arrayId = randomBytes(16).toString('hex');
  const array = RaicArray.fromMembers({ arrayId, k: 2, n: 3 }, Members.fromProviders(lagging), { workers: 1 });
  const keys = repoKeys(newMasterKey());

  before(async () => {
    dir = await tempDir('check-lagging');
    await writeMemberConfigs(memory, arrayId, 2);
  });
  after(async () => {
    await array.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports nothing prune deleted as missing or left over, and nothing it wrote as left over', async () => {
    // Rounds of backup, put (deduplicated into the backup's pack), forget and prune: the last prune repacks,
    // deletes and rewrites forwarding records, and replaces the index.
    const src = join(dir, 'src');
    await mkdir(src);
    let result;
    for (let round = 1; round <= 3; round++) {
      now += 10 * LAG_MS;
      await writeFile(join(src, 'churn.bin'), randomBytes(150 * KiB));
      await writeFile(join(src, `stay-${round}.bin`), randomBytes(100 * KiB));
      await rm(join(src, `stay-${round - 2}.bin`), { force: true });
      const putBytes = randomBytes(16 * KiB);
      await writeFile(join(src, `put-${round}.bin`), putBytes);
      await backup(array, keys, await readCatalog(array, keys), { paths: [src], host: 'lag' });
      await putStream(
        array,
        keys,
        (async function* () {
          yield putBytes;
        })(),
      );
      await rm(join(src, `put-${round}.bin`));
      await forget(array, keys, { last: 1 }, { dryRun: false });
      now += 10 * LAG_MS;
      result = await prune(array, keys, { dryRun: false });
    }
    assert.ok(result!.packsDeleted > 0 && result!.forwardRecordsDeleted > 0 && result!.indexSegmentsReplaced > 0, JSON.stringify(result));

    // Member 2's listings now show it as it was before that prune.
    lagging[2]!.setLag(LAG_MS);
    const listed = async (i: number, prefix: string): Promise<Set<string>> => {
      const out = new Set<string>();
      for await (const o of lagging[i]!.list(prefix)) out.add(o.key);
      return out;
    };
    for (const prefix of [INDEX_PREFIX, FORWARD_PREFIX, 'packs/']) {
      const [held, shown] = [await listed(0, prefix), await listed(2, prefix)];
      assert.ok([...shown].some((k) => !held.has(k)), `member 2 lists ${prefix} objects prune deleted`);
      assert.ok([...held].some((k) => !shown.has(k)), `member 2 does not list the ${prefix} objects prune wrote`);
    }

    const report = await checkArray(array, keys, true);
    assert.equal(report.ok, true, JSON.stringify(report.members.filter((m) => m.damaged.length > 0)));
    const newSegments = await listed(0, INDEX_PREFIX);
    assert.deepEqual(report.leftovers, [], 'neither what prune deleted nor what it wrote is a leftover');
    assert.ok(report.snapshots!.every((s) => s.survives === 1), JSON.stringify(report.snapshots));
    // The new index was read: every pack it names is checked (the one prune wrote among them).
    const packs = await listed(0, 'packs/');
    assert.equal(report.packsRead, packs.size, `${newSegments.size} new segments; packs checked ${report.readPacks.join(' ')}`);

    // Once the listings catch up, the same report.
    lagging[2]!.setLag(0);
    const caughtUp = await checkArray(array, keys, true);
    assert.deepEqual([caughtUp.ok, caughtUp.objects, caughtUp.leftovers], [true, report.objects, []]);
  });
});
