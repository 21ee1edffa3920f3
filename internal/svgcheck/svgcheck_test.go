package svgcheck

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const svgOpen = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10">`

// refused are documents that must not pass, with a part of the message
// and the line (0: any line).
var refused = []struct {
	name, doc, msg string
	line           int
}{
	// Elements hidden behind prefixes.
	{"script in the SVG namespace with a prefix", `<svg xmlns="http://www.w3.org/2000/svg"><s:script xmlns:s="http://www.w3.org/2000/svg">alert(1)</s:script></svg>`, "<script> element", 1},
	{"prefixed root and script", `<s:svg xmlns:s="http://www.w3.org/2000/svg"><s:script>alert(1)</s:script></s:svg>`, "<script> element", 1},
	{"XHTML script", `<svg xmlns="http://www.w3.org/2000/svg">` + "\n" + `<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></svg>`, "<script> element in the XHTML namespace", 2},
	{"XHTML script inside metadata", `<svg xmlns="http://www.w3.org/2000/svg"><metadata><h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></metadata></svg>`, "XHTML", 1},
	{"XHTML iframe", `<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><iframe xmlns="http://www.w3.org/1999/xhtml" src="https://x"/></foreignObject></svg>`, "<foreignObject>", 1},
	{"plain script", svgOpen + `<script>alert(1)</script></svg>`, "a <script> element; only static drawings are accepted", 1},
	{"upper-case SCRIPT", svgOpen + `<SCRIPT>alert(1)</SCRIPT></svg>`, "<SCRIPT>", 1},
	{"script with CDATA", svgOpen + `<script><![CDATA[alert(1)]]></script></svg>`, "<script>", 1},
	{"default namespace reset", svgOpen + `<script xmlns="">alert(1)</script></svg>`, "no namespace", 1},
	{"unbound prefix", svgOpen + `<x:script>alert(1)</x:script></svg>`, "<script>", 1},
	{"xlink-namespaced a", svgOpen + `<x:a xmlns:x="http://www.w3.org/1999/xlink" x:href="javascript:alert(1)">x</x:a></svg>`, "<a> element in the XLink namespace", 1},
	{"MathML", svgOpen + `<m:math xmlns:m="http://www.w3.org/1998/Math/MathML"/></svg>`, "MathML", 1},
	{"foreignObject", svgOpen + `<foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject></svg>`, "<foreignObject>", 1},
	{"animate href", svgOpen + `<a><animate attributeName="href" to="javascript:alert(1)"/><text>x</text></a></svg>`, "an <animate> element", 1},
	{"set", svgOpen + `<a><set attributeName="href" to="javascript:alert(1)"/><text>x</text></a></svg>`, "a <set> element", 1},
	{"animateTransform", svgOpen + `<rect><animateTransform attributeName="transform"/></rect></svg>`, "<animateTransform>", 1},
	{"handler", svgOpen + `<handler type="application/ecmascript">alert(1)</handler></svg>`, "<handler>", 1},
	{"listener", svgOpen + `<listener event="click"/></svg>`, "<listener>", 1},
	{"iframe in the SVG namespace", svgOpen + `<iframe src="https://x"/></svg>`, "<iframe>", 1},
	{"RDF outside metadata", svgOpen + `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></svg>`, "outside <metadata>", 1},
	{"unknown namespace", svgOpen + `<x:thing xmlns:x="urn:x"/></svg>`, "urn:x", 1},
	{"element inside style", svgOpen + `<style><g/></style></svg>`, "inside <style>", 1},

	// Event handlers.
	{"onload", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, "event handler attribute (onload)", 1},
	{"upper-case ONLOAD", `<svg xmlns="http://www.w3.org/2000/svg" ONLOAD="alert(1)"/>`, "ONLOAD", 1},
	{"namespaced onclick", svgOpen + `<rect x:onclick="alert(1)" xmlns:x="urn:x"/></svg>`, "onclick", 1},
	{"onclick on a later line", svgOpen + "\n<rect\n  width=\"1\"\n  onclick=\"alert(1)\"/></svg>", "onclick", 4},
	{"handler inside metadata", svgOpen + `<metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" onload="x()"/></metadata></svg>`, "event handler", 1},

	// Addresses.
	{"javascript&#58; in xlink:href", svgOpen + "\n" + `<a xlink:href="javascript&#58;alert(1)"><text>x</text></a></svg>`, "reference outside the image", 2},
	{"java&#x09;script:", svgOpen + `<a href="java&#x09;script:alert(1)"><text>x</text></a></svg>`, "reference outside the image", 1},
	{"&#106;avascript:", svgOpen + `<a href="&#106;avascript:alert(1)"><text>x</text></a></svg>`, "reference outside the image", 1},
	{"javascript: with leading space and case", svgOpen + `<a href="  JaVaScRiPt:alert(1)"><text>x</text></a></svg>`, "reference outside the image", 1},
	{"xlink bound to another prefix", `<svg xmlns="http://www.w3.org/2000/svg" xmlns:q="http://www.w3.org/1999/xlink"><a q:href="javascript:alert(1)"><text>x</text></a></svg>`, "xlink:href", 1},
	{"href in an unknown namespace", svgOpen + `<a xmlns:x="urn:x" x:href="javascript:alert(1)"><text>x</text></a></svg>`, "reference outside", 1},
	{"javascript: in another attribute", svgOpen + `<rect fill="javascript&#58;alert(1)"/></svg>`, "javascript: address (in fill)", 1},
	{"vbscript:", svgOpen + `<rect class="vb&#x0A;script:x"/></svg>`, "vbscript:", 1},
	{"data: in another attribute", svgOpen + `<rect class="data:text/html,x"/></svg>`, "data:", 1},
	{"external use", svgOpen + `<use href="https://evil/x.svg#a"/></svg>`, "reference outside the image", 1},
	{"external use with xlink", svgOpen + `<use xlink:href="//evil/x.svg#a"/></svg>`, "reference outside the image", 1},
	{"relative use", svgOpen + `<use href="x.svg#a"/></svg>`, "reference outside the image", 1},
	{"empty href", svgOpen + `<use href=""/></svg>`, "reference outside the image", 1},
	{"image with data:", svgOpen + `<image href="data:image/svg+xml;base64,PHN2Zz4="/></svg>`, "reference outside the image", 1},
	{"image with a site", svgOpen + `<image xlink:href="https://x/a.png"/></svg>`, "reference outside the image", 1},
	{"feImage external", svgOpen + `<filter id="f"><feImage href="https://x/a.png"/></filter></svg>`, "reference outside the image", 1},
	{"xml:base", svgOpen + `<g xml:base="https://evil/x.svg"><use href="#a"/></g></svg>`, "xml:base", 1},
	{"ping", svgOpen + `<a href="#a" ping="https://x"><text>x</text></a></svg>`, "ping", 1},

	// Styles.
	{"style attribute url", svgOpen + `<rect style="background:url(https://x)"/></svg>`, "url() pointing outside the image", 1},
	{"presentation attribute url", svgOpen + `<rect fill="url(https://x/a.svg#g)"/></svg>`, "url() pointing outside the image", 1},
	{"quoted url", svgOpen + `<rect style="fill:url( 'https://x/a.svg#g' )"/></svg>`, "url() pointing outside the image", 1},
	{"url behind a comment", svgOpen + `<rect style="fill:url(/**/#g)"/></svg>`, "url() pointing outside the image", 1},
	{"style import", svgOpen + `<style>@import url(//x)</style></svg>`, "@import", 1},
	{"style import as string", svgOpen + "\n\n" + `<style>@import "https://x/a.css";</style></svg>`, "@import", 3},
	{"style import split by a comment node", svgOpen + `<style>@imp<!-- -->ort "https://x/a.css";</style></svg>`, "@import", 1},
	{"style import in CDATA", svgOpen + `<style><![CDATA[@import "x.css";]]></style></svg>`, "@import", 1},
	{"CSS escape javascript", svgOpen + `<rect style="fill:url(\6a avascript:alert(1))"/></svg>`, "", 1},
	{"CSS escape in url", svgOpen + `<style>rect{fill:\75 rl(https://x)}</style></svg>`, "url()", 1},
	{"CSS escaped import", svgOpen + `<style>@\69mport "x.css";</style></svg>`, "@import", 1},
	{"CSS font from a site", svgOpen + `<style>@font-face{font-family:x;src:url(https://x/f.woff)}</style></svg>`, "url()", 1},
	{"CSS image-set", svgOpen + `<style>rect{fill:image-set("https://x/a.png" 1x)}</style></svg>`, "image-set", 1},
	{"image-set in a presentation attribute", svgOpen + `<rect cursor="image-set('https://x/a.png' 1x)"/></svg>`, "image-set", 1},
	{"CSS expression", svgOpen + `<rect style="width:expression(alert(1))"/></svg>`, "expression", 1},
	{"CSS binding", svgOpen + `<rect style="-moz-binding:url(#x)"/></svg>`, "binding", 1},

	// Document structure.
	{"DOCTYPE with ENTITY", `<?xml version="1.0"?>` + "\n" + `<!DOCTYPE svg [<!ENTITY x "javascript:alert(1)">]>` + "\n" + `<svg xmlns="http://www.w3.org/2000/svg"><a href="&x;"><text>x</text></a></svg>`, "DOCTYPE", 2},
	{"plain DOCTYPE", `<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">` + svgOpen + `</svg>`, "DOCTYPE", 1},
	{"undeclared entity", svgOpen + `<text>&nbsp;</text></svg>`, "not well-formed", 1},
	{"xml-stylesheet", `<?xml version="1.0"?><?xml-stylesheet href="https://x/a.css"?>` + svgOpen + `</svg>`, "<?xml-stylesheet?>", 1},
	{"processing instruction inside", svgOpen + "\n" + `<?php echo 1 ?></svg>`, "<?php?>", 2},
	{"XML declaration not first", "\n" + `<?xml version="1.0"?>` + svgOpen + `</svg>`, "processing instruction", 0},
	{"latin-1 declared", `<?xml version="1.0" encoding="ISO-8859-1"?>` + svgOpen + `</svg>`, "", 1},
	{"not UTF-8", svgOpen + "\n<text>\xff\xfe</text></svg>", "UTF-8", 2},
	{"UTF-16", "\xff\xfe<\x00s\x00v\x00g\x00", "UTF-8", 1},
	{"malformed", svgOpen + "\n<g>\n<rect></g></svg>", "not well-formed", 3},
	{"unclosed", svgOpen + "<g>", "not well-formed", 0},
	{"unquoted attribute", `<svg xmlns="http://www.w3.org/2000/svg" width=10/>`, "not well-formed", 1},
	{"less-than in attribute", svgOpen + `<rect class="<script>"/></svg>`, "not well-formed", 1},
	{"non-svg root", `<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>`, "root element is <html> in the XHTML namespace", 1},
	{"svg root in the XHTML namespace", `<svg xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></svg>`, "root element", 1},
	{"text after root", svgOpen + `</svg>` + "\n" + `<script>alert(1)</script>`, "another element after", 2},
	{"bare text after root", svgOpen + `</svg>x`, "text outside", 1},
	{"text before root", `x` + svgOpen + `</svg>`, "text outside", 1},
	{"empty", ``, "no <svg>", 1},
	{"only a comment", `<!-- x -->`, "no <svg>", 1},
	{"no namespace", "<svg viewBox=\"0 0 1 1\">\n<rect/></svg>", "declare the SVG namespace", 1},
	{"no namespace with a script later", "<svg>\n<g>\n<a xlink:href=\"javascript:alert(1)\">x</a></g></svg>", "reference outside", 3},
}

