package bench

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// WritePlot draws the growth curve (time per update against map size, both
// on log scales) as a PNG at path, and where the report has it the growth
// curve at a fixed working set of protoql's setter and raw Pebble's
// read-modify-write, dotted.
func (r *Report) WritePlot(path string) error {
	p := plot.New()
	p.Title.Text = "Update one entry of a map of n entries"
	p.X.Label.Text = "entries in the map (n)"
	p.Y.Label.Text = "time per update (µs)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	// Top left, inside the axes: that corner is empty (blob climbs from
	// the bottom left).
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(60), -vg.Points(24)
	p.Y.Max = 1e8 // headroom for the legend
	p.Add(plotter.NewGrid())
	blue, grey := color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}
	dashed := []vg.Length{vg.Points(4), vg.Points(3)}
	dotted := []vg.Length{vg.Points(1.5), vg.Points(2.5)}
	series := []struct {
		col    string
		label  string
		c      color.RGBA
		dashes []vg.Length
		wset   bool
	}{
		{"protoql", "protoql entry setter (field patch)", blue, nil, false},
		{"protoql-put", "protoql Put of the whole entry", color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, nil, false},
		{"protoql-breakout", "protoql breakout field (blind write)", color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, dashed, false},
		{"raw", "raw Pebble, setter's key operations", grey, dashed, false},
		{"blob", "blob per record", color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, nil, false},
		{"sqlite", "SQLite (row update)", color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, nil, false},
		{"protoql", fmt.Sprintf("protoql entry setter, W/n maps (W = %d)", r.WorkingSetKeys), blue, dotted, true},
		{"raw", fmt.Sprintf("raw Pebble, W/n maps (W = %d)", r.WorkingSetKeys), grey, dotted, true},
	}
	for _, s := range series {
		results, prefix := r.Growth, "growth"
		if s.wset {
			results, prefix = r.WorkingSet, "wset"
		}
		var pts plotter.XYs
		for _, n := range r.Config.GrowthSizes {
			if res := find(results[n], fmt.Sprintf("%s-%d", prefix, n), s.col); res != nil {
				pts = append(pts, plotter.XY{X: float64(n), Y: res.Median.NsPerOp / 1e3})
			}
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		line.Color, points.Color = s.c, s.c
		line.Width = vg.Points(1.5)
		points.Shape = draw.CircleGlyph{}
		line.Dashes = s.dashes
		p.Add(line, points)
		p.Legend.Add(s.label, line, points)
	}
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}
