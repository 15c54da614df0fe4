package bench

import (
	"math"
	"sort"
)

// Summary is a figure measured several times: the median is what the table
// shows, min and max show how far the runs spread.
type Summary struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// Summarize reduces samples to median, min and max. NaN samples (a run that
// failed) are ignored; with no usable sample, ok is false.
func Summarize(samples []float64) (s Summary, ok bool) {
	clean := make([]float64, 0, len(samples))
	for _, v := range samples {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			clean = append(clean, v)
		}
	}
	if len(clean) == 0 {
		return Summary{}, false
	}
	sort.Float64s(clean)
	return Summary{
		Median: Median(clean),
		Min:    clean[0],
		Max:    clean[len(clean)-1],
		N:      len(clean),
	}, true
}

// Median of xs (which need not be sorted); the mean of the two middle values
// for an even count, NaN for none.
func Median(xs []float64) float64 {
	return Percentile(xs, 50)
}

// Percentile returns the p-th percentile (0..100) of xs by linear
// interpolation between closest ranks, the definition most load tools use
// for their p50/p99 lines. xs need not be sorted and is not modified.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 || math.IsNaN(p) {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return percentileSorted(s, p)
}

func percentileSorted(s []float64, p float64) float64 {
	switch {
	case p <= 0:
		return s[0]
	case p >= 100:
		return s[len(s)-1]
	}
	pos := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	if lo == hi {
		return s[lo]
	}
	frac := pos - float64(lo)
	return s[lo] + (s[hi]-s[lo])*frac
}
