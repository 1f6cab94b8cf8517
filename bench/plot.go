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
// on log scales) as a PNG at path.
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
	series := []struct {
		col   string
		label string
		c     color.RGBA
	}{
		{"protoql", "protoql entry setter (field patch)", color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}},
		{"protoql-put", "protoql Put of the whole entry", color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}},
		{"protoql-breakout", "protoql breakout field (blind write)", color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}},
		{"raw", "raw Pebble, setter's key operations", color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}},
		{"blob", "blob per record", color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}},
		{"sqlite", "SQLite (row update)", color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}},
	}
	for _, s := range series {
		var pts plotter.XYs
		for _, n := range r.Config.GrowthSizes {
			if res := find(r.Growth[n], fmt.Sprintf("growth-%d", n), s.col); res != nil {
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
		if s.col == "protoql-breakout" || s.col == "raw" {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(line, points)
		p.Legend.Add(s.label, line, points)
	}
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}
