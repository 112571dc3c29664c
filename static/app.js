// kafkascope: optional enhancement. Every page works without this file.
// Hovering a chart draws a crosshair at the same time on every chart of the page that shows the
// same time range, and writes each chart's value at that time (read from the hovered column's
// <title>, the same text the browser shows as a tooltip) into the chart's header.
(function () {
  "use strict";
  var charts = Array.prototype.slice.call(document.querySelectorAll("figure.chart"));
  if (!charts.length) return;

  function info(fig) {
    var svg = fig.querySelector("svg.ch");
    if (!svg) return null;
    var vb = svg.viewBox.baseVal;
    return {
      fig: fig,
      svg: svg,
      from: Number(fig.dataset.from),
      to: Number(fig.dataset.to),
      px: Number(svg.dataset.px),
      pw: Number(svg.dataset.pw),
      vbw: vb && vb.width ? vb.width : svg.clientWidth,
      xh: svg.querySelector("line.xh"),
      out: fig.querySelector("output.readout"),
      cols: Array.prototype.slice.call(svg.querySelectorAll(".cols rect"))
    };
  }

  var all = charts.map(info).filter(Boolean);

  function columnAt(c, x) {
    for (var i = 0; i < c.cols.length; i++) {
      var r = c.cols[i];
      var rx = Number(r.getAttribute("x")), rw = Number(r.getAttribute("width"));
      if (x >= rx && x < rx + rw) return r;
    }
    return null;
  }

  function show(t, range) {
    all.forEach(function (c) {
      if (c.from !== range[0] || c.to !== range[1]) return;
      var x = c.px + (t - c.from) / (c.to - c.from) * c.pw;
      if (c.xh) {
        c.xh.setAttribute("x1", x);
        c.xh.setAttribute("x2", x);
        c.xh.classList.add("on");
      }
      if (c.out) {
        var col = columnAt(c, x);
        var title = col && col.querySelector("title");
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

  all.forEach(function (c) {
    c.svg.addEventListener("pointermove", function (ev) {
      var box = c.svg.getBoundingClientRect();
      if (!box.width) return;
      var x = (ev.clientX - box.left) / box.width * c.vbw;
      if (x < c.px || x > c.px + c.pw) { hide(); return; }
      var t = c.from + (x - c.px) / c.pw * (c.to - c.from);
      show(t, [c.from, c.to]);
    });
    c.svg.addEventListener("pointerleave", hide);
  });
})();
