package course

import (
	"errors"
	"strings"
	"testing"
)

// reviewSVGPayloads are the figures of the security review's finding 6
// that the regular expressions let through: a script behind a namespace
// prefix, an XHTML script and a javascript: address with its colon written
// as a character reference. Each has a <title>, so only the script check
// can refuse it.
var reviewSVGPayloads = map[string]string{
	"s:script": `<svg xmlns="http://www.w3.org/2000/svg"><title>Kaavio</title>` + "\n" +
		`<s:script xmlns:s="http://www.w3.org/2000/svg">alert(1)</s:script></svg>`,
	"h:script": `<svg xmlns="http://www.w3.org/2000/svg"><title>Kaavio</title>` + "\n" +
		`<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></svg>`,
	"javascript&#58;": `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><title>Kaavio</title>` + "\n" +
		`<a xlink:href="javascript&#58;alert(1)"><text>x</text></a></svg>`,
}

func TestSVGFiguresRefuseTheReviewsPayloads(t *testing.T) {
	const fig = "modules/01-ensimmainen/kuvat/kaavio.svg"
	for name, doc := range reviewSVGPayloads {
		// In the content tree: Load reports the figure at line 2.
		_, problems := Load(fixtureWith(t, map[string]string{fig: doc}))
		found := false
		for _, p := range problems {
			if p.File == fig && p.Line == 2 && strings.Contains(p.Msg, "only") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the figure was not refused at line 2: %v", name, problems)
		}
		// Uploaded in the studio.
		page := "modules/01-ensimmainen/01-alku.md"
		if _, _, err := AddFigure(fixtureWith(t, nil), page, "kaavio.svg", "image/svg+xml", []byte(doc)); !errors.Is(err, ErrFigureSVG) || !strings.Contains(err.Error(), "at line 2: ") {
			t.Errorf("%s: AddFigure = %v", name, err)
		}
	}
}

func TestSVGFigureChecks(t *testing.T) {
	clean := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 2 2"><title>Kaavio</title><rect width="1" height="1"/></svg>`
	if probs := checkSVG([]byte(clean)); len(probs) != 0 {
		t.Errorf("a clean figure: %v", probs)
	}
	untitled := `<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>`
	if probs := checkSVG([]byte(untitled)); len(probs) != 1 || !strings.Contains(probs[0].msg, "<title>") {
		t.Errorf("a figure without a title: %v", probs)
	}
	both := `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`
	if probs := checkSVG([]byte(both)); len(probs) != 2 || !strings.Contains(probs[0].msg, "<script>") {
		t.Errorf("a script without a title: %v", probs)
	}
}
