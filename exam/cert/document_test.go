package cert

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

func sampleDocument() Document {
	return Document{
		ID:            "T-2026-7QK4M9",
		Holder:        "Åsa Öhman-Järvinen",
		Course:        "Työkyvyn tuen johtaminen sosiaali- ja terveydenhuollossa",
		Credits:       1,
		Hours:         27,
		Issued:        time.Date(2026, time.November, 24, 10, 30, 0, 0, time.UTC),
		IssuerName:    "Työkyky-verkkokurssi",
		IssuerAddress: "Esimerkkikatu 1, 00100 Helsinki",
		URL:           "https://tyokyky.example/todistus/T-2026-7QK4M9",
		Lang:          "fi",
	}
}

// pdfText returns the text of a PDF as pdftotext -layout sees it, with runs
// of white space folded to single spaces so that wrapped lines still match.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatal("pdftotext not found on PATH: `make test` installs Debian's poppler-utils, which provides it")
	}
	file := filepath.Join(t.TempDir(), "cert.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-layout", file, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

func TestPDFShowsHolderAndCourse(t *testing.T) {
	d := sampleDocument()
	b, err := PDF(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("output does not start with %%PDF-: %q", b[:min(len(b), 16)])
	}
	text := pdfText(t, b)
	for _, want := range []string{
		"TODISTUS",
		d.Holder,
		"on suorittanut verkkokurssin",
		d.Course,
		"1 op",
		"1 op (1 ECTS), 27 tuntia",
		"27",
		"24.11.2026",
		d.IssuerName,
		d.IssuerAddress,
		d.ID,
		"Tarkista todistus:",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q; text:\n%s", want, text)
		}
	}
	if !bytes.Contains(b, []byte("/Lang (fi)")) {
		t.Error("PDF catalogue lacks /Lang (fi)")
	}
	if strings.Contains(text, "@") {
		t.Errorf("PDF text has an @, as in an e-mail address:\n%s", text)
	}
}

func TestPDFLanguages(t *testing.T) {
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{"en", []string{"CERTIFICATE", "has completed the online course", "1 credit (1 ECTS), 27 hours", "24 November 2026", "Verify this certificate:"}},
		{"sv", []string{"INTYG", "har avlagt webbkursen", "1 sp (1 ECTS), 27 timmar", "24.11.2026", "Kontrollera intyget:"}},
		{"de", []string{"TODISTUS", "on suorittanut verkkokurssin", "1 op (1 ECTS), 27 tuntia"}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			d := sampleDocument()
			d.Lang = tc.lang
			b, err := PDF(d)
			if err != nil {
				t.Fatal(err)
			}
			text := pdfText(t, b)
			for _, want := range append(tc.want, d.Holder, d.Course, d.ID) {
				if !strings.Contains(text, want) {
					t.Errorf("PDF text lacks %q; text:\n%s", want, text)
				}
			}
		})
	}
}

func TestPDFPlurals(t *testing.T) {
	for _, c := range []struct {
		lang           string
		credits, hours int
		want           string
	}{
		{"en", 2, 1, "2 credits (2 ECTS), 1 hour"},
		{"en", 1, 2, "1 credit (1 ECTS), 2 hours"},
		{"fi", 2, 1, "2 op (2 ECTS), 1 tunti"},
		{"sv", 2, 1, "2 sp (2 ECTS), 1 timme"},
	} {
		d := sampleDocument()
		d.Lang = c.lang
		d.Credits, d.Hours = c.credits, c.hours
		b, err := PDF(d)
		if err != nil {
			t.Fatal(err)
		}
		if text := pdfText(t, b); !strings.Contains(text, c.want) {
			t.Errorf("%s: PDF text lacks %q; text:\n%s", c.lang, c.want, text)
		}
	}
}

