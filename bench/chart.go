package bench

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The chart is drawn for the width a README shows an image at (about 900
// px): SVG lengths are points, 96 px to 72 pt.
const (
	chartWidth  = vg.Length(675)
	chartMargin = vg.Length(10)
	// A bar is thicker than its value label is tall, so a label never
	// reaches into the bar above or below.
	barThickness = vg.Length(9)
	groupGap     = vg.Length(7)
	// panelChrome is a panel's title, X axis and tick labels; panelGap
	// keeps one panel's axis label off the next one's title.
	panelChrome = vg.Length(62)
	panelGap    = vg.Length(16)
)

// chartFontFamily replaces the family gonum writes into the SVG. The text
// is measured with Liberation Sans; Arial and Helvetica have the same
// metrics, so a viewer without Liberation still fits every label where it
// was measured to fit.
const chartFontFamily = "font-family:Liberation Sans,Arial,Helvetica,sans-serif;"

// subjectColors are colour-blind-safe (Okabe–Ito) and fixed per subject
// position in the report, so a backend has the same colour in every panel;
// nginx and HAProxy, the references, get greys.
var subjectColors = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{0, 158, 115, 255},   // green
	color.RGBA{204, 121, 167, 255}, // purple
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{86, 180, 233, 255},  // sky
}

var referenceColors = map[string]color.Color{
	"nginx":   color.Gray{Y: 70},
	"haproxy": color.Gray{Y: 150},
}

// panel is one kind of figure: one unit and one direction (higher or
// lower is better), so no axis mixes them.
type panel struct {
	kind     string
	title    string
	axis     string
	metrics  []Metric
	subjects []string
}

// panelOrder is the order and wording of the panels.
var panelOrder = []struct{ kind, title, axis string }{
	{"server handshakes", "Server side: new TLS connections Gantry terminates (higher is better)", "connections per second"},
	{"client handshakes", "Client side: new TLS connections Gantry opens to an upstream (higher is better)", "connections per second"},
	{"MB/s", "Bulk transfer over one TLS 1.3 connection set (higher is better)", "MB per second"},
	{"req/s", "Proxied requests, 1 KiB responses (higher is better)", "requests per second"},
	// p50 and p99 apart: a p99 ten times the median would squash the
	// medians to slivers on a shared axis.
	{"latency p50", "Proxied request latency, median (lower is better)", "milliseconds (p50)"},
	{"latency p99", "Proxied request latency, 99th percentile (lower is better)", "milliseconds (p99)"},
	{"KiB", "Memory per idle TLS connection (lower is better)", "KiB per connection"},
}

func chartPanels(r *Report) []panel {
	var out []panel
	metrics := presentMetrics(r)
	for _, po := range panelOrder {
		p := panel{kind: po.kind, title: po.title, axis: po.axis}
		for _, m := range metrics {
			if m.Kind() == po.kind && hasSample(r, m.ID) {
				p.metrics = append(p.metrics, m)
			}
		}
		for _, s := range r.Subjects {
			if slices.ContainsFunc(p.metrics, func(m Metric) bool { return r.Find(m.ID, s).Has() }) {
				p.subjects = append(p.subjects, s)
			}
		}
		if len(p.metrics) > 0 {
			out = append(out, p)
		}
	}
	return out
}

func hasSample(r *Report, id string) bool {
	for _, s := range r.Subjects {
		if r.Find(id, s).Has() {
			return true
		}
	}
	return false
}

func (p panel) height() vg.Length {
	group := barThickness*vg.Length(len(p.subjects)) + groupGap
	return panelChrome + panelGap + group*vg.Length(len(p.metrics))
}

// subjectColor is the colour of s in every panel and in the legend.
func subjectColor(r *Report, s string) color.Color {
	if c, ok := referenceColors[s]; ok {
		return c
	}
	i := 0
	for _, x := range r.Subjects {
		if x == s {
			break
		}
		if _, ref := referenceColors[x]; !ref {
			i++
		}
	}
	return subjectColors[i%len(subjectColors)]
}

