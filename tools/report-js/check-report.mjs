// Opens report.html files in Debian's chromium (headless, offline: every non-file request is blocked and
// recorded) and prints, as JSON, what a person would see: console errors, page errors, blocked requests,
// each figure's drawn marks against what it declares, the verdict table's rows, and a hover tooltip.
// Saves per report (viewport 1366x768) a screenshot of the top, of the first figures, and of the full page. Never downloads a browser.
// Usage: node check-report.mjs <out-dir> <report.html>...   (MILAB_CHROMIUM overrides /usr/bin/chromium)
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [outDir, ...reports] = process.argv.slice(2);
if (!outDir || reports.length === 0) {
  console.error('usage: node check-report.mjs <out-dir> <report.html>...');
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), 'milab-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.MILAB_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1366, height: 768 },  // a laptop screen: the page's first screen is judged at this size
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-first-run', '--disable-quic'],
});
const results = [];
try {
  for (const [i, report] of reports.entries()) {
    const page = await context.newPage();
    const seen = { report, console_errors: [], page_errors: [], blocked_requests: [] };
    page.on('console', (m) => { if (m.type() === 'error') seen.console_errors.push(m.text()); });
    page.on('pageerror', (e) => seen.page_errors.push(String(e)));
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
      seen.blocked_requests.push(url);
      return route.abort();
    });
    await page.goto(pathToFileURL(report).href);
    await page.waitForFunction(() => window.milabReport && window.milabReport.done, null, { timeout: 120000 });
    Object.assign(seen, await page.evaluate(() => {
      const figures = [...document.querySelectorAll('figure.milab-figure')].map((f) => {
        const names = f.dataset.markNames.split(',');
        let drawn = 0;
        for (const n of names) for (const g of f.querySelectorAll('g.' + n + '_marks')) drawn += g.childElementCount;
        const svg = f.querySelector('svg');
        const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0, top: 0, left: 0 };
        const top = f.getBoundingClientRect().top + window.scrollY;
        // where the chart itself is (a figure whose caption shows but whose chart is below the fold is not seen)
        return { id: f.id, marks: names, expected: Number(f.dataset.expectedItems), drawn, rendered: f.dataset.rendered === 'true',
          svg_width: box.width, svg_height: box.height, svg_top: box.top + window.scrollY, svg_left: box.left, top };
      });
      const rows = [...document.querySelectorAll("#verdict-table tbody tr[data-head]")].map((r) => ({ protocol: r.dataset.protocol, head: r.dataset.head }));
      const verdict = document.getElementById('verdict');
      return { state: window.milabReport, figures, verdict_rows: rows, status_line: document.getElementById('render-status').textContent,
        page_height: document.documentElement.scrollHeight, verdict_top: verdict ? verdict.getBoundingClientRect().top + window.scrollY : -1,
        toc: [...document.querySelectorAll('nav#toc a')].map((a) => a.getAttribute('href')) };
    }));
    // hover the first cell of the first attention grid (or of any heatmap): the tooltip must show its value
    const cell = await page.$('g[class*="attn_pos_"] path') || await page.$('g.cells_marks path');
    if (cell) {
      await cell.scrollIntoViewIfNeeded();
      const box = await cell.boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.waitForTimeout(300);
      seen.tooltip = await page.evaluate(() => {
        const t = document.querySelector('#vg-tooltip-element');
        return t && t.classList.contains('visible') ? t.textContent : null;
      });
    }
    const name = basename(dirname(report)) + '-' + i;
    await page.mouse.move(0, 0);  // the hover's tooltip would cover part of the screenshots
    await page.evaluate(() => window.scrollTo(0, 0));
    seen.screenshot = join(outDir, name + '.png');
    seen.screenshot_full = join(outDir, name + '-full.png');
    await page.screenshot({ path: seen.screenshot });
    await page.screenshot({ path: seen.screenshot_full, fullPage: true });
    // the first figures, as a reader scrolling past the verdict sees them
    seen.screenshot_figures = join(outDir, name + '-figures.png');
    await page.evaluate(() => document.querySelector('figure.milab-figure').scrollIntoView());
    await page.evaluate(() => window.scrollBy(0, -60));
    await page.screenshot({ path: seen.screenshot_figures });
    seen.browser = context.browser() ? context.browser().version() : 'chromium';
    results.push(seen);
    await page.close();
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(results, null, 1));
