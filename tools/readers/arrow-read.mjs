// Independent reader check: opens an Arrow IPC *file* with the apache-arrow JS library (not the Java code
// that wrote it) and prints what it sees as JSON, so a test can compare it with the Java side.
// Usage: node arrow-read.mjs <table.arrow>     one file, every cell (below)
//        node arrow-read.mjs <run-folder>      every table of a run, summarized as polars-read.mjs does
//
// Value encoding (JSON cannot carry every Arrow value exactly):
//   Int64   -> decimal string (a JS number would lose precision above 2^53)
//   Float64 -> JSON number (shortest round-trip form), or "NaN", "Infinity", "-Infinity", "-0"
//   Utf8    -> string, Bool -> true/false, null -> null
//   List    -> JSON array of its elements, each encoded as above
import { readFileSync, statSync } from 'node:fs';
import { RecordBatchReader, tableFromIPC } from 'apache-arrow';
import { tablesUnder, encode } from './lib.mjs';

const path = process.argv[2];
if (!path) {
  console.error('usage: node arrow-read.mjs <table.arrow | run-folder>');
  process.exit(2);
}
// (no process.exit after writing: it would cut stdout short when it is a pipe)
if (statSync(path).isDirectory()) summarizeRun(path);
else readOneFile(path);

/** The one-file mode: the schema, metadata, batches and every cell. */
function readOneFile(path) {
  const bytes = readFileSync(path);
  // The file format starts and ends with the magic "ARROW1"; the stream format has neither. Checked on the
  // raw bytes so the answer does not depend on the library's own detection.
  const magic = (buf) => buf.toString('latin1') === 'ARROW1';
  const hasFileMagic = bytes.length >= 12 && magic(bytes.subarray(0, 6)) && magic(bytes.subarray(bytes.length - 6));

  const reader = RecordBatchReader.from(bytes);
  reader.open();
  // Read these before iterating: the reader closes itself (and drops its schema) after the last batch.
  const schema = reader.schema;
  const isFile = reader.isFile();
  const batches = [...reader];

  const rows = [];
  for (const batch of batches) {
    const columns = schema.fields.map((_, i) => batch.getChildAt(i));
    for (let r = 0; r < batch.numRows; r++) {
      const row = {};
      schema.fields.forEach((f, i) => { row[f.name] = encode(columns[i].get(r)); });
      rows.push(row);
    }
  }

  const out = {
    format: hasFileMagic && isFile ? 'file' : 'stream',
    fields: schema.fields.map((f) => ({
      name: f.name,
      type: String(f.type),
      nullable: f.nullable,
      metadata: Object.fromEntries(f.metadata),
      children: (f.type.children || []).map((c) => ({ name: c.name, type: String(c.type) })),
    })),
    metadata: Object.fromEntries(schema.metadata),
    num_rows: rows.length,
    batch_rows: batches.map((b) => b.numRows),
    rows,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

/** The run-folder mode: per table its rows, columns, list cells and head ids, in polars-read.mjs's shape. */
function summarizeRun(dir) {
  const tables = {};
  for (const [label, file] of tablesUnder(dir, '.arrow')) {
    const t = tableFromIPC(readFileSync(file));
    const names = t.schema.fields.map((f) => f.name);
    const out = { rows: t.numRows, columns: t.schema.fields.map((f) => [f.name, String(f.type)]),
      lists: {}, list_lengths: {}, exploded_count: {} };
    for (const f of t.schema.fields) {
      if (!String(f.type).startsWith('List')) continue;
      const col = t.getChild(f.name);
      const cells = Array.from({ length: t.numRows }, (_, r) => col.get(r));
      out.lists[f.name] = cells.map((v) => encode(v));
      out.list_lengths[f.name] = cells.map((v) => (v === null ? null : v.length));
      out.exploded_count[f.name] = cells.reduce((n, v) => n + (v === null ? 0 : v.length), 0);
    }
    if (names.includes('layer') && names.includes('head')) {
      const layer = t.getChild('layer'), head = t.getChild('head');
      out.head_id = names.includes('head_id') ? Array.from({ length: t.numRows }, (_, r) => t.getChild('head_id').get(r)) : null;
      out.head_id_computed = Array.from({ length: t.numRows }, (_, r) => `L${layer.get(r)}H${head.get(r)}`);
    }
    tables[label] = out;
  }
  process.stdout.write(JSON.stringify({ reader: 'apache-arrow', format: 'arrow', tables }) + '\n');
}
