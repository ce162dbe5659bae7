// The timeline: decodes the compact columns embedded in #timeline-data
// once, then draws only the ops inside the visible time window on a
// canvas, so a million-op run stays responsive. Text from the history
// is only ever set with textContent or drawn with fillText.
(function () {
  'use strict';
  var el = document.getElementById('timeline-data');
  var canvas = document.getElementById('tl-canvas');
  if (!el || !canvas) { return; }
  var D = JSON.parse(el.textContent);
  var n = D.p.length;
  var start = new Float64Array(n), index = new Float64Array(n);
  var t = 0, k = 0, maxDur = 0, open = [];
  for (var i = 0; i < n; i++) {
    t += D.s[i]; start[i] = t;
    k += D.i[i]; index[i] = k;
    if (D.d[i] < 0) { open.push(i); } else if (D.d[i] > maxDur) { maxDur = D.d[i]; }
  }
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
  var view = { t0: 0, w: Math.min(end, Math.max(1000, end * Math.min(1, 600 / Math.max(n, 1)))) };
  var selected = -1, drawn = [];

  function endOf(i) { return D.d[i] < 0 ? end : start[i] + D.d[i]; }
  function lower(x) { var lo = 0, hi = n; while (lo < hi) { var m = (lo + hi) >> 1; if (start[m] < x) { lo = m + 1; } else { hi = m; } } return lo; }
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
    var from = lower(t0 - maxDur), to = lower(t1 + 1);
    var stride = Math.max(1, Math.floor((to - from) / 200000));
    for (var i = from; i < to; i += stride) { if (endOf(i) >= t0) { op(c, i, t0, px, W); } }
    for (var j = 0; j < open.length; j++) { if (start[open[j]] < t0 - maxDur) { op(c, open[j], t0, px, W); } }
    document.getElementById('tl-range').textContent = fmt(t0) + ' – ' + fmt(t1) + ', ' + drawn.length + ' ops shown' + (stride > 1 ? ' (every ' + stride + 'th)' : '');
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

  function op(c, i, t0, px, W) {
    var lane = D.p[i] % lanes;
    var x0 = (start[i] - t0) * px, x1 = (endOf(i) - t0) * px;
    x0 = Math.max(-1, x0); x1 = Math.min(W + 1, Math.max(x1, x0 + 1.5));
    var y = AXIS + NEM + lane * laneH;
    c.fillStyle = COLOURS[D.o[i]];
    c.fillRect(x0, y + 1, x1 - x0, laneH - 2);
    if (i === selected) { c.strokeStyle = '#000'; c.lineWidth = 2; c.strokeRect(x0, y + 1, x1 - x0, laneH - 2); c.lineWidth = 1; }
    if (x1 - x0 > 40 && laneH >= 12) {
      c.fillStyle = '#222'; c.font = '10px sans-serif';
      c.fillText(D.fs[D.f[i]] + ' ' + D.v[i], x0 + 2, y + laneH - 4, x1 - x0 - 4);
    }
    drawn.push(i);
  }

  function show(i) {
    selected = i;
    var lines = [
      'index ' + index[i] + '   process ' + D.p[i] + '   ' + OUTCOME[D.o[i]],
      D.fs[D.f[i]] + ' ' + D.v[i],
      'invoked at ' + fmt(start[i]) + (D.d[i] < 0 ? ', never completed' : ', took ' + fmt(D.d[i]))
    ];
    document.getElementById('tl-detail').textContent = lines.join('\n');
  }

  function jump(t, i) {
    view.w = Math.min(view.w, Math.max(2000, (i >= 0 && D.d[i] > 0 ? D.d[i] * 8 : view.w)));
    view.t0 = t - view.w / 2;
    if (i >= 0) { show(i); }
    draw();
  }

  canvas.addEventListener('click', function (e) {
    var r = canvas.getBoundingClientRect(), px = r.width / view.w;
    var lane = Math.floor((e.clientY - r.top - AXIS - NEM) / laneH);
    var at = view.t0 + (e.clientX - r.left) / px, slack = 3 / px;
    for (var j = drawn.length - 1; j >= 0; j--) {
      var i = drawn[j];
      if (D.p[i] % lanes === lane && start[i] - slack <= at && endOf(i) + slack >= at) { show(i); draw(); return; }
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
  function indexOfMark(m) {
    if (m.index === null || m.index === undefined) { return -1; }
    for (var i = lower(m.t); i < n && start[i] <= m.t; i++) { if (index[i] === m.index) { return i; } }
    return -1;
  }
  marks.addEventListener('change', function () {
    var m = D.marks[Number(marks.value)];
    if (m) { jump(m.t, indexOfMark(m)); }
  });
  window.addEventListener('resize', draw);
  if (D.marks.length > 0 && D.marks[0].index !== null) { jump(D.marks[0].t, indexOfMark(D.marks[0])); } else { draw(); }
})();
