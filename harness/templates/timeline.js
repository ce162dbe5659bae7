// The timeline: draws only the ops inside the visible time window on a
// canvas, so a long run stays responsive. #timeline-data holds an index
// of pages of ops (their time ranges), page 0 and the ops that never
// completed; the other pages are files beside the report
// (timeline/page-<k>.js) loaded with a script element when the window
// reaches them, which works from file:// as over HTTP. Text from the
// history is only ever set with textContent or drawn with fillText.
(function () {
  'use strict';
  var el = document.getElementById('timeline-data');
  var canvas = document.getElementById('tl-canvas');
  if (!el || !canvas) { return; }
  var D = JSON.parse(el.textContent);
  var KEEP = 24;
  var pages = [], loading = {}, failed = {}, used = [];

  // A page's columns, with absolute starts and indices and its longest op.
  function decode(P) {
    var n = P.p.length, start = new Float64Array(n), index = new Float64Array(n);
    var t = 0, k = 0, maxDur = 0;
    for (var i = 0; i < n; i++) {
      t += P.s[i]; start[i] = t;
      k += P.i[i]; index[i] = k;
      if (P.d[i] > maxDur) { maxDur = P.d[i]; }
    }
    return { n: n, p: P.p, d: P.d, o: P.o, f: P.f, v: P.v, start: start, index: index, maxDur: maxDur };
  }
  pages[0] = decode(D.first);
  var open = decode(D.open);
  var total = D.pages.reduce(function (a, p) { return a + p.n; }, 0);

  var end = Math.max(D.end, 1);
  var lanes = Math.max(D.lanes, 1);
  var COLOURS = ['#8cd17d', '#ff9d9a', '#f1ce63'];
  var OUTCOME = ['ok', 'fail', 'info'];
  var FAULT = { partition: '#e15759', kill: '#b07aa1', pause: '#f28e2b', clock: '#4e79a7', loss: '#9c755f' };
  var laneH = Math.max(5, Math.min(16, Math.floor(640 / lanes)));
  var kinds = [];
  D.nem.forEach(function (f) { if (kinds.indexOf(f[2]) < 0) { kinds.push(f[2]); } });
  var AXIS = 18, NEM = 14 * Math.max(1, kinds.length) + 4;
  var height = AXIS + NEM + lanes * laneH + 4;
  var view = { t0: 0, w: Math.min(end, Math.max(1000, end * Math.min(1, 600 / Math.max(total, 1)))) };
  var selected = null, drawn = [], pending = null;

  window.temblorTimelinePage = function (k, P) {
    pages[k] = decode(P);
    delete loading[k];
    draw();
    if (pending && pending.page === k) { var j = pending; pending = null; jump(j.t, j.index); }
  };

  // Pages whose ops may show in [t0, t1] (evenly chosen ones when more
  // than KEEP would), loading those not here yet.
  function needed(t0, t1) {
    var all = [];
    for (var k = 0; k < D.pages.length; k++) {
      var info = D.pages[k];
      if (info.n > 0 && info.t0 <= t1 && info.t1 >= t0) { all.push(k); }
    }
    var out = all;
    if (all.length > KEEP) {
      out = [];
      for (var j = 0; j < KEEP; j++) { out.push(all[Math.floor(j * all.length / KEEP)]); }
    }
    out.forEach(function (k) { if (!pages[k]) { load(k); } });
    return { pages: out, sampled: all.length > out.length };
  }
  function load(k) {
    if (loading[k] || failed[k]) { return; }
    loading[k] = true;
    var s = document.createElement('script');
    s.src = 'timeline/page-' + k + '.js';
    s.onerror = function () { delete loading[k]; failed[k] = true; draw(); };
    document.head.appendChild(s);
  }
  // Keeps the browser's memory bounded: drops pages far from the window.
  function forget(keep) {
    keep.forEach(function (k) { used = used.filter(function (u) { return u !== k; }); used.push(k); });
    while (used.length > KEEP) { var k = used.shift(); if (k !== 0 && keep.indexOf(k) < 0) { pages[k] = undefined; } }
  }

  function endOf(P, i) { return P.d[i] < 0 ? end : P.start[i] + P.d[i]; }
  function lower(P, x) { var lo = 0, hi = P.n; while (lo < hi) { var m = (lo + hi) >> 1; if (P.start[m] < x) { lo = m + 1; } else { hi = m; } } return lo; }
  function fmt(us) { return us >= 1e6 ? (us / 1e6).toFixed(3) + ' s' : (us / 1e3).toFixed(1) + ' ms'; }

  function clamp() {
    view.w = Math.max(10, Math.min(view.w, end));
    view.t0 = Math.max(0, Math.min(view.t0, end - view.w));
  }

  function draw() {
    clamp();
    var ratio = window.devicePixelRatio || 1;
    var W = canvas.clientWidth || 1000;
    canvas.width = W * ratio; canvas.height = height * ratio; canvas.style.height = height + 'px';
    var c = canvas.getContext('2d');
    c.setTransform(ratio, 0, 0, ratio, 0, 0);
    c.clearRect(0, 0, W, height);
    var t0 = view.t0, t1 = view.t0 + view.w, px = W / view.w;
    axis(c, W, t0, t1, px);
    faults(c, t0, t1, px);
    drawn = [];
    var need = needed(t0, t1), want = need.pages, missing = 0, strided = 1;
    want.forEach(function (k) {
      var P = pages[k];
      if (!P) { missing += 1; return; }
      var from = lower(P, t0 - P.maxDur), to = lower(P, t1 + 1);
      var stride = Math.max(1, Math.floor((to - from) * want.length / 200000));
      strided = Math.max(strided, stride);
      for (var i = from; i < to; i += stride) { if (P.d[i] >= 0 && endOf(P, i) >= t0) { op(c, P, i, t0, px, W); } }
    });
    for (var j = 0; j < open.n; j++) { if (open.start[j] <= t1) { op(c, open, j, t0, px, W); } }
    forget(want);
    document.getElementById('tl-range').textContent = fmt(t0) + ' – ' + fmt(t1) + ', ' + drawn.length + ' ops shown' +
      (strided > 1 ? ' (every ' + strided + 'th)' : '') +
      (need.sampled ? ' (' + want.length + ' of the pages in view; zoom in for all)' : '') +
      (missing > 0 ? ', loading ' + missing + ' page(s)…' : '');
    document.getElementById('tl-pos').value = Math.round(1000 * t0 / Math.max(1, end - view.w));
  }

  function axis(c, W, t0, t1, px) {
    var step = Math.pow(10, Math.floor(Math.log10(view.w / 8)));
    if (view.w / step > 16) { step *= 5; } else if (view.w / step > 8) { step *= 2; }
    c.fillStyle = '#555'; c.font = '10px sans-serif'; c.strokeStyle = '#eee';
    for (var x = Math.ceil(t0 / step) * step; x <= t1; x += step) {
      var X = (x - t0) * px;
      c.beginPath(); c.moveTo(X, AXIS - 4); c.lineTo(X, height); c.stroke();
      c.fillText(fmt(x), X + 2, 10);
    }
  }

  function faults(c, t0, t1, px) {
    D.nem.forEach(function (f) {
      if (f[1] < t0 || f[0] > t1) { return; }
      var x0 = Math.max(0, (f[0] - t0) * px), x1 = (f[1] - t0) * px;
      c.globalAlpha = 0.12; c.fillStyle = FAULT[f[2]] || '#999';
      c.fillRect(x0, AXIS, x1 - x0, height - AXIS);
      var y = AXIS + 2 + 14 * kinds.indexOf(f[2]);
      c.globalAlpha = 1; c.fillRect(x0, y, Math.max(2, x1 - x0), 12);
      c.fillStyle = '#fff'; c.font = '10px sans-serif'; c.fillText(f[3], x0 + 3, y + 10, Math.max(0, x1 - x0 - 4));
    });
  }

  function isSelected(P, i) { return selected !== null && selected.P === P && selected.i === i; }

  function op(c, P, i, t0, px, W) {
    var lane = P.p[i] % lanes;
    var x0 = (P.start[i] - t0) * px, x1 = (endOf(P, i) - t0) * px;
    x0 = Math.max(-1, x0); x1 = Math.min(W + 1, Math.max(x1, x0 + 1.5));
    var y = AXIS + NEM + lane * laneH;
    c.fillStyle = COLOURS[P.o[i]];
    c.fillRect(x0, y + 1, x1 - x0, laneH - 2);
    if (isSelected(P, i)) { c.strokeStyle = '#000'; c.lineWidth = 2; c.strokeRect(x0, y + 1, x1 - x0, laneH - 2); c.lineWidth = 1; }
    if (x1 - x0 > 40 && laneH >= 12) {
      c.fillStyle = '#222'; c.font = '10px sans-serif';
      c.fillText(D.fs[P.f[i]] + ' ' + P.v[i], x0 + 2, y + laneH - 4, x1 - x0 - 4);
    }
    drawn.push([P, i]);
  }

  function show(P, i) {
    selected = { P: P, i: i };
    var lines = [
      'index ' + P.index[i] + '   process ' + P.p[i] + '   ' + OUTCOME[P.o[i]],
      D.fs[P.f[i]] + ' ' + P.v[i],
      'invoked at ' + fmt(P.start[i]) + (P.d[i] < 0 ? ', never completed' : ', took ' + fmt(P.d[i]))
    ];
    document.getElementById('tl-detail').textContent = lines.join('\n');
  }

  // The loaded op whose invocation index is `index`, near time t.
  function find(t, index) {
    var all = pages.concat([open]);
    for (var k = 0; k < all.length; k++) {
      var P = all[k];
      if (!P) { continue; }
      for (var i = lower(P, t); i < P.n && P.start[i] <= t; i++) { if (P.index[i] === index) { return [P, i]; } }
    }
    return null;
  }

  function jump(t, index) {
    var hit = index === null || index === undefined ? null : find(t, index);
    var d = hit ? hit[0].d[hit[1]] : -1;
    view.w = Math.min(view.w, Math.max(2000, (d > 0 ? d * 8 : view.w)));
    view.t0 = t - view.w / 2;
    if (hit) { show(hit[0], hit[1]); } else if (index !== null && index !== undefined) {
      // Its page is not here yet: select it once it is.
      for (var k = 0; k < D.pages.length; k++) {
        var info = D.pages[k];
        if (info.t0 <= t && t <= info.t1 && !pages[k]) { pending = { page: k, t: t, index: index }; }
      }
    }
    draw();
  }

  canvas.addEventListener('click', function (e) {
    var r = canvas.getBoundingClientRect(), px = r.width / view.w;
    var lane = Math.floor((e.clientY - r.top - AXIS - NEM) / laneH);
    var at = view.t0 + (e.clientX - r.left) / px, slack = 3 / px;
    for (var j = drawn.length - 1; j >= 0; j--) {
      var P = drawn[j][0], i = drawn[j][1];
      if (P.p[i] % lanes === lane && P.start[i] - slack <= at && endOf(P, i) + slack >= at) { show(P, i); draw(); return; }
    }
  });
  canvas.addEventListener('wheel', function (e) {
    e.preventDefault();
    var r = canvas.getBoundingClientRect(), at = view.t0 + (e.clientX - r.left) / r.width * view.w;
    var f = e.deltaY > 0 ? 1.25 : 0.8;
    view.w *= f; view.t0 = at - (at - view.t0) * f; draw();
  }, { passive: false });
  function on(id, f) { document.getElementById(id).addEventListener('click', function () { f(); draw(); }); }
  on('tl-prev', function () { view.t0 -= view.w * 0.8; });
  on('tl-next', function () { view.t0 += view.w * 0.8; });
  on('tl-in', function () { view.t0 += view.w / 4; view.w /= 2; });
  on('tl-out', function () { view.t0 -= view.w / 2; view.w *= 2; });
  on('tl-all', function () { view.t0 = 0; view.w = end; });
  document.getElementById('tl-pos').addEventListener('input', function (e) {
    view.t0 = e.target.value / 1000 * (end - view.w); draw();
  });
  var marks = document.getElementById('tl-marks');
  D.marks.forEach(function (m, j) {
    var o = document.createElement('option');
    o.value = String(j); o.textContent = fmt(m.t) + ': ' + m.label;
    marks.appendChild(o);
  });
  marks.addEventListener('change', function () {
    var m = D.marks[Number(marks.value)];
    if (m) { jump(m.t, m.index); }
  });
  window.addEventListener('resize', draw);
  if (D.marks.length > 0 && D.marks[0].index !== null) { jump(D.marks[0].t, D.marks[0].index); } else { draw(); }
})();
