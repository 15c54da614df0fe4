package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// chartCap is the highest ratio drawn to scale: one outlier (a 40× memory
// difference) would otherwise flatten every other group to a sliver. Taller
// bars are cut at the cap and labelled with their value.
const chartCap = 4.0

// WriteChart draws the report as an SVG grouped bar chart: one group per
// metric, one bar per subject, every bar divided by gostd's median so rows
// with different units share one axis. Whiskers show min and max. Metrics
// without a gostd figure cannot be normalised and are left out.
func WriteChart(w io.Writer, r *Report) error {
	return renderChart(w, r, "svg")
}

// renderChart draws in any format gonum supports; PNG is handy to look at
// a chart where no SVG viewer is.
func renderChart(w io.Writer, r *Report, format string) error {
	var groups []Metric
	for _, m := range presentMetrics(r) {
		if r.Find(m.ID, ReferenceSubject).Has() && r.Find(m.ID, ReferenceSubject).Median > 0 {
			groups = append(groups, m)
		}
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Gantry TLS backends, normalised to %s = 1.0 (median of %d runs, whiskers min–max; ↓ lower is better; bars over %.0f are cut and labelled)",
		ReferenceSubject, r.Runs, chartCap)
	p.Y.Label.Text = "relative to " + ReferenceSubject
	p.Y.Min = 0
	// Headroom above the cap holds the legend and the labels of cut bars.
	p.Y.Max = chartCap * 1.35
	var ticks []plot.Tick
	for v := 0.0; v <= chartCap; v += 0.5 {
		t := plot.Tick{Value: v}
		if v == float64(int(v)) || v < 2 {
			t.Label = fmt.Sprintf("%g", v)
		}
		ticks = append(ticks, t)
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.Legend.Top = true
	p.Legend.Left = false
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter

	labels := make([]string, len(groups))
	for i, m := range groups {
		labels[i] = m.Label
		if m.LowerIsBetter {
			labels[i] += " ↓"
		}
	}
	if len(groups) == 0 {
		// Still a valid chart: an empty axis says plainly there was nothing
		// to normalise.
		labels = []string{"no metric with a " + ReferenceSubject + " figure"}
	}
	p.NominalX(labels...)

	var subjects []string
	for _, s := range r.Subjects {
		for _, m := range groups {
			if r.Find(m.ID, s).Has() {
				subjects = append(subjects, s)
				break
			}
		}
	}
	const barWidth = vg.Length(7)
	for i, s := range subjects {
		vals := make(plotter.Values, len(groups))
		lo := make([]float64, len(groups))
		hi := make([]float64, len(groups))
		var cut plotter.XYLabels
		for g, m := range groups {
			ref := r.Find(m.ID, ReferenceSubject).Median
			if c := r.Find(m.ID, s); c.Has() {
				vals[g], lo[g], hi[g] = c.Median/ref, c.Min/ref, c.Max/ref
			}
			if vals[g] > chartCap {
				cut.XYs = append(cut.XYs, plotter.XY{X: float64(g), Y: chartCap})
				cut.Labels = append(cut.Labels, fmt.Sprintf("%.1f", vals[g]))
			}
			vals[g] = min(vals[g], chartCap)
			lo[g] = min(lo[g], chartCap)
			hi[g] = min(hi[g], chartCap)
		}
		if len(vals) == 0 {
			continue
		}
		bars, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			return fmt.Errorf("bench: chart bars for %s: %w", s, err)
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = vg.Length(0.5)
		bars.Offset = barWidth * vg.Length(float64(i)-float64(len(subjects)-1)/2)
		p.Add(bars, &whiskers{lo: lo, hi: hi, offset: bars.Offset})
		p.Legend.Add(s, bars)
		if len(cut.XYs) > 0 {
			lbl, err := plotter.NewLabels(cut)
			if err != nil {
				return fmt.Errorf("bench: chart labels for %s: %w", s, err)
			}
			lbl.Offset = vg.Point{X: bars.Offset, Y: 2}
			for i := range lbl.TextStyle {
				lbl.TextStyle[i].Font.Size = vg.Points(7)
				lbl.TextStyle[i].Rotation = math.Pi / 2
				lbl.TextStyle[i].XAlign = draw.XLeft
				lbl.TextStyle[i].YAlign = draw.YCenter
			}
			p.Add(lbl)
		}
	}
	if len(groups) > 0 {
		one, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(groups)) - 0.5, Y: 1}})
		if err != nil {
			return fmt.Errorf("bench: chart reference line: %w", err)
		}
		one.Color = color.Gray{Y: 96}
		one.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(one)
	}
	p.Add(plotter.NewGrid())

	width := max(vg.Length(len(groups))*(barWidth*vg.Length(max(len(subjects), 1))+vg.Length(18))+vg.Length(120), 16*vg.Centimeter)
	wt, err := p.WriterTo(width, 13*vg.Centimeter, format)
	if err != nil {
		return fmt.Errorf("bench: render chart: %w", err)
	}
	if _, err := wt.WriteTo(w); err != nil {
		return fmt.Errorf("bench: write chart: %w", err)
	}
	return nil
}

// whiskers draws a min–max line over each bar of one subject. gonum's error
// bars take data coordinates, but grouped bars are offset in canvas units,
// so this small plotter applies the same offset.
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
		x := trX(float64(i)) + wk.offset
		c.StrokeLine2(style, x, trY(wk.lo[i]), x, trY(wk.hi[i]))
		c.StrokeLine2(style, x-2, trY(wk.hi[i]), x+2, trY(wk.hi[i]))
		c.StrokeLine2(style, x-2, trY(wk.lo[i]), x+2, trY(wk.lo[i]))
	}
}

// DataRange makes the axis tall enough for the highest whisker.
func (wk *whiskers) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = 0, float64(max(len(wk.hi)-1, 0))
	for _, v := range wk.hi {
		ymax = max(ymax, v)
	}
	return xmin, xmax, 0, ymax
}
