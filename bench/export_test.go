package bench

// RenderChart exposes renderChart to tests.
var RenderChart = renderChart
