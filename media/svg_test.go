package media

import (
	"strings"
	"testing"
)

// TestCheckSVGRefusesTheReviewsPayloads: the security review's finding 6,
// a script behind a namespace prefix, an XHTML script and a javascript:
// address with its colon as a character reference, which the regular
// expressions let through.
func TestCheckSVGRefusesTheReviewsPayloads(t *testing.T) {
	for name, doc := range map[string]string{
		"s:script": `<svg xmlns="http://www.w3.org/2000/svg">` + "\n" +
			`<s:script xmlns:s="http://www.w3.org/2000/svg">alert(1)</s:script></svg>`,
		"h:script": `<svg xmlns="http://www.w3.org/2000/svg">` + "\n" +
			`<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></svg>`,
		"javascript&#58;": `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">` + "\n" +
			`<a xlink:href="javascript&#58;alert(1)"><text>x</text></a></svg>`,
	} {
		err := CheckSVG([]byte(doc))
		le, ok := err.(*LineError)
		if !ok || le.Line != 2 || !strings.Contains(le.Msg, "the SVG image contains") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := CheckSVG([]byte(`<svg xmlns="http://www.w3.org/2000/svg">` + "\n" + `<s:script xmlns:s="http://www.w3.org/2000/svg"/></svg>`)); err == nil ||
		err.Error() != "line 2: the SVG image contains a <script> element; only static drawings are accepted" {
		t.Errorf("message: %v", err)
	}
}

func TestCheckSVGAcceptsADrawing(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10">
  <defs><linearGradient id="g"><stop offset="0" stop-color="#005a8c"/></linearGradient><circle id="c" r="2"/></defs>
  <rect width="5" height="5" fill="url(#g)"/><use xlink:href="#c" x="5" y="5"/>
</svg>`
	if err := CheckSVG([]byte(doc)); err != nil {
		t.Fatal(err)
	}
}
