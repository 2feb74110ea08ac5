/* The HTML report's script (inlined into every page): the test list, its filters and each
 * test's timeline, drawn only when the test is opened.
 *
 * It reads the JSON of <script id="ks-data"> (type application/json, or application/gzip+base64
 * for large runs: unpacked with the browser's DecompressionStream), written by
 * pytest_kindling_signals/report/html.py (page_data):
 *   signals[], signalNamespace[] (index into namespaces, -1), signalRole[] (0 event, 1 opens,
 *   2 closes, 3 closes as failed), namespaces[[ns, class]], outcomes[], spanStates[], pinKinds[],
 *   operations[], files[],
 *   tests[[file, rest of the node id, outcome, [signal...], timeline (-1: none here), pins, emissions]],
 *   timelines[[duration, [[thread name, id]], [[at, thread, signal(, payload)]],
 *              [[operation, start, end, state]], [[emission, kind, message]], left out]],
 *   withoutTimeline, withoutPayloads.
 * Nothing is fetched: the page works from a file:// URL with no network.
 */
(function () {
  "use strict";
  var root = document.getElementById("ks-tests");
  var D = null;
  var PAGE = 100;
  var state = {q: "", ns: -1, outcome: -1, findings: false, signal: -1, shown: PAGE, matches: []};
  var SVGNS = "http://www.w3.org/2000/svg";
  var openViews = [];

  // -- small helpers ------------------------------------------------------------------
  function h(tag, attrs) {
    var el = document.createElement(tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function s(tag, attrs) {
    var el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function setAttrs(el, attrs) {
    if (!attrs) return;
    for (var k in attrs) {
      if (!Object.prototype.hasOwnProperty.call(attrs, k) || attrs[k] === null || attrs[k] === undefined) continue;
      if (k === "text") el.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), attrs[k]);
      else el.setAttribute(k, attrs[k]);
    }
  }
  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  function plural(n, word) { return n.toLocaleString("en") + " " + word + (n === 1 ? "" : "s"); }
  function fmtDur(sec) {
    var a = Math.abs(sec);
    if (a < 1e-3) return (sec * 1e6).toFixed(0) + " µs";
    if (a < 1) return (sec * 1e3).toFixed(a < 0.01 ? 2 : 1) + " ms";
    if (a < 120) return sec.toFixed(a < 10 ? 2 : 1) + " s";
    return Math.floor(sec / 60) + " min " + (sec % 60).toFixed(0) + " s";
  }
  function nodeid(t) { var f = D.files[t[0]]; return f ? f + "::" + t[1] : t[1]; }
  // what an operation is about, from its opener's payload: the pipe, the entity, the file...
  var SUBJECTS = ["pipe_id", "entity_id", "file_path", "path", "package", "app_name", "notebook", "stage",
    "query_name", "name"];
  var SUBJECT = /(^|_)(id|name|path)$/;
  function subject(payload) {
    if (!payload || typeof payload !== "object") return "";
    var keys = Object.keys(payload), k, i;
    for (i = 0; i < SUBJECTS.length; i++) if (keys.indexOf(SUBJECTS[i]) >= 0) { k = SUBJECTS[i]; break; }
    if (!k) {
      for (i = 0; i < keys.length; i++) {
        if (SUBJECT.test(keys[i]) && !/operation_id$|^run_id$/.test(keys[i])) { k = keys[i]; break; }
      }
    }
    var v = k ? payload[k] : null;
    if (typeof v !== "string" && typeof v !== "number") return "";
    v = String(v);
    return v.length > 40 ? v.slice(0, 39) + "…" : v;
  }

  // -- loading ------------------------------------------------------------------------
  function load() {
    var el = document.getElementById("ks-data");
    if (!el) return Promise.reject(new Error("this page holds no test data"));
    if (el.getAttribute("type") === "application/json") return Promise.resolve(JSON.parse(el.textContent));
    if (typeof DecompressionStream === "undefined") {
      return Promise.reject(new Error("this browser can't unpack the page's test data (it needs " +
        "DecompressionStream: Chrome or Edge 80+, Firefox 113+, Safari 16.4+)"));
    }
    var bin = atob(el.textContent.trim());
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  }

  // -- the test list ------------------------------------------------------------------
  var ui = {};
  function buildList() {
    root.textContent = "";
    var counts = D.outcomes.map(function () { return 0; });
    D.tests.forEach(function (t) { counts[t[2]]++; });
    ui.q = h("input", {type: "search", placeholder: "Filter tests by node id…", "aria-label": "Filter tests by node id",
      oninput: function () { state.q = ui.q.value.trim(); refresh(); }});
    ui.ns = h("select", {"aria-label": "Namespace", onchange: function () { state.ns = +ui.ns.value; refresh(); }},
      h("option", {value: "-1", text: "All namespaces"}),
      D.namespaces.map(function (n, i) { return h("option", {value: String(i), text: n[0] + " (" + n[1] + ")"}); }));
    ui.outcome = h("select", {"aria-label": "Outcome", onchange: function () { state.outcome = +ui.outcome.value; refresh(); }},
      h("option", {value: "-1", text: "All outcomes"}),
      D.outcomes.map(function (o, i) {
        return counts[i] ? h("option", {value: String(i), text: o + " (" + counts[i].toLocaleString("en") + ")"}) : null;
      }));
    ui.findings = h("input", {type: "checkbox", onchange: function () { state.findings = ui.findings.checked; refresh(); }});
    ui.tag = h("span");
    ui.shown = h("p", {"class": "shown"});
    ui.list = h("div", {"class": "test-list", role: "list"});
    ui.more = h("button", {"class": "more", type: "button", onclick: function () { state.shown += PAGE; renderRows(); }});
    var notes = [];
    if (D.withoutTimeline) {
      notes.push(h("p", {"class": "sub"}, plural(D.withoutTimeline, "test") + " are listed without their timeline: " +
        "this page keeps the timelines of the tests that failed or have findings first, up to its size budget. " +
        "Every timeline is in the data file and the JSON report."));
    }
    if (D.withoutPayloads) {
      notes.push(h("p", {"class": "sub"}, "The timelines of " + plural(D.withoutPayloads, "test") +
        " are drawn without their payloads (this page's budget); the JSON report has them."));
    }
    append(root, [h("div", {"class": "toolbar"}, ui.q, ui.ns, ui.outcome,
      h("label", null, ui.findings, " with findings"), ui.tag), notes, ui.shown, ui.list, ui.more]);
  }

  function matches(t) {
    if (state.outcome >= 0 && t[2] !== state.outcome) return false;
    if (state.findings && !t[5]) return false;
    if (state.signal >= 0 && t[3].indexOf(state.signal) < 0) return false;
    if (state.ns >= 0) {
      var sigs = t[3], ok = false;
      for (var i = 0; i < sigs.length; i++) if (D.signalNamespace[sigs[i]] === state.ns) { ok = true; break; }
      if (!ok) return false;
    }
    if (state.q && nodeid(t).indexOf(state.q) < 0) return false;
    return true;
  }

  function refresh() {
    state.shown = PAGE;
    var out = [];
    for (var i = 0; i < D.tests.length; i++) if (matches(D.tests[i])) out.push(i);
    state.matches = out;
    ui.list.textContent = "";
    openViews = [];
    ui.tag.textContent = "";
    if (state.signal >= 0) {
      append(ui.tag, h("span", {"class": "filter-tag"}, "emitted " + D.signals[state.signal],
        h("button", {type: "button", title: "Clear", "aria-label": "Clear the signal filter",
          onclick: function () { state.signal = -1; refresh(); }, text: "×"})));
    }
    renderRows();
  }

  function renderRows() {
    var m = state.matches;
    var n = Math.min(state.shown, m.length);
    // rows already drawn stay (a click on "show more" only adds); refresh() starts over
    for (var i = ui.list.children.length; i < n; i++) ui.list.appendChild(row(m[i]));
    ui.shown.textContent = m.length === D.tests.length
      ? "Showing " + n.toLocaleString("en") + " of " + plural(D.tests.length, "test")
      : "Showing " + n.toLocaleString("en") + " of " + plural(m.length, "matching test") + " (" +
        D.tests.length.toLocaleString("en") + " in all)";
    ui.more.style.display = n < m.length ? "" : "none";
    ui.more.textContent = "Show " + Math.min(PAGE, m.length - n) + " more";
  }

  function row(i) {
    var t = D.tests[i];
    var outcome = D.outcomes[t[2]];
    var tl = t[4] >= 0 ? D.timelines[t[4]] : null;
    var open = 0;
    if (tl) tl[3].forEach(function (sp) { var st = D.spanStates[sp[3]]; if (st === "open" || st === "unopened") open++; });
    var file = D.files[t[0]];
    var head = h("button", {"class": "test-head", type: "button", "aria-expanded": "false"},
      h("span", {"class": "outcome " + outcome, text: outcome}),
      h("span", {"class": "id", title: nodeid(t)}, file ? h("span", {"class": "file", text: file + "::"}) : null, t[1]),
      h("span", {"class": "meta", text: plural(t[3].length, "signal") + (t[6] ? " · " + plural(t[6], "emission") : "")}),
      open ? h("span", {"class": "badge open", text: open + " open"}) : null,
      t[5] ? h("span", {"class": "badge findings", text: plural(t[5], "finding")}) : null);
    var el = h("div", {"class": "test", role: "listitem", "data-index": String(i), "data-test": nodeid(t), "data-outcome": outcome}, head);
    head.addEventListener("click", function () { toggle(el, i); });
    return el;
  }

  function toggle(el, i, focus) {
    var body = el.querySelector(".timeline");
    var head = el.querySelector(".test-head");
    if (body && !focus) {
      body.remove();
      el.classList.remove("open");
      head.setAttribute("aria-expanded", "false");
      openViews = openViews.filter(function (v) { return v.el !== el; });
      return;
    }
    if (!body) {
      body = h("div", {"class": "timeline"});
      el.appendChild(body);
      el.classList.add("open");
      head.setAttribute("aria-expanded", "true");
      var view = new TimelineView(body, i, focus);
      openViews.push({el: el, view: view});
    }
    if (history.replaceState) history.replaceState(null, "", "#test=" + encodeURIComponent(nodeid(D.tests[i])));
  }

  function openTest(id, focusSignal) {
    var i = -1;
    for (var k = 0; k < D.tests.length; k++) if (nodeid(D.tests[k]) === id) { i = k; break; }
    if (i < 0) return;
    state.q = id; state.ns = -1; state.outcome = -1; state.findings = false; state.signal = -1;
    ui.q.value = id; ui.ns.value = "-1"; ui.outcome.value = "-1"; ui.findings.checked = false;
    refresh();
    var el = ui.list.querySelector('[data-index="' + i + '"]');
    if (!el) return;
    toggle(el, i, {signal: focusSignal === undefined ? -1 : D.signals.indexOf(focusSignal)});
    el.scrollIntoView({block: "start"});
  }

  // -- a timeline ---------------------------------------------------------------------
  function TimelineView(box, ti, focus) {
    this.box = box;
    this.t = D.tests[ti];
    this.tl = this.t[4] >= 0 ? D.timelines[this.t[4]] : null;
    this.fit = true;
    this.sel = -1;
    if (!this.tl) {
      var t = this.t, names = t[3].map(function (k) { return D.signals[k]; }).join(", ");
      box.appendChild(h("p", {"class": "sub", text: D.outcomes[t[2]] === "fixture"
        ? "A shared fixture: its emissions belong to every test that uses it, so it has no timeline of its own. " +
          "It emitted " + names + "."
        : t[6] ? "This test's timeline is not in this page (its size budget went to the tests that failed or have " +
          "findings first); the data file and the JSON report have it."
        : t[3].length ? "No timeline was kept for this run (--kindling-signals-timeline=0). It emitted " + names + "."
        : "This test emitted no signal."}));
      return;
    }
    var tl = this.tl, pinned = {};
    tl[4].forEach(function (p) { (pinned[p[0]] = pinned[p[0]] || []).push(p); });
    this.pinned = pinned;
    this.spanOf = {};  // emission -> span index (as opener or closer)
    var self = this;
    tl[3].forEach(function (sp, k) {
      if (sp[1] !== null) self.spanOf[sp[1]] = k;
      if (sp[2] !== null) self.spanOf[sp[2]] = k;
    });
    this.build();
    this.sel = this.firstInteresting(focus && focus.signal);
    this.draw();
    this.select(this.sel);
  }

  TimelineView.prototype.firstInteresting = function (signal) {
    var tl = this.tl, i;
    if (signal !== undefined && signal >= 0) {
      for (i = 0; i < tl[2].length; i++) if (tl[2][i][2] === signal && this.pinned[i]) return i;
      for (i = 0; i < tl[2].length; i++) if (tl[2][i][2] === signal) return i;
    }
    if (tl[4].length) return tl[4][0][0];
    for (i = 0; i < tl[2].length; i++) if (D.signalRole[tl[2][i][2]] === 3) return i;
    return tl[2].length ? 0 : -1;
  };

  TimelineView.prototype.build = function () {
    var self = this, tl = this.tl, t = this.t;
    var zoomFit = h("button", {type: "button", "class": "on", text: "Fit emissions",
      onclick: function () { self.zoom(true); }});
    var zoomAll = h("button", {type: "button", text: "Whole test",
      onclick: function () { self.zoom(false); }});
    this.zoomButtons = [zoomFit, zoomAll];
    var kept = tl[2].length;
    append(this.box, [
      h("div", {"class": "tl-head"},
        h("span", {"class": "outcome " + D.outcomes[t[2]], text: D.outcomes[t[2]]}),
        h("span", null, h("b", {text: fmtDur(tl[0])}), " test time"),
        h("span", {text: plural(kept + tl[5], "emission") + " on " + plural(tl[1].length, "thread")}),
        h("span", {text: plural(tl[3].length, "lifecycle")}),
        tl[5] ? h("span", {"class": "left-out", text: "first " + kept.toLocaleString("en") + " kept, " +
          tl[5].toLocaleString("en") + " left out (--kindling-signals-timeline)"}) : null,
        h("span", {"class": "zoom"}, zoomFit, zoomAll)),
      h("div", {"class": "legend"},
        h("span", null, h("i", {style: "background:#ddf4ff;border:1px solid #54aeff"}), "closed"),
        h("span", null, h("i", {style: "background:#ffebe9;border:1px solid #ff8182"}), "failed"),
        h("span", null, h("i", {style: "background:repeating-linear-gradient(135deg,#fff8c5 0 3px,#f5e0a0 3px 6px);border:1px dashed #d4a72c"}), "never closed"),
        h("span", null, h("i", {style: "background:#f6f8fa;border:1px dashed #8c959f"}), "closed after the kept emissions"),
        h("span", null, h("b", {style: "color:#cf222e", text: "!"}), " finding"),
        h("span", null, h("b", {style: "color:#0969da", text: "◆"}), " opens ",
          h("b", {style: "color:#1a7f37", text: "◆"}), " closes ", h("b", {style: "color:#cf222e", text: "◆"}),
          " fails ", h("b", {style: "color:#6e7781", text: "◆"}), " event"),
        h("span", {"class": "hint", text: "drag across the timeline to zoom in"}))
    ]);
    this.svgBox = h("div");
    this.detail = h("div", {"class": "tl-detail", "aria-live": "polite"});
    this.table = h("div", {"class": "tl-table"});
    append(this.box, [this.svgBox, h("div", {"class": "tl-body"}, this.detail, this.table)]);
    this.buildTable();
  };

  TimelineView.prototype.buildTable = function () {
    var self = this, tl = this.tl;
    var rows = tl[2].map(function (em, i) {
      var th = tl[1][em[1]];
      return h("tr", {"data-emission": String(i), "class": self.pinned[i] ? "has-pin" : null,
        onclick: function () { self.select(i); }},
        h("td", {"class": "n dim", text: String(i + 1)}),
        h("td", {"class": "n", text: "+" + fmtDur(em[0])}),
        h("td", {"class": "dim", text: th[0]}),
        h("td", {"class": "sig", text: D.signals[em[2]] + (self.pinned[i] ? "  !" : "")}));
    });
    append(this.table, h("table", null, h("thead", null, h("tr", null, h("th", {"class": "n", text: "#"}),
      h("th", {"class": "n", text: "at"}), h("th", {text: "thread"}), h("th", {text: "signal"}))), h("tbody", null, rows)));
  };

  TimelineView.prototype.zoom = function (fit) {
    this.fit = fit;
    this.custom = null;
    this.zoomButtons[0].classList.toggle("on", fit);
    this.zoomButtons[1].classList.toggle("on", !fit);
    this.draw();
  };

  TimelineView.prototype.domain = function () {
    var tl = this.tl, ems = tl[2];
    if (this.custom) return this.custom;
    if (!this.fit || !ems.length) return [0, Math.max(tl[0], ems.length ? ems[ems.length - 1][0] : 0, 1e-3)];
    var lo = Infinity, hi = -Infinity;
    ems.forEach(function (e) { if (e[0] < lo) lo = e[0]; if (e[0] > hi) hi = e[0]; });
    var pad = Math.max((hi - lo) * 0.04, 5e-4);
    // room on the right for the spans that run past the last emission (never closed)
    var runOn = tl[3].some(function (sp) { return sp[2] === null; });
    return [Math.max(0, lo - pad), hi + (runOn ? Math.max((hi - lo) * 0.3, 2e-3) : pad)];
  };

  TimelineView.prototype.draw = function () {
    var self = this, tl = this.tl, ems = tl[2], spans = tl[3];
    var W = Math.max(this.svgBox.clientWidth || this.box.clientWidth || 900, 640);
    var LABEL = 150, RIGHT = 18, AXIS = 28, EV = 26, ROW = 24;
    var dom = this.domain(), d0 = dom[0], d1 = dom[1];
    var plot = W - LABEL - RIGHT;
    function x(t) { return LABEL + (Math.min(Math.max(t, d0), d1) - d0) / (d1 - d0) * plot; }
    // lanes: one per thread; a span lies in the lane of the emission that opened it
    var lanes = tl[1].map(function () { return {rows: [], spans: []}; });
    spans.forEach(function (sp, k) {
      var at = sp[1] !== null ? sp[1] : sp[2];
      var start = sp[1] !== null ? ems[sp[1]][0] : ems[sp[2]][0];
      var end = sp[2] !== null && sp[1] !== null ? ems[sp[2]][0] : (sp[1] === null ? start : Infinity);
      lanes[ems[at][1]].spans.push({k: k, start: start, end: end});
    });
    lanes.forEach(function (lane) {
      lane.spans.sort(function (a, b) { return a.start - b.start || b.end - a.end; });
      lane.spans.forEach(function (sp) {
        var r = 0;
        while (r < lane.rows.length && lane.rows[r] > sp.start) r++;
        lane.rows[r] = sp.end === sp.start ? sp.end + (d1 - d0) * 0.004 : sp.end;
        sp.row = r;
      });
    });
    // markers closer than a marker's width stack in up to three sub-rows, so they stay clickable
    // (the emission table beside the timeline reaches every one)
    var level = [], ends = lanes.map(function () { return []; });
    ems.forEach(function (em, i) {
      var cx = x(em[0]), rows = ends[em[1]], r = 0;
      while (r < rows.length && rows[r] > cx - 11) r++;
      if (r > 2) r = i % 3;
      rows[r] = Math.max(rows[r] || -Infinity, cx);
      level[i] = r;
    });
    var evH = ends.map(function (rows) { return EV + Math.max(rows.length - 1, 0) * 11; });
    var tops = [], y = AXIS;
    lanes.forEach(function (lane, li) { tops.push(y); y += evH[li] + Math.max(lane.rows.length, 0) * ROW + 10; });
    var H = y + 6;
    var svg = s("svg", {"class": "tl-svg", width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img",
      "aria-label": "Timeline of " + nodeid(this.t)});
    append(svg, s("defs", null, s("pattern", {id: "ks-hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse",
      patternTransform: "rotate(45)"}, s("rect", {width: 6, height: 6, fill: "#fff8c5"}),
      s("line", {x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#f0d98c", "stroke-width": 3}))));
    lanes.forEach(function (lane, li) {
      var th = tl[1][li];
      append(svg, [s("rect", {"class": "lane-bg" + (li % 2 ? " alt" : ""), x: 0, y: tops[li], width: W,
        height: (li + 1 < tops.length ? tops[li + 1] : H - 6) - tops[li]}),
        s("g", {"class": "lane", "data-thread": th[0]}, s("title", {text: th[0] + " (thread id " + th[1] + ")"}),
          s("text", {"class": "lane-label", x: 10, y: tops[li] + 17, text: th[0].length > 20 ? th[0].slice(0, 19) + "…" : th[0]}),
          s("text", {"class": "lane-id", x: 10, y: tops[li] + 30, text: "thread " + (li + 1)}))]);
    });
    // axis
    var axis = s("g", {"class": "axis"});
    var step = niceStep((d1 - d0) / Math.max(2, Math.floor(plot / 110)));
    for (var tv = Math.ceil(d0 / step) * step; tv <= d1 + 1e-12; tv += step) {
      var xv = x(tv);
      append(axis, [s("line", {x1: xv, x2: xv, y1: AXIS - 6, y2: H - 6}),
        s("text", {x: xv, y: AXIS - 10, "text-anchor": "middle", text: tv === 0 ? "0" : "+" + fmtDur(tv)})]);
    }
    svg.insertBefore(axis, svg.children[1]);
    // spans
    lanes.forEach(function (lane, li) {
      lane.spans.forEach(function (ls) {
        var sp = spans[ls.k], st = D.spanStates[sp[3]], op = D.operations[sp[0]];
        var x1 = x(ls.start), x2 = ls.end === Infinity ? LABEL + plot : x(ls.end);
        if (st === "unopened") { x1 = Math.max(LABEL, x2 - 14); }
        var w = Math.max(x2 - x1, 4);
        var yy = tops[li] + evH[li] + ls.row * ROW;
        var dur = ls.end !== Infinity && sp[1] !== null && sp[2] !== null ? ls.end - ls.start : null;
        var opener = sp[1] !== null ? ems[sp[1]] : ems[sp[2]];
        var about = opener.length > 3 ? subject(opener[3]) : "";
        var label = op + (about ? " " + about : "") + (dur !== null ? " · " + fmtDur(dur) :
          st === "closed-later" ? " · closed later" : st === "unopened" ? " · never opened" : "");
        var tip = op + (about ? " " + about : "") + ": " + (st === "closed" ? "closed after " + fmtDur(dur) : st === "failed" ? "failed after " + fmtDur(dur) :
          st === "open" ? "opened, never closed" : st === "closed-later" ? "closed after the last kept emission" :
          "closed, but nothing opened it");
        var g = s("g", {"class": "span " + st, "data-state": st, "data-operation": op, "data-span": String(ls.k),
          "data-thread": tl[1][li][0],
          onclick: function () { self.select(sp[1] !== null ? sp[1] : sp[2]); }},
          s("title", {text: tip}),
          s("rect", {x: x1, y: yy + 2, width: w, height: ROW - 5}));
        // an open span ends in a mark that says so; its label takes the room left
        var mark = st === "open" ? (w >= 150 ? "never closed ▶" : "▶") : "";
        var room = Math.floor((w - 10 - mark.length * 6.3) / 6.3);
        if (room >= 4) append(g, s("text", {"class": "label", x: x1 + 5, y: yy + 15,
          text: label.length > room ? label.slice(0, room - 1) + "…" : label}));
        if (mark) append(g, s("text", {"class": "open-mark", x: x1 + w - 4, y: yy + 15, "text-anchor": "end", text: mark}));
        svg.appendChild(g);
      });
    });
    // emissions and their findings
    this.marks = [];
    ems.forEach(function (em, i) {
      var cx = x(em[0]), cy = tops[em[1]] + 13 + level[i] * 11;
      var role = D.signalRole[em[2]];
      var cls = role === 1 ? "pre" : role === 2 ? "post" : role === 3 ? "fail" : "event";
      var r = 5.5;
      var g = s("g", {"class": "em " + cls, "data-emission": String(i), "data-signal": D.signals[em[2]],
        "data-thread": tl[1][em[1]][0],
        onclick: function () { self.select(i); }},
        s("title", {text: D.signals[em[2]] + " at +" + fmtDur(em[0])}),
        s("path", {d: "M" + cx + " " + (cy - r) + "L" + (cx + r) + " " + cy + "L" + cx + " " + (cy + r) + "L" + (cx - r) + " " + cy + "Z"}));
      if (self.pinned[i]) {
        append(g, s("g", {"class": "pin", "data-pin": String(i)}, s("circle", {cx: cx + 6, cy: cy - 7, r: 5.5}),
          s("text", {x: cx + 6, y: cy - 3.5, text: "!"})));
      }
      self.marks[i] = g;
      svg.appendChild(g);
    });
    // drag across the plot to zoom into that stretch of time
    var brush = s("rect", {"class": "brush", x: 0, y: AXIS - 4, width: 0, height: H - AXIS, visibility: "hidden"});
    svg.appendChild(brush);
    var from = null;
    function px(ev) { var r = svg.getBoundingClientRect(); return (ev.clientX - r.left) * W / r.width; }
    svg.addEventListener("mousedown", function (ev) {
      var p0 = px(ev);
      if (p0 < LABEL || ev.button !== 0) return;
      from = p0;
    });
    svg.addEventListener("mousemove", function (ev) {
      if (from === null) return;
      var p1 = Math.min(Math.max(px(ev), LABEL), LABEL + plot);
      setAttrs(brush, {x: Math.min(from, p1), width: Math.abs(p1 - from), visibility: "visible"});
    });
    function end(ev) {
      if (from === null) return;
      var p1 = Math.min(Math.max(px(ev), LABEL), LABEL + plot), p0 = from;
      from = null;
      brush.setAttribute("visibility", "hidden");
      if (Math.abs(p1 - p0) < 6) return;  // a click, not a drag
      var t0 = d0 + (Math.min(p0, p1) - LABEL) / plot * (d1 - d0), t1 = d0 + (Math.max(p0, p1) - LABEL) / plot * (d1 - d0);
      self.custom = [t0, t1];
      self.zoomButtons.forEach(function (b) { b.classList.remove("on"); });
      self.draw();
    }
    svg.addEventListener("mouseup", end);
    svg.addEventListener("mouseleave", function () { from = null; brush.setAttribute("visibility", "hidden"); });
    this.svgBox.textContent = "";
    this.svgBox.appendChild(svg);
    if (this.sel >= 0 && this.marks[this.sel]) this.marks[this.sel].classList.add("sel");
  };

  function niceStep(raw) {
    if (!(raw > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }

  TimelineView.prototype.select = function (i) {
    if (!this.tl) return;
    var tl = this.tl, self = this;
    if (this.marks) this.marks.forEach(function (m, k) { if (m) m.classList.toggle("sel", k === i); });
    this.table.querySelectorAll("tr.sel").forEach(function (r) { r.classList.remove("sel"); });
    this.sel = i;
    this.detail.textContent = "";
    if (i < 0) { this.detail.appendChild(h("p", {"class": "sub", text: "No emission."})); return; }
    var tr = this.table.querySelector('tr[data-emission="' + i + '"]');
    if (tr) tr.classList.add("sel");
    var em = tl[2][i], th = tl[1][em[1]];
    var facts = [["#", (i + 1) + " of " + (tl[2].length + tl[5]).toLocaleString("en")],
      ["at", "+" + fmtDur(em[0]) + " from the test's start"], ["thread", th[0] + " (id " + th[1] + ")"]];
    var k = this.spanOf[i];
    if (k !== undefined) {
      var sp = tl[3][k], st = D.spanStates[sp[3]], op = D.operations[sp[0]];
      var text;
      if (sp[1] === i) {
        text = st === "closed" || st === "failed"
          ? "opens " + op + ", " + (st === "failed" ? "failed" : "closed") + " by " + D.signals[tl[2][sp[2]][2]] +
            " after " + fmtDur(tl[2][sp[2]][0] - em[0]) + (tl[2][sp[2]][1] !== em[1] ? " on " + tl[1][tl[2][sp[2]][1]][0] : "")
          : st === "open" ? "opens " + op + ": never closed" : "opens " + op + ": closed after the last kept emission";
      } else {
        text = sp[1] === null ? "closes " + op + ", which nothing opened"
          : (st === "failed" ? "fails " : "closes ") + op + " opened by " + D.signals[tl[2][sp[1]][2]] + " at +" +
            fmtDur(tl[2][sp[1]][0]) + " (" + fmtDur(em[0] - tl[2][sp[1]][0]) + ")";
      }
      facts.push(["lifecycle", text]);
    }
    var dl = h("dl", {"class": "facts"});
    facts.forEach(function (f) { append(dl, [h("dt", {text: f[0]}), h("dd", {text: f[1]})]); });
    var pins = (this.pinned[i] || []).map(function (p) {
      return h("li", {"data-pin-kind": D.pinKinds[p[1]], text: D.pinKinds[p[1]] + ": " + p[2]});
    });
    var payload = em.length > 3
      ? h("pre", {"class": "payload", text: JSON.stringify(em[3], null, 2)})
      : h("p", {"class": "sub", text: "Its payload is not in this page (the page's payload budget is spent); " +
          "the JSON report and the data file have it."});
    append(this.detail, [h("h4", {text: D.signals[em[2]]}), dl, pins.length ? h("ul", {"class": "pins"}, pins) : null,
      payload]);
  };

  // -- links into the list --------------------------------------------------------------
  function wire() {
    document.querySelectorAll("[data-signal].chip").forEach(function (chip) {
      chip.addEventListener("click", function () {
        var k = D.signals.indexOf(chip.getAttribute("data-signal"));
        if (k < 0) return;
        state.signal = k; state.q = ""; ui.q.value = "";
        refresh();
        document.getElementById("tests").scrollIntoView({block: "start"});
      });
    });
    document.querySelectorAll("[data-filter-ns]").forEach(function (b) {
      b.addEventListener("click", function () {
        var k = -1, ns = b.getAttribute("data-filter-ns");
        D.namespaces.forEach(function (n, j) { if (n[0] === ns) k = j; });
        state.ns = k; ui.ns.value = String(k);
        refresh();
        document.getElementById("tests").scrollIntoView({block: "start"});
      });
    });
    document.querySelectorAll("a[data-open-test]").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        ev.preventDefault();
        var group = a.closest("[data-signal-group]");
        openTest(a.getAttribute("data-open-test"), group ? group.getAttribute("data-signal-group") : undefined);
      });
    });
    var resize = null;
    window.addEventListener("resize", function () {
      clearTimeout(resize);
      resize = setTimeout(function () { openViews.forEach(function (v) { if (v.view.tl) v.view.draw(); }); }, 120);
    });
  }

  function start(data) {
    D = data;
    buildList();
    refresh();
    wire();
    var m = /^#test=(.*)$/.exec(location.hash);
    if (m) openTest(decodeURIComponent(m[1]));
    // when the page became usable, for bench/bench_report_html.py
    document.documentElement.setAttribute("data-ks-ready-ms", String(Math.round(performance.now())));
    document.documentElement.setAttribute("data-ks-ready", "true");
  }

  load().then(start, function (err) {
    root.textContent = "";
    root.appendChild(h("p", {"class": "banner warn", text: "The test list can't be shown: " + err.message}));
    document.documentElement.setAttribute("data-ks-ready", "error");
  });
})();
