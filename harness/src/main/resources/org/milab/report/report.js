// Renders every figure of the page with vega-embed (inlined above) and makes the verdict tables sortable.
// window.milabReport records what happened, for people (the status line) and for the browser test.
(function () {
  var state = window.milabReport = { expected: 0, rendered: 0, failed: [], done: false };
  var figures = JSON.parse(document.getElementById('milab-figures').textContent);
  state.expected = figures.length;
  var status = document.getElementById('render-status');
  var jobs = figures.map(function (f) {
    var el = document.querySelector('#' + f.id + ' .chart');
    return vegaEmbed(el, f.spec, { renderer: 'svg', actions: false, mode: 'vega-lite' }).then(function () {
      state.rendered++;
      el.parentNode.setAttribute('data-rendered', 'true');
    }).catch(function (err) {
      state.failed.push(f.id + ': ' + err);
      el.textContent = 'This figure failed to render: ' + err;
      el.className += ' failed';
      console.error('figure ' + f.id + ' failed: ' + err);
    });
  });
  Promise.all(jobs).then(function () {
    state.done = true;
    status.textContent = state.rendered + ' of ' + state.expected + ' figures rendered' + (state.failed.length ? '; failed: ' + state.failed.join('; ') : '') + '.';
  });

  // sortable tables: click a header; numbers sort as numbers, everything else as text
  Array.prototype.forEach.call(document.querySelectorAll('table.verdicts'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener('click', function () {
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (o) { o.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var key = function (r) { var t = r.cells[col].getAttribute('data-sort') || r.cells[col].textContent; var n = parseFloat(t); return isNaN(n) || !/^-?[0-9.]/.test(t) ? t : n; };
        rows.sort(function (a, b) { var x = key(a), y = key(b); var c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y)); return asc ? c : -c; });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