// WriteChart draws the report as an SVG: a title, a legend, and one panel
// per kind of figure (handshakes, MB/s, requests/s, latency, memory), each
// with absolute values and its unit on the axis, horizontal bars so long
// row names stay readable, min–max whiskers and the median written at the
// end of each bar. Nothing is normalised: ratios are in the table.
func WriteChart(w io.Writer, r *Report) error {
	panels := chartPanels(r)
	legend := legendEntries(r, panels)
	title := newTextStyle(13, draw.XCenter)
	sub := newTextStyle(8.5, draw.XCenter)
	entry := newTextStyle(8.5, draw.XLeft)

	legendRows := layoutLegend(legend, entry, chartWidth-2*chartMargin)
	header := chartMargin + title.Height("X") + 4 + sub.Height("X")*2 + 8 + vg.Length(len(legendRows))*14 + legendGap
	height := header + chartMargin + sub.Height("X")*2
	for _, p := range panels {
		height += p.height()
	}
	if len(panels) == 0 {
		height += 40
	}

	c := vgsvg.New(chartWidth, height)
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(rectPath(vg.Rectangle{Max: vg.Point{X: chartWidth, Y: height}}))

	y := height - chartMargin - title.Height("X")
	dc.FillText(title, vg.Point{X: chartWidth / 2, Y: y}, "Gantry TLS backends, nginx and HAProxy on this machine")
	y -= sub.Height("X") + 4
	dc.FillText(sub, vg.Point{X: chartWidth / 2, Y: y}, fmt.Sprintf("median of %d runs, whiskers min–max; %s", r.Runs, shortSplit(r)))
	y -= sub.Height("X")
	dc.FillText(sub, vg.Point{X: chartWidth / 2, Y: y}, "the machine is shared: compare bars within a panel (one run), not with other runs")
	y -= 8
	for _, row := range legendRows {
		y -= 14
		drawLegendRow(dc, row, entry, y)
	}
	y -= legendGap

	for _, p := range panels {
		h := p.height()
		pl, err := panelPlot(r, p)
		if err != nil {
			return err
		}
		pc := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: chartMargin, Y: y - h + panelGap},
			Max: vg.Point{X: chartWidth - chartMargin, Y: y},
		}}
		pl.Draw(pc)
		y -= h
	}
	if len(panels) == 0 {
		dc.FillText(sub, vg.Point{X: chartWidth / 2, Y: y - 20}, "no figures were measured")
	}

	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return fmt.Errorf("bench: render chart: %w", err)
	}
	svg := strings.ReplaceAll(buf.String(), "font-family:Liberation Sans;", chartFontFamily)
	if _, err := io.WriteString(w, svg); err != nil {
		return fmt.Errorf("bench: write chart: %w", err)
	}
	return nil
}

// shortSplit is the CPU split in a few words for the subtitle.
func shortSplit(r *Report) string {
	if counts := cpuCounts(r); len(counts) > 1 {
		return "rows marked · N CPUs ran the subject on N CPUs"
	}
	return "subject on its own CPU, load on the other"
}

func newTextStyle(size float64, align draw.XAlignment) draw.TextStyle {
	return draw.TextStyle{
		Color:   color.Black,
		Font:    font.From(chartFont, font.Length(size)),
		XAlign:  align,
		YAlign:  draw.YBottom,
		Handler: plot.DefaultTextHandler,
	}
}

// chartFont is Liberation Sans, which gonum carries; see chartFontFamily.
var chartFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

func rectPath(r vg.Rectangle) vg.Path {
	var p vg.Path
	p.Move(r.Min)
	p.Line(vg.Point{X: r.Max.X, Y: r.Min.Y})
	p.Line(r.Max)
	p.Line(vg.Point{X: r.Min.X, Y: r.Max.Y})
	p.Close()
	return p
}

type legendEntry struct {
	label string
	color color.Color
}

// legendEntries name every subject drawn, backends with their library, so
// the chart alone says what was measured.
func legendEntries(r *Report, panels []panel) []legendEntry {
	var out []legendEntry
	for _, s := range r.Subjects {
		drawn := slices.ContainsFunc(panels, func(p panel) bool { return slices.Contains(p.subjects, s) })
		if !drawn {
			continue
		}
		label := s
		for _, b := range r.Backends {
			if b.Name == s && b.Library != "" {
				label = s + " (" + b.Library + ")"
			}
		}
		if _, ok := referenceColors[s]; ok {
			label = s + " (reference)"
		}
		out = append(out, legendEntry{label: label, color: subjectColor(r, s)})
	}
	return out
}

const (
	swatch    = vg.Length(9)
	legendGap = vg.Length(16)
)

func legendWidth(e legendEntry, st draw.TextStyle) vg.Length {
	return swatch + 4 + st.Width(e.label) + 14
}

