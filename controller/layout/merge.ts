// Layout files merged as systemd merges drop-ins: in order, later keys win; maps merge key by key.
import { Entry, MapTree, type Tree } from './tree.ts';

/**
 * `overlay` applied on `base`: where both hold a map, the maps merge entry by entry (new keys keep
 * their file order, after the existing ones); anything else — scalars, lists, an empty value — replaces
 * what was there. Every value keeps the position of the file it came from. Linear in the two maps; its
 * recursion is as deep as the trees, which the parser caps.
 */
export function mergeTrees(base: Tree, overlay: Tree): Tree {
  if (base.kind !== 'map' || overlay.kind !== 'map') return overlay;
  const overlayEntries = new Map(overlay.entries.map((entry) => [entry.key, entry]));
  const entries: Entry[] = base.entries.map((entry) => {
    const over = overlayEntries.get(entry.key);
    return over ? new Entry(over.source, over.at, entry.key, mergeTrees(entry.value, over.value)) : entry;
  });
  const baseKeys = new Set(base.entries.map((entry) => entry.key));
  for (const entry of overlay.entries) if (!baseKeys.has(entry.key)) entries.push(entry);
  return new MapTree(base.source, base.at, entries);
}

/** The files' trees merged in order; a file that writes nothing (only comments) changes nothing. */
export function mergeAll(trees: readonly (Tree | undefined)[]): Tree | undefined {
  let merged: Tree | undefined;
  for (const tree of trees) if (tree) merged = merged ? mergeTrees(merged, tree) : tree;
  return merged;
}
