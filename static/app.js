// kafkascope: optional enhancement. Every page works without this file.
// * Crosshair: hovering a chart draws a vertical line at the same time on every chart of the
//   page that shows the same range, and writes each chart's value at that time (the hovered
//   column's <title>, the text the browser shows as a tooltip) into the chart's header.
// * Drag over a chart: opens /investigate on the dragged window (with the page's cluster).
// * "Copy link": the page at the absolute times it shows, for an incident note.
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var slice = function (l) { return Array.prototype.slice.call(l); };

  function iso(t) { return new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z"); }

  // The crosshair line and the value read-out exist only with this script: the page does not
  // carry them for readers without it.
  function info(fig) {
    var svg = fig.querySelector("svg.ch");
    if (!svg) return null;
    var vb = svg.viewBox.baseVal;
    if (!svg.querySelector("line.xh")) {
      var xh = document.createElementNS(SVGNS, "line");
      xh.setAttribute("class", "xh");
      xh.setAttribute("x1", 0); xh.setAttribute("x2", 0);
      xh.setAttribute("y1", 0); xh.setAttribute("y2", vb && vb.height ? vb.height : 0);
      svg.appendChild(xh);
    }
    var cap = fig.querySelector("figcaption");
    if (cap && !cap.querySelector("output.readout")) {
      var out = document.createElement("output");
      out.className = "readout";
      cap.appendChild(document.createTextNode(" "));
      cap.appendChild(out);
    }
    return {
      svg: svg,
      from: Number(fig.dataset.from),
      to: Number(fig.dataset.to),
      px: Number(svg.dataset.px),
      pw: Number(svg.dataset.pw),
      vbw: vb && vb.width ? vb.width : svg.clientWidth,
      vbh: vb && vb.height ? vb.height : svg.clientHeight,
      xh: svg.querySelector("line.xh"),
      out: fig.querySelector("output.readout"),
      cols: slice(svg.querySelectorAll(".cols rect")),
      sel: null
    };
  }

  var all = slice(document.querySelectorAll("figure.chart")).map(info).filter(Boolean);

  function columnAt(c, x) {
    for (var i = 0; i < c.cols.length; i++) {
      var r = c.cols[i];
      var rx = Number(r.getAttribute("x")), rw = Number(r.getAttribute("width"));
      if (x >= rx && x < rx + rw) return r;
    }
    return null;
  }

  function show(t, c0) {
    all.forEach(function (c) {
      if (c.from !== c0.from || c.to !== c0.to) return;
      var x = c.px + (t - c.from) / (c.to - c.from) * c.pw;
      if (c.xh) {
        c.xh.setAttribute("x1", x);
        c.xh.setAttribute("x2", x);
        c.xh.classList.add("on");
      }
      if (c.out) {
        var col = columnAt(c, x), title = col && col.querySelector("title");
        c.out.textContent = title ? title.textContent : "";
      }
    });
  }

  function hide() {
    all.forEach(function (c) {
      if (c.xh) c.xh.classList.remove("on");
      if (c.out) c.out.textContent = "";
    });
  }

  // Plot x (viewBox units) and time of a pointer event over chart c.
  function at(c, ev) {
    var box = c.svg.getBoundingClientRect();
    if (!box.width) return null;
    var x = (ev.clientX - box.left) / box.width * c.vbw;
    x = Math.max(c.px, Math.min(c.px + c.pw, x));
    return { x: x, t: c.from + (x - c.px) / c.pw * (c.to - c.from), cx: ev.clientX };
  }

  var drag = null;
  var invBase = document.getElementById("investigate-base");

  all.forEach(function (c) {
    c.svg.addEventListener("pointermove", function (ev) {
      var p = at(c, ev);
      if (!p) return;
      show(p.t, c);
      if (drag && drag.c === c) {
        var x0 = Math.min(drag.x, p.x), x1 = Math.max(drag.x, p.x);
        c.sel.setAttribute("x", x0);
        c.sel.setAttribute("width", x1 - x0);
      }
    });
    c.svg.addEventListener("pointerleave", function () { if (!drag) hide(); });
    c.svg.addEventListener("pointerdown", function (ev) {
      if (ev.button !== 0) return;
      var p = at(c, ev);
      if (!p) return;
      ev.preventDefault();
      if (c.svg.setPointerCapture) c.svg.setPointerCapture(ev.pointerId);
      if (!c.sel) {
        c.sel = document.createElementNS(SVGNS, "rect");
        c.sel.setAttribute("class", "sel");
        c.sel.setAttribute("y", 0);
        c.sel.setAttribute("height", c.vbh);
        c.svg.appendChild(c.sel);
      }
      c.sel.setAttribute("x", p.x);
      c.sel.setAttribute("width", 0);
      drag = { c: c, x: p.x, t: p.t, cx: p.cx };
    });
    c.svg.addEventListener("pointerup", function (ev) {
      if (!drag || drag.c !== c) return;
      var p = at(c, ev), d = drag;
      drag = null;
      if (c.sel) c.sel.setAttribute("width", 0);
      // A click (under 4 px of movement) is no selection: the chart's links stay usable.
      if (!p || Math.abs(p.cx - d.cx) < 4 || !invBase) return;
      var from = Math.round(Math.min(d.t, p.t) / 1000) * 1000;
      var to = Math.round(Math.max(d.t, p.t) / 1000) * 1000;
      var base = invBase.href;
      location.href = base + (/[?&]$/.test(base) ? "" : "&") +
        "from=" + encodeURIComponent(iso(from)) + "&to=" + encodeURIComponent(iso(to));
    });
  });

  var copy = document.querySelector("button.copylink");
  var perma = document.querySelector("a.permalink");
  if (copy && perma) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      var url = perma.href, field = document.querySelector("input.copied");
      copy.dataset.copied = url;
      if (field) { field.value = url; field.hidden = false; field.select(); }
      if (navigator.clipboard) {
        navigator.clipboard.writeText(url).then(function () { copy.textContent = "Copied"; },
          function () { copy.textContent = "Select and copy:"; });
      }
    });
  }
})();