func TestCheckRefusesBypasses(t *testing.T) {
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.doc))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("accepted (err %v):\n%s", err, tc.doc)
			}
			if !strings.Contains(e.Msg, tc.msg) || (tc.line != 0 && e.Line != tc.line) {
				t.Fatalf("got line %d %q; want line %d and %q", e.Line, e.Msg, tc.line, tc.msg)
			}
		})
	}
}

// accepted are drawings that must pass, besides the files checked by
// TestCheckAcceptsTheRepositorysFigures.
var accepted = []struct{ name, doc string }{
	{"media fixture", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="5" height="5"/></svg>`},
	{"empty svg", `<svg xmlns="http://www.w3.org/2000/svg"/>`},
	{"declaration, BOM and comments", "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<!-- Created with Inkscape -->\n" + svgOpen + "</svg>\n<!-- end -->\n"},
	{"prefixed SVG", `<s:svg xmlns:s="http://www.w3.org/2000/svg"><s:title>t</s:title><s:rect width="1" height="1"/></s:svg>`},
	{"gradients, markers and local references", svgOpen + `<defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/><stop offset="1" stop-color="#000"/></linearGradient>` +
		`<radialGradient id="r" xlink:href="#g"/><marker id="m" orient="auto"><path d="M0,0 L10,5 z"/></marker><symbol id="s"><circle r="2"/></symbol>` +
		`<clipPath id="c"><rect width="5" height="5"/></clipPath><mask id="k"><rect width="5" height="5" fill="white"/></mask>` +
		`<filter id="f"><feGaussianBlur stdDeviation="1"/><feOffset dx="1"/><feMerge><feMergeNode/><feMergeNode in="SourceGraphic"/></feMerge></filter></defs>` +
		`<rect fill="url(#g)" stroke="url('#r')" clip-path="url(#c)" mask="url(#k)" filter="url(#f)" width="10" height="10"/>` +
		`<path d="M0 0L5 5" marker-end="url(#m)"/><use href="#s" x="2"/><use xlink:href=" #s "/>` +
		`<a href="#s"><text>link <tspan>within</tspan></text></a><text><textPath href="#p">along</textPath></text><path id="p" d="M0 0H9"/>` +
		`<switch><g requiredFeatures="http://www.w3.org/TR/SVG11/feature#Shape"><ellipse rx="1" ry="1"/></g></switch>` +
		`<polyline points="0,0 1,1"/><polygon points="0,0 1,1 1,0"/><line x1="0" x2="1"/><image href="#s" width="1" height="1"/></svg>`},
	{"style sheet", svgOpen + `<style>/* figure */ .a { fill: url(#g); stroke: #000 } @media print { .a { fill: black } } text { font-family: "Open Sans", sans-serif }</style>` +
		`<style type="text/css"><![CDATA[ .b > .c { fill: rgb(0, 90, 140) } ]]></style><rect class="a b" style="fill:#005a8c;stroke-width:2"/></svg>`},
	{"text that mentions addresses", svgOpen + `<title>javascript: data: url(https://x) @import</title><desc>Metadata: x</desc><text aria-label="Metadata: kuvaus">x</text>` +
		`<g aria-label="Background image(s)" inkscape:label="Behavior: expression(s)" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"/></svg>`},
	{"Inkscape file", `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!-- Created with Inkscape (http://www.inkscape.org/) -->
<svg
   width="210mm"
   height="297mm"
   viewBox="0 0 210 297"
   version="1.1"
   id="svg5"
   inkscape:version="1.1.2 (0a00cf5339, 2022-02-04)"
   sodipodi:docname="kuva.svg"
   xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
   xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
   xmlns="http://www.w3.org/2000/svg"
   xmlns:svg="http://www.w3.org/2000/svg"
   xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
   xmlns:cc="http://creativecommons.org/ns#"
   xmlns:dc="http://purl.org/dc/elements/1.1/">
  <title id="title1">Kaavio</title>
  <sodipodi:namedview
     id="namedview7"
     pagecolor="#ffffff"
     bordercolor="#666666"
     inkscape:pageshadow="2"
     inkscape:document-units="mm">
    <inkscape:grid type="xygrid" id="grid1"/>
  </sodipodi:namedview>
  <defs
     id="defs2" />
  <metadata
     id="metadata1">
    <rdf:RDF>
      <cc:Work
         rdf:about="">
        <dc:format>image/svg+xml</dc:format>
        <dc:type
           rdf:resource="http://purl.org/dc/dcmitype/StillImage" />
        <dc:title>Kaavio</dc:title>
        <cc:license
           rdf:resource="http://creativecommons.org/licenses/by/4.0/" />
      </cc:Work>
    </rdf:RDF>
  </metadata>
  <g
     inkscape:label="Layer 1"
     inkscape:groupmode="layer"
     id="layer1">
    <rect
       style="fill:#005a8c;stroke:none;stroke-width:0.264583"
       id="rect1"
       width="50"
       height="40"
       x="20"
       y="30" />
    <path
       sodipodi:nodetypes="cc"
       inkscape:connector-curvature="0"
       d="m 20,80 h 50"
       style="fill:none;stroke:#000000;stroke-width:0.5;marker-end:url(#Arrow1)" />
  </g>
</svg>
`},
}

func TestCheckAcceptsDrawings(t *testing.T) {
	for _, tc := range accepted {
		if err := Check([]byte(tc.doc)); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestCheckAcceptsTheRepositorysFigures checks every SVG file of the
// repository outside vendored or generated trees: the course's figures,
// the test course's and the static assets.
func TestCheckAcceptsTheRepositorysFigures(t *testing.T) {
	root := filepath.Join("..", "..")
	n := 0
	for _, dir := range []string{"content", "course/testdata", "web/static"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".svg") {
				return err
			}
			doc, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n++
			if err := Check(doc); err != nil {
				t.Errorf("%s: %v", p, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 6 {
		t.Fatalf("found only %d SVG files", n)
	}
}

func TestErrorText(t *testing.T) {
	err := Check([]byte(svgOpen + "\n<script>alert(1)</script></svg>"))
	if err == nil || err.Error() != "line 2: the SVG image contains a <script> element; only static drawings are accepted" {
		t.Fatalf("%v", err)
	}
}

func TestDecodeCSSEscapes(t *testing.T) {
	for in, want := range map[string]string{
		`\6a avascript:`:    "javascript:",
		`\00006aavascript:`: "javascript:",
		`\75\72\6c(`:        "url(",
		`u\rl(`:             "url(",
		"a\\\nb":            "ab",
		`\0 x`:              "\uFFFDx",
		`\110000`:           "\uFFFD",
		`x\`:                "x",
	} {
		if got := decodeCSSEscapes(in); got != want {
			t.Errorf("decodeCSSEscapes(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzCheck(f *testing.F) {
	for _, tc := range refused {
		f.Add([]byte(tc.doc))
	}
	for _, tc := range accepted {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := Check(doc)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Line < 1 || e.Msg == "" {
			t.Fatalf("Check(%q) = %#v", doc, err)
		}
	})
}
