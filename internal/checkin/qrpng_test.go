package checkin

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// TestQRPNGDecodes: a decoder reads back the signed payload from the PNG.
func TestQRPNGDecodes(t *testing.T) {
	s, _ := NewSigner(strings.Repeat("k", 32))
	payload, err := s.Sign(Payload{KeyVersion: 1, TenantID: tenant, EventID: event, TicketID: ticket, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	b, err := QRPNG(payload, 4)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decoding the QR code: %v", err)
	}
	if res.GetText() != payload {
		t.Fatalf("decoded %q, want %q", res.GetText(), payload)
	}
}