func TestPDFIsDeterministic(t *testing.T) {
	a, err := PDF(sampleDocument())
	if err != nil {
		t.Fatal(err)
	}
	b, err := PDF(sampleDocument())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("the same Document gave different bytes")
	}
	if !bytes.Contains(a, []byte("/CreationDate (D:20261124103000)")) {
		t.Error("PDF's creation date is not the issue time")
	}
}

func TestPDFConcurrent(t *testing.T) {
	want, err := PDF(sampleDocument())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			got, err := PDF(sampleDocument())
			if err != nil {
				t.Error(err)
			} else if !bytes.Equal(got, want) {
				t.Error("concurrent renderings differ")
			}
		})
	}
	wg.Wait()
}

func TestPDFHasQRImage(t *testing.T) {
	b, err := PDF(sampleDocument())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("/Subtype /Image")) {
		t.Error("PDF has no image XObject")
	}
}

func TestPDFRefusesEmpty(t *testing.T) {
	for name, change := range map[string]func(*Document){
		"holder":       func(d *Document) { d.Holder = "" },
		"blank holder": func(d *Document) { d.Holder = " \n\t" },
		"course":       func(d *Document) { d.Course = "" },
		"url":          func(d *Document) { d.URL = "" },
		"relative url": func(d *Document) { d.URL = "/todistus/T-2026-7QK4M9" },
		"credits":      func(d *Document) { d.Credits = 0 },
		"hours":        func(d *Document) { d.Hours = -1 },
		"issued":       func(d *Document) { d.Issued = time.Time{} },
	} {
		t.Run(name, func(t *testing.T) {
			d := sampleDocument()
			change(&d)
			b, err := PDF(d)
			if err == nil {
				t.Fatalf("PDF gave %d bytes and no error", len(b))
			}
			if !strings.HasPrefix(err.Error(), "cert: ") {
				t.Errorf("error %q lacks the cert: prefix", err)
			}
		})
	}
}

func TestQRDecodesToURL(t *testing.T) {
	const url = "https://tyokyky.example/todistus/T-2026-7QK4M9"
	b, err := QRPNG(url)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("QRPNG gave no PNG: %v", err)
	}
	checkQuietZone(t, img)

	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decoding the QR code: %v", err)
	}
	if got := res.GetText(); got != url {
		t.Errorf("QR code says %q, want %q", got, url)
	}
	if ec := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL]; ec != "M" {
		t.Errorf("error correction level %v, want M", ec)
	}
}

// checkQuietZone checks that img is a square of whole modules with a white
// border of 4 modules and the top-left finder pattern just inside it.
func checkQuietZone(t *testing.T, img image.Image) {
	t.Helper()
	r := img.Bounds()
	if r.Dx() != r.Dy() || r.Dx()%qrScale != 0 {
		t.Fatalf("image is %dx%d, want a square of %d-pixel modules", r.Dx(), r.Dy(), qrScale)
	}
	quiet := 4 * qrScale
	dark := func(x, y int) bool {
		c, _, _, _ := img.At(r.Min.X+x, r.Min.Y+y).RGBA()
		return c < 0x8000
	}
	for y := 0; y < r.Dy(); y++ {
		for x := 0; x < r.Dx(); x++ {
			inside := x >= quiet && y >= quiet && x < r.Dx()-quiet && y < r.Dy()-quiet
			if !inside && dark(x, y) {
				t.Fatalf("dark pixel at (%d,%d) in the quiet zone", x, y)
			}
		}
	}
	if !dark(quiet, quiet) || !dark(r.Dx()-quiet-1, quiet) || !dark(quiet, r.Dy()-quiet-1) {
		t.Error("no finder pattern corners just inside the quiet zone")
	}
}

func TestQRRefusesEmpty(t *testing.T) {
	if _, err := QRPNG(""); err == nil {
		t.Error("QRPNG(\"\") gave no error")
	}
}

func BenchmarkPDF(b *testing.B) {
	d := sampleDocument()
	for b.Loop() {
		if _, err := PDF(d); err != nil {
			b.Fatal(err)
		}
	}
}
