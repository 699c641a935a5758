/**
 * init: create a new array on n empty members, or — when the members already hold one — attach this
 * machine to it (the new-machine case) after checking the passphrase, as long as k members answer.
 */
import { access } from 'node:fs/promises';
import { RaicError, isRaicError } from '../errors.js';
import { randomBytes } from '../crypto/index.js';
import type { Provider } from '../providers/index.js';
import {
  CONFIG_KEY,
  Members,
  encodeArrayConfig,
  messageOf,
  newArrayConfig,
  newKeyObject,
  newMasterKey,
  parseArrayConfig,
  putOnAll,
  readMemberList,
  repoKeys,
  unlockMaster,
  writeMemberList,
  type ArrayConfig,
} from '../store/index.js';
import { writeLocalConfig, type LocalConfig } from './local-config.js';

export interface InitOptions {
  k: number;
  urls: string[];
  configPath: string;
  /** Write quorum (default k+1, at most n). */
  minMembers?: number | undefined;
  /** Asks for the passphrase; `confirm` when creating (a typo there would lock the user out). */
  passphrase: (confirm: boolean) => Promise<string>;
  wrap?: (p: Provider) => Provider;
  /** Tests only: key objects with a trivial KDF cost (`raic init --insecure-kdf`). */
  insecureKdf?: boolean;
}

export interface InitResult {
  arrayId: string;
  k: number;
  n: number;
  members: string[];
  attached: boolean;
  configPath: string;
}

export function validateShape(k: number, n: number): void {
  if (!Number.isInteger(k) || k < 1) throw new RaicError('Usage', `--k must be a whole number ≥ 1 (got ${k})`);
  if (n > 255) throw new RaicError('Usage', `at most 255 members are supported (got ${n})`);
  if (k >= n) {
    throw new RaicError('Usage', `k must be smaller than the number of members: k=${k}, ${n} member URL${n === 1 ? '' : 's'} given`, {
      hint: `give at least ${k + 1} member URLs, or a smaller --k`,
    });
  }
}

export async function initArray(opts: InitOptions): Promise<InitResult> {
  const n = opts.urls.length;
  validateShape(opts.k, n);
  if (opts.minMembers !== undefined && (!Number.isInteger(opts.minMembers) || opts.minMembers < opts.k || opts.minMembers > n)) {
    throw new RaicError('Usage', `--min-members must be between k=${opts.k} and n=${n} (got ${opts.minMembers})`);
  }
  if (new Set(opts.urls).size !== n) throw new RaicError('Usage', 'the same member URL is given twice');
  if (await exists(opts.configPath)) {
    throw new RaicError('Usage', `a raic config already exists at ${opts.configPath}`, {
      hint: 'use --config (or RAIC_CONFIG) to name another config file, or remove the old one if it is no longer needed',
    });
  }
  const members = await Members.open(opts.urls, opts.wrap);
  try {
    // Create missing buckets/directories first, so "empty" and "holds an array" are the only answers.
    await Promise.all(members.up().map((s) => members.call(s.index, (p) => p.prepare()).catch(() => undefined)));
    const found = await readConfigs(members);
    const holding = found.filter((f): f is { index: number; config: ArrayConfig } => f.config !== null);
    const result = holding.length > 0 ? await attach(opts, members, holding) : await create(opts, members);
    await writeLocalConfig(opts.configPath, {
      version: 1,
      arrayId: result.arrayId,
      k: result.k,
      n: result.n,
      members: result.members,
      ...(opts.minMembers !== undefined ? { minMembers: opts.minMembers } : {}),
    } satisfies LocalConfig);
    return { ...result, configPath: opts.configPath };
  } finally {
    await members.close();
  }
}

async function readConfigs(members: Members): Promise<{ index: number; config: ArrayConfig | null }[]> {
  const out: { index: number; config: ArrayConfig | null }[] = [];
  await Promise.all(
    members.up().map(async (slot) => {
      try {
        out.push({ index: slot.index, config: parseArrayConfig(await members.call(slot.index, (p) => p.get(CONFIG_KEY)), slot.url) });
      } catch (err) {
        if (isRaicError(err, 'NotFound')) out.push({ index: slot.index, config: null });
        else members.markDown(slot.index, messageOf(err));
      }
    }),
  );
  return out;
}

