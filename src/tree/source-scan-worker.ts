/**
 * The source scan's thread (see source-scan.ts): walks the backup's paths depth first, in the walk's order,
 * and posts each directory's names with every entry's lstat (and symlink target) ahead of the walk. It stops
 * while SCAN_AHEAD_ENTRIES posted entries are not taken yet, and when told to.
 */
import { lstatSync } from 'node:fs';
import { sep } from 'node:path';
import { workerData, type MessagePort } from 'node:worker_threads';
import { makeExcluder } from './exclude.js';
import { childPath, listNames, readTarget } from './fs-node.js';
import { displayPath, fsPath } from './raw-name.js';
import { CONTROL, SCAN_AHEAD_ENTRIES, SCAN_RESUME_ENTRIES, STAT_FIELDS, encodeScanError, type ScanError, type ScannedDirMessage } from './source-scan-format.js';

interface ScanJob {
  paths: string[];
  excludes: string[];
  control: SharedArrayBuffer;
  port: MessagePort;
}

const job = workerData as ScanJob;
const control = new Int32Array(job.control);
const exclude = makeExcluder(job.excludes);

/**
 * Waits while the walk has SCAN_AHEAD_ENTRIES or more of our entries still to take, and then until it has
 * taken half of them (so that it wakes us once per half window, not once per directory); false once told to stop.
 */
function roomToGoOn(): boolean {
  if (Atomics.load(control, CONTROL.posted) - Atomics.load(control, CONTROL.taken) < SCAN_AHEAD_ENTRIES) return Atomics.load(control, CONTROL.stop) === 0;
  for (;;) {
    if (Atomics.load(control, CONTROL.stop) !== 0) return false;
    // Said before `taken` is read: a walk that takes after this read sees the flag and wakes us (or the wait
    // finds `taken` changed and returns at once).
    Atomics.store(control, CONTROL.scanWaiting, 1);
    const taken = Atomics.load(control, CONTROL.taken);
    if (Atomics.load(control, CONTROL.posted) - taken < SCAN_RESUME_ENTRIES) break;
    Atomics.wait(control, CONTROL.taken, taken, 100);
  }
  Atomics.store(control, CONTROL.scanWaiting, 0);
  return true;
}

function scanDir(absPath: string): void {
  if (!roomToGoOn()) return;
  let names: string[];
  try {
    names = listNames(absPath);
  } catch (err) {
    post({ dir: absPath, names: [], stats: new ArrayBuffer(0), kinds: new Uint8Array(0), targets: [], errors: [], dirError: encodeScanError(err) });
    return;
  }
  const stats = new ArrayBuffer(names.length * STAT_FIELDS * 8);
  const signed = new BigInt64Array(stats);
  const unsigned = new BigUint64Array(stats);
  // 0: not statted (excluded), 1: statted, 2: lstat failed (errors), 3: symlink whose target failed (errors)
  const kinds = new Uint8Array(names.length);
  const targets: (string | null)[] = [];
  const errors: (ScanError | null)[] = [];
  const subdirs: string[] = [];
  for (let i = 0; i < names.length; i++) {
    const path = childPath(absPath, names[i]!);
    targets.push(null);
    errors.push(null);
    if (exclude(displayPath(path))) continue;
    let st;
    try {
      st = lstatSync(fsPath(path), { bigint: true });
    } catch (err) {
      kinds[i] = 2;
      errors[i] = encodeScanError(err);
      continue;
    }
    const at = i * STAT_FIELDS;
    signed[at] = st.mode;
    signed[at + 1] = st.uid;
    signed[at + 2] = st.gid;
    signed[at + 3] = st.size;
    signed[at + 4] = st.mtimeNs;
    signed[at + 5] = st.ctimeNs;
    unsigned[at + 6] = st.ino;
    unsigned[at + 7] = st.dev;
    kinds[i] = 1;
    if (st.isSymbolicLink()) {
      try {
        targets[i] = readTarget(path);
      } catch (err) {
        kinds[i] = 3;
        errors[i] = encodeScanError(err);
      }
    } else if (st.isDirectory()) subdirs.push(path);
  }
  post({ dir: absPath, names, stats, kinds, targets, errors });
  for (const sub of subdirs) scanDir(sub);
}

function post(message: ScannedDirMessage): void {
  job.port.postMessage(message, [message.stats]);
  Atomics.add(control, CONTROL.posted, message.names.length + 1);
  Atomics.add(control, CONTROL.messages, 1);
  Atomics.notify(control, CONTROL.messages);
}

/** The walk's order of the given paths: by path component (backup nests them under their parent directories). */
const byComponents = (a: string, b: string): number => {
  const x = a.split(sep);
  const y = b.split(sep);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return x.length - y.length;
};

for (const root of [...job.paths].sort(byComponents)) {
  try {
    if (!lstatSync(fsPath(root)).isDirectory()) continue;
  } catch {
    continue; // the walk reports it
  }
  scanDir(root);
}
Atomics.store(control, CONTROL.done, 1);
Atomics.add(control, CONTROL.messages, 1);
Atomics.notify(control, CONTROL.messages);
