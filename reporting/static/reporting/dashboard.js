/* Draw the dashboard's charts with plotly.js from the numbers the page embeds (#dashboard-charts).
   The same numbers are in the page's tables, so the page works without this script. A bar of the
   top products or customers charts opens that row of its report. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("dashboard-charts").textContent);
  var font = {family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#334155"};
  var config = {displaylogo: false, responsive: true, displayModeBar: false};
  var blue = "#2563eb", grid = "#e2e8f0";

  function layout(extra) {
    var base = {
      font: font, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      margin: {l: 56, r: 16, t: 8, b: 36}, hovermode: "closest", showlegend: false,
      xaxis: {gridcolor: grid, zeroline: false, automargin: true},
      yaxis: {gridcolor: grid, zeroline: false, automargin: true, rangemode: "tozero"}
    };
    Object.keys(extra || {}).forEach(function (k) {
      base[k] = typeof extra[k] === "object" && base[k] ? Object.assign({}, base[k], extra[k]) : extra[k];
    });
    return base;
  }

  function draw(id, traces, extra) {
    var el = document.getElementById(id);
    if (!el || !window.Plotly) { return null; }
    Plotly.newPlot(el, traces, layout(extra), config);
    el.dataset.rendered = "true";
    return el;
  }

  var d = data.daily_revenue;
  draw("chart-daily-revenue", [{
    type: "scatter", mode: d.x.length > 120 ? "lines" : "lines+markers", x: d.x, y: d.y,
    customdata: d.orders, line: {color: blue, width: 2, shape: "linear"}, marker: {size: 4},
    fill: "tozeroy", fillcolor: "rgba(37,99,235,0.08)",
    hovertemplate: "%{x|%a %d %b %Y}<br><b>%{y:,.2f}</b> from %{customdata} orders<extra></extra>"
  }], {xaxis: {type: "date"}, yaxis: {tickformat: ",.0f"}});

  var s = data.statuses;
  var colors = {pending: "#f59e0b", paid: "#3b82f6", shipped: "#8b5cf6", delivered: "#10b981", cancelled: "#94a3b8"};
  draw("chart-statuses", [{
    type: "bar", x: s.x, y: s.y, marker: {color: s.x.map(function (k) { return colors[k] || blue; })},
    text: s.y, textposition: "auto", hovertemplate: "%{x}: %{y} orders<extra></extra>"
  }], {yaxis: {tickformat: ",d"}});

  // plotly reads a subset of HTML in the text it draws (<b>, <i>, <br>, <a href>, entities):
  // names are plain text, so their markup characters go in as entities, which it shows as typed.
  function plain(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function ranking(id, series, color) {
    // Horizontal bars, largest on top; each bar links to its report row.
    var el = draw(id, [{
      type: "bar", orientation: "h", x: series.x.slice().reverse(), y: series.y.map(plain).reverse(),
      customdata: series.links.slice().reverse(), marker: {color: color},
      text: series.x.slice().reverse().map(function (v) { return v.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2}); }),
      textposition: "auto", cliponaxis: false,
      hovertemplate: "%{y}<br><b>%{x:,.2f}</b><br>click: open the report row<extra></extra>"
    }], {margin: {l: 8, r: 16, t: 8, b: 36}, xaxis: {tickformat: ",.0f"}, yaxis: {rangemode: "normal"}});
    if (el) {
      el.on("plotly_click", function (event) {
        var url = event.points && event.points[0] && event.points[0].customdata;
        if (url) { window.location.href = url; }
      });
      el.style.height = Math.max(160, 34 * series.x.length + 50) + "px";
      Plotly.Plots.resize(el);
    }
  }
  ranking("chart-products", data.products, blue);
  ranking("chart-customers", data.customers, "#0d9488");

  // Top products month by month: one bar per product in each month; a bar opens that row of the
  // product-months report.
  var pm = data.product_months, palette = [blue, "#0d9488", "#f59e0b", "#8b5cf6", "#ef4444"];
  var monthly = draw("chart-product-months", pm.series.map(function (s, i) {
    return {
      type: "bar", name: plain(s.name), x: pm.months, y: s.y, customdata: s.links,
      marker: {color: palette[i % palette.length]},
      hovertemplate: "%{x}<br><b>%{y:,.2f}</b><br>click: open the report row<extra>%{fullData.name}</extra>"
    };
  }), {barmode: "group", showlegend: true, legend: {orientation: "h", y: -0.2},
       xaxis: {type: "category"}, yaxis: {tickformat: ",.0f"}, margin: {l: 56, r: 16, t: 8, b: 72}});
  if (monthly) {
    monthly.on("plotly_click", function (event) {
      var url = event.points && event.points[0] && event.points[0].customdata;
      if (url) { window.location.href = url; }
    });
  }
})();