// layoutLegend wraps the entries into rows that fit width.
func layoutLegend(entries []legendEntry, st draw.TextStyle, width vg.Length) [][]legendEntry {
	var rows [][]legendEntry
	var row []legendEntry
	var used vg.Length
	for _, e := range entries {
		w := legendWidth(e, st)
		if len(row) > 0 && used+w > width {
			rows = append(rows, row)
			row, used = nil, 0
		}
		row = append(row, e)
		used += w
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	return rows
}

func drawLegendRow(dc draw.Canvas, row []legendEntry, st draw.TextStyle, y vg.Length) {
	var total vg.Length
	for _, e := range row {
		total += legendWidth(e, st)
	}
	x := (chartWidth - total + 14) / 2
	for _, e := range row {
		dc.SetColor(e.color)
		dc.Fill(rectPath(vg.Rectangle{Min: vg.Point{X: x, Y: y}, Max: vg.Point{X: x + swatch, Y: y + swatch}}))
		dc.FillText(st, vg.Point{X: x + swatch + 4, Y: y}, e.label)
		x += legendWidth(e, st)
	}
}

// panelPlot is one panel: a horizontal grouped bar chart, one group per
// row of the table (top to bottom in table order), one bar per subject.
func panelPlot(r *Report, p panel) (*plot.Plot, error) {
	pl := plot.New()
	pl.BackgroundColor = color.Transparent
	pl.Title.Text = p.title
	pl.Title.TextStyle = newTextStyle(9.5, draw.XCenter)
	pl.Title.Padding = 4
	pl.X.Label.Text = p.axis
	pl.X.Label.TextStyle = newTextStyle(8.5, draw.XCenter)
	pl.X.Tick.Label = newTextStyle(8, draw.XCenter)
	pl.X.Tick.Label.YAlign = draw.YTop
	pl.Y.Tick.Label = newTextStyle(8, draw.XRight)
	pl.Y.Tick.Label.YAlign = draw.YCenter
	pl.X.Tick.Marker = humanTicks{}
	pl.X.Min = 0

	n := len(p.metrics)
	labels := make([]string, n)
	for i, m := range p.metrics {
		// Y grows upwards; the first row goes on top.
		labels[n-1-i] = m.Label
	}
	pl.NominalY(labels...)
	pl.Y.Padding = 0
	// The grid first, so it lies under the bars.
	grid := plotter.NewGrid()
	grid.Horizontal.Width = 0
	grid.Vertical.Color = color.Gray{Y: 225}
	pl.Add(grid)

	k := len(p.subjects)
	var top float64
	for si, s := range p.subjects {
		vals := make(plotter.Values, n)
		lo, hi := make([]float64, n), make([]float64, n)
		var texts plotter.XYLabels
		for i, m := range p.metrics {
			c := r.Find(m.ID, s)
			if !c.Has() {
				continue
			}
			y := n - 1 - i
			vals[y], lo[y], hi[y] = c.Median, c.Min, c.Max
			top = max(top, c.Max)
			texts.XYs = append(texts.XYs, plotter.XY{X: c.Max, Y: float64(y)})
			texts.Labels = append(texts.Labels, num(c.Median))
		}
		bars, err := plotter.NewBarChart(vals, barThickness)
		if err != nil {
			return nil, fmt.Errorf("bench: chart bars for %s: %w", s, err)
		}
		bars.Horizontal = true
		bars.Color = subjectColor(r, s)
		bars.LineStyle.Width = 0
		// The first subject on top within its group, as in the legend.
		bars.Offset = barThickness * vg.Length(float64(k-1)/2-float64(si))
		pl.Add(bars, &whiskers{lo: lo, hi: hi, offset: bars.Offset})
		if len(texts.XYs) > 0 {
			lbl, err := plotter.NewLabels(texts)
			if err != nil {
				return nil, fmt.Errorf("bench: chart labels for %s: %w", s, err)
			}
			lbl.Offset = vg.Point{X: 3, Y: bars.Offset}
			for i := range lbl.TextStyle {
				lbl.TextStyle[i] = newTextStyle(6.5, draw.XLeft)
				lbl.TextStyle[i].YAlign = draw.YCenter
			}
			pl.Add(lbl)
		}
	}
	// Room right of the longest whisker for its value label.
	pl.X.Max = max(top*1.14, 1)
	return pl, nil
}

// humanTicks are gonum's default ticks with thousands written as "12k",
// so the axis of a 40 000 req/s panel stays short.
type humanTicks struct{}

func (humanTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label == "" {
			continue
		}
		v := ticks[i].Value
		switch {
		case math.Abs(v) >= 1000 && math.Mod(v, 1000) == 0:
			ticks[i].Label = fmt.Sprintf("%gk", v/1000)
		case math.Abs(v) >= 1000:
			ticks[i].Label = fmt.Sprintf("%.1fk", v/1000)
		default:
			ticks[i].Label = fmt.Sprintf("%g", v)
		}
	}
	return ticks
}

// whiskers draw a min–max line across each bar of one subject. gonum's
// error bars take data coordinates, but grouped bars are offset in canvas
// units, so this small plotter applies the same offset.
type whiskers struct {
	lo, hi []float64
	offset vg.Length
}

func (wk *whiskers) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	style := draw.LineStyle{Color: color.Black, Width: vg.Points(0.7)}
	for i := range wk.lo {
		if wk.hi[i] <= 0 {
			continue
		}
		y := trY(float64(i)) + wk.offset
		c.StrokeLine2(style, trX(wk.lo[i]), y, trX(wk.hi[i]), y)
		c.StrokeLine2(style, trX(wk.hi[i]), y-2, trX(wk.hi[i]), y+2)
		c.StrokeLine2(style, trX(wk.lo[i]), y-2, trX(wk.lo[i]), y+2)
	}
}

// DataRange makes the axis long enough for the highest whisker.
func (wk *whiskers) DataRange() (xmin, xmax, ymin, ymax float64) {
	for _, v := range wk.hi {
		xmax = max(xmax, v)
	}
	return 0, xmax, 0, float64(max(len(wk.hi)-1, 0))
}
