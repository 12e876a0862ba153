package checkin

import (
	"bytes"
	"image"
	"image/color"
	"image/png"

	"github.com/yeqown/go-qrcode/v2"
)

// QRPNG renders text as a black-on-white QR code (error correction level
// M) with a quiet zone of four modules, scale pixels per module.
func QRPNG(text string, scale int) ([]byte, error) {
	q, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return nil, err
	}
	w := &pngWriter{scale: max(scale, 1)}
	if err := q.Save(w); err != nil {
		return nil, err
	}
	return w.out.Bytes(), nil
}

// pngWriter is a qrcode.Writer that draws the matrix into a PNG.
type pngWriter struct {
	scale int
	out   bytes.Buffer
}

const quietZone = 4

func (w *pngWriter) Write(m qrcode.Matrix) error {
	side := (m.Width() + 2*quietZone) * w.scale
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	m.Iterate(qrcode.IterDirection_ROW, func(x, y int, v qrcode.QRValue) {
		if !v.IsSet() {
			return
		}
		x0, y0 := (x+quietZone)*w.scale, (y+quietZone)*w.scale
		for dy := range w.scale {
			for dx := range w.scale {
				img.SetColorIndex(x0+dx, y0+dy, 1)
			}
		}
	})
	return png.Encode(&w.out, img)
}

func (w *pngWriter) Close() error { return nil }
