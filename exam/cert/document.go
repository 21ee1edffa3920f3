package cert

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"rsc.io/qr"

	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/internal/pdffont"
)

// Document is what a certificate's printable forms show.
type Document struct {
	ID            string    // the certificate's id
	Holder        string    // the learner's name as recorded at issue
	Course        string    // course title (Finnish)
	Credits       int       // 1 (op / ECTS)
	Hours         int       // workload, 27
	Issued        time.Time // shown as a date in Issued's own location
	IssuerName    string
	IssuerAddress string // one line, may be empty
	URL           string // the public verification page, absolute URL
	Lang          string // "fi", "sv" or "en": the language of the fixed texts
}

// QRPNG returns a PNG QR code (error correction M, quiet zone of 4 modules) that encodes url.
func QRPNG(url string) ([]byte, error) {
	if strings.TrimSpace(url) == "" {
		return nil, errors.New("cert: QR code: empty URL")
	}
	code, err := qr.Encode(url, qr.M)
	if err != nil {
		return nil, fmt.Errorf("cert: QR code: %w", err)
	}
	code.Scale = qrScale
	// Code.PNG draws a white border of 4 modules around the symbol.
	return code.PNG(), nil
}

// qrScale is the number of image pixels per QR module.
const qrScale = 8

// texts holds a language's fixed texts. The words are in the UI message
// catalogue (internal/i18n/locales, keys cert.*); only the date format is here.
type texts struct {
	title     string // large heading, in capitals
	docTitle  string // the PDF's title metadata, before the course
	completed string // between the holder and the course
	issued    string // before the date
	id        string // before the certificate id
	verify    string // before the verification URL
	extent    func(credits, hours int) string
	date      func(time.Time) string
}

// textsIn returns the fixed texts of lang, one of i18n.Langs.
func textsIn(lang string) texts {
	return texts{
		title:     i18n.T(lang, "cert.pdf.heading"),
		docTitle:  i18n.T(lang, "cert.title"),
		completed: i18n.T(lang, "cert.pdf.completed"),
		issued:    i18n.T(lang, "cert.issued"),
		id:        i18n.T(lang, "cert.id"),
		verify:    i18n.T(lang, "cert.pdf.verify"),
		extent: func(credits, hours int) string {
			return i18n.T(lang, "cert.extent.value", i18n.TN(lang, "cert.credits", credits), i18n.TN(lang, "unit.hours", hours))
		},
		date: func(t time.Time) string { return i18n.Date(lang, t) },
	}
}

// language returns the code and fixed texts for lang ("fi", "sv" or "en",
// case-insensitive, a region such as "sv-FI" ignored); anything else is "fi".
func language(lang string) (string, texts) {
	code, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(lang)), "-")
	if slices.Contains(i18n.Langs, code) {
		return code, textsIn(code)
	}
	return "fi", textsIn("fi")
}

// oneLine folds runs of white space, line breaks included, into single spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// check returns d with its texts on one line each, or an error naming what
// a printable certificate lacks.
func (d Document) check() (Document, error) {
	d.ID = oneLine(d.ID)
	d.Holder = oneLine(d.Holder)
	d.Course = oneLine(d.Course)
	d.IssuerName = oneLine(d.IssuerName)
	d.IssuerAddress = oneLine(d.IssuerAddress)
	d.URL = strings.TrimSpace(d.URL)
	switch {
	case d.Holder == "":
		return d, errors.New("cert: document: empty holder name")
	case d.Course == "":
		return d, errors.New("cert: document: empty course title")
	case d.URL == "":
		return d, errors.New("cert: document: empty verification URL")
	case d.Credits < 1:
		return d, fmt.Errorf("cert: document: credits %d, want at least 1", d.Credits)
	case d.Hours < 1:
		return d, fmt.Errorf("cert: document: workload %d hours, want at least 1", d.Hours)
	case d.Issued.IsZero():
		return d, errors.New("cert: document: no issue time")
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		return d, fmt.Errorf("cert: document: verification URL: %w", err)
	}
	if !u.IsAbs() || u.Host == "" {
		return d, fmt.Errorf("cert: document: verification URL %q is not absolute", d.URL)
	}
	return d, nil
}

