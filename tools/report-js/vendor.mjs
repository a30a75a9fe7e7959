// Refreshes the chart libraries vendored into report.html from the pinned npm packages.
// Usage (repository root): npm ci --prefix tools/report-js && node tools/report-js/vendor.mjs
// Copies each package's minified browser build and its LICENSE, byte for byte, into the harness resources
// and records package, version, file and sha256 in vendor.json. VendoredLibrariesTest checks the files
// against vendor.json (and against node_modules when installed), so a refresh is one reviewed commit.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', 'harness', 'src', 'main', 'resources', 'org', 'milab', 'report', 'vendor');
// load order in the page: vega, then vega-lite (needs vega), then vega-embed (needs both)
const libraries = [
  { package: 'vega', build: 'build/vega.min.js' },
  { package: 'vega-lite', build: 'build/vega-lite.min.js' },
  { package: 'vega-embed', build: 'build/vega-embed.min.js' },
];
const pinned = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).dependencies;
const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

mkdirSync(out, { recursive: true });
const entries = libraries.map((lib) => {
  const dir = join(here, 'node_modules', lib.package);
  const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  if (version !== pinned[lib.package]) {
    throw new Error(`${lib.package} ${version} is installed but package.json pins ${pinned[lib.package]}: run npm ci --prefix tools/report-js`);
  }
  const file = lib.build.split('/').pop();
  const license = `${lib.package}.LICENSE`;
  copyFileSync(join(dir, lib.build), join(out, file));
  copyFileSync(join(dir, 'LICENSE'), join(out, license));
  return { package: lib.package, version, source: lib.build, file, sha256: sha256(join(out, file)), license, license_sha256: sha256(join(out, license)) };
});
writeFileSync(join(out, 'vendor.json'), JSON.stringify({ schema: 'milab.vendor/1', libraries: entries }, null, 2) + '\n');
console.log(`vendored ${entries.map((e) => `${e.package}@${e.version}`).join(', ')} into ${out}`);
