// make check-report RUN=results/<run>: the browser check of ReportBrowserTest on any run's report.html, by hand
// (e.g. on a full `make demo` run or a GPT-2-sized one, which CI does not run). Opens the page with check-report.mjs
// (Debian's chromium, offline, 1366x768) and prints what a reader would meet: problems (console or page errors,
// network requests, figures that failed or drew fewer marks than their data), the figures whose whole chart is on
// the first screen, and the page height against its budget. Exit 1 when anything fails, 2 on bad usage.
// Usage: node check-run.mjs <run-folder-or-report.html> <screenshot-dir> [min figures above the fold, default 4]
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The same declarations as ReportBrowserTest: the first screen, and the page budget (the figures within 9000 px,
// then at most 22 px per line of the one-line-per-head evidence table).
const FOLD_HEIGHT = 768, FOLD_WIDTH = 1366, FIGURES_BUDGET = 9000, ROW_BUDGET = 22;

const [target, outDir, minArg] = process.argv.slice(2);
if (!target || !outDir) {
  console.error('usage: node check-run.mjs <run-folder-or-report.html> <screenshot-dir> [min figures above the fold]');
  process.exit(2);
}
const report = existsSync(target) && statSync(target).isDirectory() ? join(target, 'report.html') : target;
if (!existsSync(report)) {
  console.error(`no report at ${report}: pass a finished run folder (results/<run>), or write its report with make report RUN=${target}`);
  process.exit(2);
}
const minFigures = minArg === undefined ? 4 : Number(minArg);
const script = join(dirname(fileURLToPath(import.meta.url)), 'check-report.mjs');
const page = JSON.parse(execFileSync(process.execPath, [script, outDir, report], { encoding: 'utf8', maxBuffer: 1 << 28 }))[0];

const problems = [];
for (const e of page.console_errors) problems.push('console error: ' + e);
for (const e of page.page_errors) problems.push('page error: ' + e);
for (const e of page.blocked_requests) problems.push('network request: ' + e);
for (const e of page.state.failed) problems.push('failed figure: ' + e);
for (const f of page.figures) {
  if (!f.rendered) problems.push(f.id + ' not rendered');
  if (!(f.expected > 0)) problems.push(f.id + ' declares no marks');
  if (f.drawn !== f.expected) problems.push(`${f.id} drew ${f.drawn} of ${f.expected} marks`);
  if (!(f.svg_width * f.svg_height > 0)) problems.push(f.id + ' has an empty SVG');
}
const fold = page.figures.filter((f) => f.svg_top + f.svg_height <= FOLD_HEIGHT && f.svg_left + f.svg_width <= FOLD_WIDTH).map((f) => f.id);
if (fold.length < minFigures) problems.push(`${fold.length} whole figures above the fold at ${FOLD_WIDTH}x${FOLD_HEIGHT}, fewer than ${minFigures}`);
if (!(page.verdict_top >= 0 && page.verdict_top < 200)) problems.push('the verdict does not open the page');
const budget = FIGURES_BUDGET + ROW_BUDGET * page.verdict_rows.length;
if (page.page_height > budget) problems.push(`page ${page.page_height} px high, over its budget of ${budget} px`);

console.log(`${report} in ${page.browser}:`);
console.log(`  ${page.state.rendered} of ${page.state.expected} figures drawn; ${page.status_line}`);
console.log(`  above the fold (${FOLD_WIDTH}x${FOLD_HEIGHT}, whole charts): ${fold.length ? fold.join(', ') : 'none'}`);
console.log(`  page ${page.page_height} px high (budget ${FIGURES_BUDGET} + ${ROW_BUDGET} x ${page.verdict_rows.length} evidence rows = ${budget} px)`);
console.log(`  screenshots: ${page.screenshot}, ${page.screenshot_figures}, ${page.screenshot_full}`);
for (const p of problems) console.log('  PROBLEM: ' + p);
console.log(problems.length ? `FAILED: ${problems.length} problem(s)` : 'OK: no problem');
process.exit(problems.length ? 1 : 0);