// Page geometry in millimetres (A4 portrait).
const (
	pageW   = 210.0
	pageH   = 297.0
	margin  = 25.0
	frame   = 12.0 // inset of the decorative frame
	qrSize  = 38.0 // side of the QR code image, quiet zone included
	textW   = pageW - 2*margin
	regular = pdffont.Family
)

// PDF renders the certificate as an A4 PDF.
//
// The same Document gives the same bytes: the PDF's dates are the issue
// time and its internal catalogues are sorted.
func PDF(d Document) ([]byte, error) {
	d, err := d.check()
	if err != nil {
		return nil, err
	}
	lang, tx := language(d.Lang)
	png, err := QRPNG(d.URL)
	if err != nil {
		return nil, err
	}

	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(d.Issued)
	pdf.SetModificationDate(d.Issued)
	pdf.SetTitle(tx.docTitle+": "+d.Course, true)
	pdf.SetAuthor(d.IssuerName, true)
	pdf.SetCreator("tyokyky", true)
	pdf.SetLang(lang)
	pdf.SetDisplayMode("fullpage", "single")
	pdffont.Register(pdf, "", "B")
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(false, margin)
	pdf.AddPage()

	// A double frame.
	pdf.SetDrawColor(40, 70, 110)
	pdf.SetLineWidth(0.8)
	pdf.Rect(frame, frame, pageW-2*frame, pageH-2*frame, "D")
	pdf.SetLineWidth(0.25)
	pdf.Rect(frame+2.5, frame+2.5, pageW-2*frame-5, pageH-2*frame-5, "D")

	centred := func(style string, size, lineH float64, s string) {
		pdf.SetFont(regular, style, size)
		pdf.SetX(margin)
		pdf.MultiCell(textW, lineH, s, "", "C", false)
	}

	pdf.SetTextColor(40, 70, 110)
	pdf.SetY(48)
	centred("B", 30, 14, tx.title)

	pdf.SetTextColor(0, 0, 0)
	pdf.SetY(82)
	centred("B", 24, 11, d.Holder)
	pdf.Ln(6)
	centred("", 13, 7, tx.completed)
	pdf.Ln(4)
	centred("B", 17, 8.5, d.Course)
	pdf.Ln(5)
	centred("", 12, 6.5, tx.extent(d.Credits, d.Hours))

	// The issue date and the issuer below, lower down for a long title.
	pdf.SetY(max(pdf.GetY()+12, 160))
	centred("", 12, 6.5, tx.issued+" "+tx.date(d.Issued))
	if d.IssuerName != "" {
		pdf.Ln(6)
		centred("B", 12, 6.5, d.IssuerName)
	}
	if d.IssuerAddress != "" {
		centred("", 10, 5.5, d.IssuerAddress)
	}

	// The QR code at the bottom left, its caption beside it.
	qrY := pageH - margin - 8 - qrSize
	pdf.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(png))
	pdf.ImageOptions("qr", margin, qrY, qrSize, qrSize, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, d.URL)
	capX := margin + qrSize + 6
	capW := pageW - margin - capX
	pdf.SetTextColor(60, 60, 60)
	pdf.SetXY(capX, qrY+8)
	pdf.SetFont(regular, "", 9)
	pdf.MultiCell(capW, 4.8, tx.verify+": "+d.URL, "", "L", false)
	if d.ID != "" {
		pdf.Ln(2)
		pdf.SetX(capX)
		pdf.MultiCell(capW, 4.8, tx.id+": "+d.ID, "", "L", false)
	}

	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("cert: PDF: %w", err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("cert: PDF: %w", err)
	}
	return buf.Bytes(), nil
}
