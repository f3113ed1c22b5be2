// gradstep lesson page: steps through a recorded backward pass. No network, no libraries.
// The data holds each step as the changes it makes to node states, edge states and gradient
// labels; the state at step k is those changes applied from step 1, as in the app.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("page-data").textContent);
  var steps = D.steps, N = steps.length;
  var svg = document.getElementById("graph");
  var nodes = Array.prototype.slice.call(svg.querySelectorAll("#nodes > .node"));
  var edges = Array.prototype.slice.call(svg.querySelectorAll("#edges > .edge"));
  var labelLayer = svg.querySelector("#labels");
  var slider = document.getElementById("slider");
  var counter = document.getElementById("counter");
  var where = document.getElementById("where");
  var chain = document.getElementById("chain");
  var codeLines = document.querySelectorAll("#code > li");
  var notes = document.querySelectorAll("#notes > .note");
  var SVGNS = "http://www.w3.org/2000/svg";

  var nodeState = [], edgeState = [], labelOf = [];
  var shown = -1; // the step whose state is in the arrays (-1: none yet)

  function reset() {
    var i;
    for (i = 0; i < nodes.length; i++) nodeState[i] = 0;
    for (i = 0; i < edges.length; i++) { edgeState[i] = 0; labelOf[i] = -1; }
    shown = -1;
  }

  function apply(k) {
    var s = steps[k], i, a;
    a = s[3]; for (i = 0; i < a.length; i += 2) nodeState[a[i]] = a[i + 1];
    a = s[4]; for (i = 0; i < a.length; i += 2) edgeState[a[i]] = a[i + 1];
    a = s[5]; for (i = 0; i < a.length; i += 2) labelOf[a[i]] = a[i + 1];
  }

  // Labels whose text a substitute font makes wider than their box are squeezed to fit.
  function fitText() {
    nodes.forEach(function (g) {
      var box = g.querySelector(".box");
      var room = box.width.baseVal.value - 6;
      g.querySelectorAll("text").forEach(function (t) {
        if (t.getComputedTextLength() > room) {
          t.setAttribute("textLength", room);
          t.setAttribute("lengthAdjust", "spacingAndGlyphs");
        }
      });
    });
  }

  function nodeRect(i) {
    var b = nodes[i].querySelector(".box");
    return { x: b.x.baseVal.value, y: b.y.baseVal.value,
             w: b.width.baseVal.value, h: b.height.baseVal.value };
  }

  function overlap(a, b) {
    var w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
    var h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
    return w > 0 && h > 0 ? w * h : 0;
  }

  var SPOTS = [0.5, 0.38, 0.62, 0.27, 0.73, 0.16, 0.84];

  // Each gradient on its edge, where it covers the least of the other labels and no node
  // (the app's rule: the middle when free, else the freest spot towards either end).
  function drawLabels(k) {
    while (labelLayer.firstChild) labelLayer.removeChild(labelLayer.firstChild);
    var boxes = [], placed = [], i;
    for (i = 0; i < nodes.length; i++) {
      var st = D.nodeStates[nodeState[i]];
      if (st !== "hidden") boxes.push(nodeRect(i));
    }
    for (i = 0; i < edges.length; i++) {
      if (labelOf[i] < 0 || !D.labelled[i] || D.edgeStates[edgeState[i]] === "hidden") continue;
      var g = document.createElementNS(SVGNS, "g");
      g.setAttribute("class", "label");
      var rect = document.createElementNS(SVGNS, "rect");
      var text = document.createElementNS(SVGNS, "text");
      text.textContent = D.labels[labelOf[i]];
      g.appendChild(rect); g.appendChild(text);
      labelLayer.appendChild(g);
      var w = text.getComputedTextLength() + 8, h = 14;
      var path = edges[i].querySelector("path"), len = path.getTotalLength();
      var best = null, bestCost = Infinity;
      for (var s = 0; s < SPOTS.length; s++) {
        var p = path.getPointAtLength(len * SPOTS[s]);
        var r = { x: p.x - w / 2, y: p.y - h / 2, w: w, h: h };
        var cost = 0, j;
        for (j = 0; j < placed.length; j++) cost += overlap(r, placed[j]);
        for (j = 0; j < boxes.length; j++) if (overlap(r, boxes[j]) > 0) { cost += w * h; break; }
        if (cost < bestCost) { best = r; bestCost = cost; }
        if (cost === 0) break;
      }
      placed.push(best);
      rect.setAttribute("x", best.x); rect.setAttribute("y", best.y);
      rect.setAttribute("width", w); rect.setAttribute("height", h); rect.setAttribute("rx", 4);
      text.setAttribute("x", best.x + w / 2); text.setAttribute("y", best.y + h - 3.5);
    }
  }

  function paint(k) {
    var i, cur = steps[k][1];
    for (i = 0; i < nodes.length; i++) {
      var cls = nodes[i].getAttribute("class").replace(/ (s-\w+|nonfinite)/g, "");
      cls += " s-" + D.nodeStates[nodeState[i]];
      if (D.badge[i] >= 0 && D.badge[i] <= k) cls += " nonfinite";
      nodes[i].setAttribute("class", cls);
      nodes[i].setAttribute("aria-current", i === cur ? "step" : "false");
    }
    for (i = 0; i < edges.length; i++) {
      edges[i].setAttribute("class", "edge s-" + D.edgeStates[edgeState[i]]);
    }
    drawLabels(k);
  }

  function showCode(line) {
    var i;
    for (i = 0; i < codeLines.length; i++) codeLines[i].classList.remove("current");
    var li = line > 0 ? document.getElementById("L" + line) : null;
    if (li) {
      li.classList.add("current");
      scrollWithin(li.parentNode, li);
    }
    var note = -1;
    for (i = 0; i < D.notes.length; i++) if (D.notes[i] <= line) note = i;
    for (i = 0; i < notes.length; i++) notes[i].classList.toggle("current", i === note);
    if (note >= 0) scrollWithin(notes[note].parentNode, notes[note]);
  }

  // Scroll a panel (not the page) so that its child is in sight.
  function scrollWithin(box, child) {
    var top = child.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
    var bottom = top + child.offsetHeight;
    if (top < box.scrollTop || bottom > box.scrollTop + box.clientHeight) {
      box.scrollTop = Math.max(0, top - box.clientHeight / 3);
    }
  }

  function go(k, fromHash) {
    k = Math.max(0, Math.min(N - 1, k | 0));
    if (k === shown) return;
    if (k < shown) reset();
    for (var j = shown + 1; j <= k; j++) apply(j);
    shown = k;
    var s = steps[k];
    paint(k);
    where.textContent = s[2][0] || "";
    chain.textContent = s[2].slice(1).join("\n");
    slider.value = k + 1;
    slider.setAttribute("aria-valuetext", "Step " + (k + 1) + " of " + N);
    counter.textContent = (k + 1) + " / " + N;
    showCode(s[0]);
    var cur = s[1] >= 0 ? nodes[s[1]] : null;
    var wrap = svg.parentNode;
    if (cur && wrap.scrollHeight > wrap.clientHeight + 1) {
      var b = cur.getBoundingClientRect(), w = wrap.getBoundingClientRect();
      if (b.top < w.top || b.bottom > w.bottom) wrap.scrollTop += b.top - w.top - w.height / 3;
    }
    if (!fromHash) {
      var hash = "#step=" + (k + 1);
      if (location.hash !== hash) {
        try { history.replaceState(null, "", hash); } catch (e) { location.replace(hash); }
      }
    }
  }

  function fromHash() {
    var m = /(?:^#|&)step=(\d+)/.exec(location.hash);
    return m ? parseInt(m[1], 10) - 1 : null;
  }

  document.getElementById("first").addEventListener("click", function () { go(0); });
  document.getElementById("prev").addEventListener("click", function () { go(shown - 1); });
  document.getElementById("next").addEventListener("click", function () { go(shown + 1); });
  document.getElementById("last").addEventListener("click", function () { go(N - 1); });
  slider.addEventListener("input", function () { go(parseInt(slider.value, 10) - 1); });

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var t = e.target, tag = t && t.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return; // the slider has its own
    var node = t && t.closest ? t.closest("#nodes > .node") : null;
    if (node && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); jump(node); return; }
    var to = { ArrowRight: shown + 1, ArrowLeft: shown - 1, Home: 0, End: N - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    go(to);
  });

  function jump(g) {
    var i = nodes.indexOf(g);
    if (i >= 0 && D.jump[i] >= 0) go(D.jump[i]);
  }

  // nodes are reached with Tab in graph order: one tab stop per node, the panel's own order
  nodes.forEach(function (g) {
    g.setAttribute("tabindex", "0");
    g.addEventListener("click", function () { jump(g); });
  });

  window.addEventListener("hashchange", function () {
    var k = fromHash();
    if (k !== null) go(k, true);
  });

  fitText();
  reset();
  var start = fromHash();
  go(start === null ? D.start : start, start !== null);
  document.documentElement.setAttribute("data-ready", "1");
})();