async function create(opts: InitOptions, members: Members): Promise<Omit<InitResult, 'configPath'>> {
  const n = opts.urls.length;
  members.requireUp(n, 'cannot create the array (every member must answer)');
  const passphrase = await opts.passphrase(true);
  const arrayId = randomBytes(16).toString('hex');
  const master = newMasterKey();
  const keys = repoKeys(master);
  const keyObject = await newKeyObject(master, passphrase, arrayId, { cost: opts.insecureKdf ? 'insecure-test' : 'default' });
  const createdAt = new Date().toISOString();
  const written: { index: number; key: string }[] = [];
  try {
    await putOnAll(members, keyObject.key, keyObject.body, 'repository key');
    await writeMemberList(members, keys.members, arrayId, opts.urls);
    // The config goes last: a member holds an array only once everything else is there.
    await Promise.all(
      members.slots.map(async (s) => {
        await members.call(s.index, (p) => p.put(CONFIG_KEY, encodeArrayConfig(newArrayConfig(arrayId, opts.k, n, s.index, createdAt))));
        written.push({ index: s.index, key: CONFIG_KEY });
      }),
    );
  } catch (err) {
    // Leave the members as we found them: an array config on some members would make the next init attach.
    await Promise.allSettled(written.map((w) => members.call(w.index, (p) => p.delete(w.key))));
    throw err;
  }
  return { arrayId, k: opts.k, n, members: opts.urls, attached: false };
}

async function attach(opts: InitOptions, members: Members, holding: { index: number; config: ArrayConfig }[]): Promise<Omit<InitResult, 'configPath'>> {
  const n = opts.urls.length;
  const first = holding[0]!.config;
  const ids = new Set(holding.map((h) => h.config.arrayId));
  if (ids.size > 1) throw new RaicError('Usage', `these members hold different arrays (${[...ids].join(', ')})`);
  if (first.n !== n || first.k !== opts.k) {
    throw new RaicError('Usage', `the members hold a ${first.k}-of-${first.n} array, but --k ${opts.k} with ${n} URLs was given`, {
      hint: `to attach to it, run init with --k ${first.k} and its ${first.n} member URLs`,
    });
  }
  const empty = members.up().filter((s) => !holding.some((h) => h.index === s.index));
  if (empty.length > 0) {
    throw new RaicError('Usage', `members ${empty.map((s) => s.url).join(', ')} hold no array while the others hold array ${first.arrayId}`, {
      hint: 'attach with the array\'s own member URLs; replacing a member is a separate operation',
    });
  }
  if (holding.length < first.k) {
    throw new RaicError('Quorum', `found array ${first.arrayId} on ${holding.length} members but ${first.k} are needed to attach; unreachable: ${members.describeDown()}`);
  }
  const passphrase = await opts.passphrase(false);
  const master = await unlockMaster(members, passphrase, first.arrayId);
  const stored = await readMemberList(members, repoKeys(master).members, first.arrayId);
  // Each URL goes to the share index the sealed member list (authenticated by the master key) gives it. A
  // member's plaintext config names its index too, but that is one member's word: it is used only for a URL the
  // list does not name (spelled differently, e.g. another endpoint alias), and only where the list's own URL
  // for that index was not given.
  const ordered: (string | undefined)[] = new Array<string | undefined>(n);
  const place = (url: string, at: number): void => {
    if (at < 0 || at >= n || ordered[at] !== undefined) {
      throw new RaicError('Usage', `cannot tell which share ${url} holds in array ${first.arrayId}`, { hint: `its members are, in order: ${stored.join(' ')}` });
    }
    ordered[at] = url;
  };
  for (const s of members.slots) if (stored.includes(s.url)) place(s.url, stored.indexOf(s.url));
  for (const s of members.slots) {
    if (stored.includes(s.url)) continue;
    const h = holding.find((x) => x.index === s.index);
    if (!h) throw new RaicError('Usage', `${s.url} did not answer and is not a member of array ${first.arrayId}`, { hint: `its members are: ${stored.join(' ')}` });
    if (opts.urls.includes(stored[h.config.member] ?? '')) place(s.url, -1); // that index's listed URL was given too
    place(s.url, h.config.member);
  }
  return { arrayId: first.arrayId, k: first.k, n, members: ordered as string[], attached: true };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
