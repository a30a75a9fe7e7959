// Renders every figure of the page with vega-embed (inlined above) and makes the verdict tables sortable.
// window.milabReport records what happened, for people (the status line) and for the browser test. A figure
// counts as rendered only when its view ran without logging an error AND its data marks drew the number of
// items the page declares for it: Vega logs dataflow exceptions instead of rejecting, so "embed resolved"
// alone would call a chart that threw "rendered".
(function () {
  var state = window.milabReport = { expected: 0, rendered: 0, failed: [], errors: [], done: false };
  var figures = JSON.parse(document.getElementById('milab-figures').textContent);
  state.expected = figures.length;
  var status = document.getElementById('render-status');
  var current = null;
  var origError = console.error;
  console.error = function () {
    state.errors.push((current ? current + ': ' : '') + Array.prototype.join.call(arguments, ' '));
    return origError.apply(console, arguments);
  };
  window.addEventListener('error', function (e) { state.errors.push('page: ' + e.message); });
  function drawn(fig) {
    var n = 0;
    fig.getAttribute('data-mark-names').split(',').forEach(function (name) {
      Array.prototype.forEach.call(fig.querySelectorAll('g.' + name + '_marks'), function (g) { n += g.childElementCount; });
    });
    return n;
  }
  function fail(f, el, why) {
    state.failed.push(f.id + ': ' + why);
    el.textContent = 'This figure failed to render: ' + why;
    el.className += ' failed';
    el.parentNode.setAttribute('data-rendered', 'false');
    origError.call(console, 'figure ' + f.id + ' failed: ' + why);
  }
  // one figure at a time, so an error logged during a view's run is attributed to that figure
  var chain = Promise.resolve();
  figures.forEach(function (f) {
    chain = chain.then(function () {
      var el = document.querySelector('#' + f.id + ' .chart');
      var fig = el.parentNode, before = state.errors.length, logged = [];
      current = f.id;
      var logger = { level: function () { return logger; }, error: function () { logged.push(Array.prototype.join.call(arguments, ' ')); return logger; },
        warn: function () { return logger; }, info: function () { return logger; }, debug: function () { return logger; } };
      return vegaEmbed(el, f.spec, { renderer: 'svg', actions: false, mode: 'vega-lite', logger: logger }).then(function (res) {
        return res.view.runAsync();
      }).then(function () {
        var errs = logged.concat(state.errors.slice(before));
        var want = Number(fig.getAttribute('data-expected-items')), got = drawn(fig);
        if (errs.length) fail(f, el, errs.join('; '));
        else if (got !== want) fail(f, el, 'drew ' + got + ' of ' + want + ' marks');
        else { state.rendered++; fig.setAttribute('data-rendered', 'true'); }
      }).catch(function (err) { fail(f, el, String(err)); });
    });
  });
  chain.then(function () {
    current = null;
    state.done = true;
    status.textContent = state.rendered + ' of ' + state.expected + ' figures rendered' + (state.failed.length ? '; FAILED: ' + state.failed.join('; ') : '') + '.';
    if (state.failed.length) status.className += ' failed';
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
