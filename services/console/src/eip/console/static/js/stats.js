// What the page counts about its live data, one object shared by console.js and charts.js and
// read by the browser tests (window.eipConsole): events and fragments received, depth events
// and chart redraws, the last book position drawn.
export const stats = (window.eipConsole = window.eipConsole || {
  connected: false,
  fragments: 0,
  depthEvents: 0,
  depthRedraws: 0,
  candleEvents: 0,
});
