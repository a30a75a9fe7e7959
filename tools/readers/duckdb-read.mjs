// Independent reader check with DuckDB (@duckdb/node-api): reads the Parquet copy of every table of a run
// folder with SQL and reports what it sees as JSON. List columns are queried with DuckDB's list functions
// (len, unnest), never by parsing text. DuckDB reads Arrow IPC only through a community extension that is
// downloaded at run time, so offline it reads the Parquet copies the lab writes beside every table.
// Usage: node duckdb-read.mjs <run-folder>
import { DuckDBInstance } from '@duckdb/node-api';
import { tablesUnder, encode, usage } from './lib.mjs';

usage('duckdb-read.mjs', '<run-folder>');
const dir = process.argv[2];
// one thread keeps every scan in file order, so rows line up with the Arrow tables
const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await db.connect();
const q = (s) => "'" + s.replace(/'/g, "''") + "'";
const ident = (s) => '"' + s.replace(/"/g, '""') + '"';
const all = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJS();

const tables = {};
for (const [label, path] of tablesUnder(dir, '.parquet')) {
  const src = `read_parquet(${q(path)})`;
  const columns = (await all(`DESCRIBE SELECT * FROM ${src}`)).map((r) => [r.column_name, r.column_type]);
  const t = { rows: Number((await all(`SELECT count(*) AS n FROM ${src}`))[0].n), columns,
    lists: {}, list_lengths: {}, exploded_count: {} };
  const names = columns.map((c) => c[0]);
  for (const [c, type] of columns) {
    if (!type.endsWith('[]')) continue;
    const rows = await all(`SELECT ${ident(c)} AS v, len(${ident(c)}) AS n FROM ${src}`);
    t.lists[c] = rows.map((r) => encode(r.v));
    t.list_lengths[c] = rows.map((r) => encode(r.n));
    t.exploded_count[c] = Number((await all(`SELECT count(x) AS n FROM (SELECT unnest(${ident(c)}) AS x FROM ${src})`))[0].n);
  }
  if (names.includes('layer') && names.includes('head')) {
    const rows = await all(`SELECT ${names.includes('head_id') ? 'head_id' : 'NULL AS head_id'},
        'L' || layer || 'H' || head AS computed FROM ${src}`);
    t.head_id = names.includes('head_id') ? rows.map((r) => r.head_id) : null;
    t.head_id_computed = rows.map((r) => r.computed);
  }
  const kv = await all(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${q(path)})`);
  t.metadata = Object.fromEntries(kv.map((r) => [r.k, r.v]));
  tables[label] = t;
}
process.stdout.write(JSON.stringify({ reader: '@duckdb/node-api', format: 'parquet', tables }) + '\n');
