/**
 * tree/ — directory trees of snapshots. Terms: a *node* is one file, directory or symlink with its
 * metadata; a *tree blob* is one directory's nodes sorted by name, stored as a stream of chunks (so
 * unchanged directories dedup); a snapshot's root tree lists the top components of its paths.
 */
export { decodeTree, encodeTree, mayListDirectories, sameListing, type NodeType, type TreeNode } from './node.js';
export { makeExcluder, readExcludeFile, type Excluder } from './exclude.js';
export { applyFileMetadata, applyMetadata, childPath, listNames, metadataOf, nodeFromStat, nodeType, readTarget, unchanged, type ChangeDetection, type NodeMetadata, type NodeStat } from './fs-node.js';
export { ScannedDir, SourceScan, type ScannedEntry } from './source-scan.js';
export { bytesOfName, displayPath, fsPath, nameFromBytes } from './raw-name.js';
