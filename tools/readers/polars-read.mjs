// Independent reader check with Polars (nodejs-polars, the Rust Polars engine): reads every table of a run
// folder, either the Arrow IPC files or their Parquet copies, and reports what it sees as JSON. List columns
// are queried with Polars' own list functions (lst.lengths, explode), never by parsing text.
// Usage: node polars-read.mjs <run-folder> [arrow|parquet]
import { readFileSync } from 'node:fs';
import pl from 'nodejs-polars';
import { tablesUnder, encode, usage } from './lib.mjs';

usage('polars-read.mjs', '<run-folder> [arrow|parquet]');
const [dir, format = 'arrow'] = process.argv.slice(2);
const ext = format === 'parquet' ? '.parquet' : '.arrow';

/** "DataType(List(DataType(String)))" -> "List(String)" */
function typeName(dtype) {
  const s = String(dtype);
  const wrappers = s.split('DataType(').length - 1; // each wrapper opens once and closes at the end
  return s.replaceAll('DataType(', '').slice(0, s.length - 'DataType('.length * wrappers - wrappers);
}

const tables = {};
for (const [label, path] of tablesUnder(dir, ext)) {
  const df = format === 'parquet' ? pl.readParquet(path) : pl.readIPC(readFileSync(path)); // a path string must end in .ipc
  const t = { rows: df.height, columns: df.columns.map((c) => [c, typeName(df.getColumn(c).dtype)]),
    lists: {}, list_lengths: {}, exploded_count: {} };
  for (const c of df.columns) {
    if (!typeName(df.getColumn(c).dtype).startsWith('List')) continue;
    t.lists[c] = df.getColumn(c).toArray().map(encode);
    t.list_lengths[c] = df.select(pl.col(c).lst.lengths().alias('n')).getColumn('n').toArray().map(encode);
    t.exploded_count[c] = df.select(pl.col(c).explode().alias('x')).getColumn('x').dropNulls().length;
  }
  if (df.columns.includes('layer') && df.columns.includes('head')) {
    t.head_id = df.columns.includes('head_id') ? df.getColumn('head_id').toArray() : null;
    t.head_id_computed = df.select(pl.concatString([pl.lit('L'), pl.col('layer').cast(pl.Utf8), pl.lit('H'),
      pl.col('head').cast(pl.Utf8)], '').alias('id')).getColumn('id').toArray();
  }
  tables[label] = t;
}
process.stdout.write(JSON.stringify({ reader: 'nodejs-polars', format, tables }) + '\n');
