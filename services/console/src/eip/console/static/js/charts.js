// The charts of the markets and order-book pages (Apache ECharts, vendored). Data arrives as
// DOM events from console.js ("eip:depth", "eip:candles"). Prices come as decimal strings and
// become numbers here only to be placed on an axis; every figure shown as text stays the
// server's string.
//
// The depth chart redraws at most once per animation frame: events that arrive faster are
// folded into the next frame, so a busy book never queues frames the screen cannot show.
// window.eipConsole counts events and redraws (the browser test reads them to report fps).
import { stats } from "./stats.js";

const BID = "#1a7f37";
const ASK = "#c62828";

function depthChart(element) {
  const chart = window.echarts.init(element, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    grid: { left: 70, right: 24, top: 24, bottom: 40 },
    tooltip: { trigger: "axis", renderMode: "richText" },
    legend: { data: ["Bids", "Asks"], top: 0 },
    xAxis: { type: "value", scale: true, name: "price", nameLocation: "middle", nameGap: 26 },
    yAxis: { type: "value", name: "cumulative size" },
    series: [
      { name: "Bids", type: "line", step: "end", symbol: "none", color: BID, areaStyle: { opacity: 0.25 }, data: [] },
      { name: "Asks", type: "line", step: "start", symbol: "none", color: ASK, areaStyle: { opacity: 0.25 }, data: [] },
    ],
  });
  let latest = null;
  let scheduled = false;

  function cumulativeAt(points, price) {
    const hit = points.find((p) => p[0] === price);
    return hit ? hit[1] : 0;
  }

  function marks(points, walls, clusters, width, side) {
    const pins = walls.map((w) => ({
      name: `wall ${w[0]} × ${w[1]}`,
      coord: [Number(w[0]), cumulativeAt(points, Number(w[0]))],
      value: `${w[2]}×`,
    }));
    const step = Number(width || 0);
    const bands = clusters.map((c) => {
      const price = Number(c[0]);
      const from = side === "bids" ? price : price - step;
      return [{ name: `cluster ${c[0]}: ${c[1]}`, xAxis: from }, { xAxis: from + step }];
    });
    return {
      markPoint: { symbol: "pin", symbolSize: 38, label: { fontSize: 9 }, data: pins },
      markArea: { silent: true, itemStyle: { opacity: 0.12 }, data: bands },
    };
  }

  function draw() {
    scheduled = false;
    const d = latest;
    if (!d) return;
    if (!d.in_sync) {
      chart.setOption({
        title: { text: `Not in sync: ${d.reason || d.message || "unknown"}`, left: "center", top: "middle" },
        series: [{ data: [], markPoint: { data: [] }, markArea: { data: [] } }, { data: [], markPoint: { data: [] }, markArea: { data: [] } }],
      });
      element.dataset.inSync = "false";
      stats.depthRedraws += 1;
      return;
    }
    const bids = d.bids.map((p) => [Number(p[0]), Number(p[1])]).reverse();
    const asks = d.asks.map((p) => [Number(p[0]), Number(p[1])]);
    chart.setOption({
      title: { text: "" },
      series: [
        { data: bids, ...marks(bids, d.walls.bids, d.clusters.bids, d.clusters.width, "bids") },
        { data: asks, ...marks(asks, d.walls.asks, d.clusters.asks, d.clusters.width, "asks") },
      ],
    });
    element.dataset.inSync = "true";
    element.dataset.sequence = String(d.sequence);
    element.dataset.points = String(bids.length + asks.length);
    stats.depthRedraws += 1;
    stats.lastDepth = { epoch: d.epoch, sequence: d.sequence, at: performance.now() };
  }

  document.addEventListener("eip:depth", (event) => {
    stats.depthEvents += 1;
    latest = event.detail;
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(draw);
    }
  });
  window.addEventListener("resize", () => chart.resize());
}

function candlesChart(element) {
  const chart = window.echarts.init(element, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis", renderMode: "richText" },
    axisPointer: { link: [{ xAxisIndex: "all" }] },
    grid: [
      { left: 70, right: 24, top: 16, height: "58%" },
      { left: 70, right: 24, top: "74%", height: "16%" },
    ],
    xAxis: [
      { type: "category", data: [], boundaryGap: true },
      { type: "category", gridIndex: 1, data: [], boundaryGap: true, axisLabel: { show: false } },
    ],
    yAxis: [{ scale: true }, { gridIndex: 1, name: "volume", splitNumber: 2 }],
    series: [
      { name: "Price", type: "candlestick", data: [], itemStyle: { color: BID, color0: ASK, borderColor: BID, borderColor0: ASK } },
      { name: "Volume", type: "bar", xAxisIndex: 1, yAxisIndex: 1, data: [], color: "#5b6b7f" },
    ],
  });
  document.addEventListener("eip:candles", (event) => {
    stats.candleEvents += 1;
    const candles = event.detail.candles;
    const times = candles.map((c) => c[0].slice(0, 16).replace("T", " "));
    chart.setOption({
      xAxis: [{ data: times }, { data: times }],
      series: [
        { data: candles.map((c) => [Number(c[1]), Number(c[2]), Number(c[3]), Number(c[4])]) },
        { data: candles.map((c) => Number(c[5])) },
      ],
    });
    element.dataset.candles = String(candles.length);
  });
  window.addEventListener("resize", () => chart.resize());
}

// The accounts page's portfolio value over time: the points come with the page (data-points,
// [time, value] with value a decimal string, or null where every held asset was unvalued: a
// gap in the line, never a fall to 0).
function valueChart(element) {
  const points = JSON.parse(element.dataset.points || "[]");
  const chart = window.echarts.init(element, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    grid: { left: 90, right: 24, top: 24, bottom: 40 },
    tooltip: { trigger: "axis", renderMode: "richText" },
    xAxis: { type: "time" },
    yAxis: { type: "value", scale: true, name: element.dataset.quote },
    series: [
      {
        name: "Value",
        type: "line",
        symbol: "none",
        connectNulls: false,
        areaStyle: { opacity: 0.15 },
        data: points.map((p) => [p[0], p[1] === null ? null : Number(p[1])]),
      },
    ],
  });
  element.dataset.drawn = String(points.filter((p) => p[1] !== null).length);
  window.addEventListener("resize", () => chart.resize());
}

const value = document.getElementById("value-chart");
if (value) valueChart(value);
const depth = document.getElementById("depth-chart");
if (depth) depthChart(depth);
const candles = document.getElementById("candles-chart");
if (candles) candlesChart(candles);
