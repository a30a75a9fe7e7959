// Shared by the independent readers: which tables a run holds, and how values become JSON.
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** [label, path] of every `*<ext>` file under `dir`, label = path relative to dir without the extension, sorted. */
export function tablesUnder(dir, ext) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(ext)) out.push([relative(dir, p).split(sep).join('/').slice(0, -ext.length), p]);
    }
  };
  walk(dir);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * JSON-safe value: int64 as decimal string, NaN/infinities/-0 as strings, lists element-wise (a JS array, or
 * an apache-arrow Vector, which is how that library hands out a list cell).
 */
export function encode(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity) return 'Infinity';
    if (v === -Infinity) return '-Infinity';
    if (Object.is(v, -0)) return '-0';
    return v;
  }
  if (Array.isArray(v)) return v.map(encode);
  if (typeof v === 'object' && typeof v.toArray === 'function' && typeof v.length === 'number') {
    return Array.from({ length: v.length }, (_, i) => encode(v.get(i)));
  }
  return v;
}

export function usage(script, text) {
  if (process.argv.length < 3) {
    console.error(`usage: node ${script} ${text}`);
    process.exit(2);
  }
}
