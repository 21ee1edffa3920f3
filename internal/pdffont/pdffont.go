// Package pdffont gives every PDF the platform makes (certificates, the
// learning diary) the same embedded Unicode font, DejaVu Sans, so any
// name prints — ä, ö and å, and č, đ, ł or Cyrillic alike. The core PDF
// fonts (Helvetica in cp1252) cannot. See LICENSE for the fonts' terms.
package pdffont

import (
	_ "embed"

	"github.com/go-pdf/fpdf"
)

// Family is the font family name to pass to SetFont.
const Family = "DejaVuSans"

var (
	//go:embed DejaVuSans.ttf
	regular []byte
	//go:embed DejaVuSans-Bold.ttf
	bold []byte
	//go:embed DejaVuSans-Oblique.ttf
	oblique []byte
)

// Register adds the family's styles to pdf: regular (""), bold ("B") and
// oblique ("I"), or only those named (a PDF carries every style added).
func Register(pdf *fpdf.Fpdf, styles ...string) {
	if len(styles) == 0 {
		styles = []string{"", "B", "I"}
	}
	files := map[string][]byte{"": regular, "B": bold, "I": oblique}
	for _, st := range styles {
		if data, ok := files[st]; ok {
			pdf.AddUTF8FontFromBytes(Family, st, data)
		}
	}
}
