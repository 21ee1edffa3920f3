// Package svgcheck decides whether an SVG document is a static drawing that
// is safe to serve: course figures and uploaded media images go through the
// same check.
//
// The document is parsed as namespace-aware XML, so a prefix cannot hide an
// element (<s:script> in the SVG namespace is a script) and character
// references are decoded before anything is judged (javascript&#58; is
// javascript:). Elements are on an allow-list; attributes and style sheets
// are refused when they carry an event handler, a reference outside the
// image or a script, vbscript or data address.
package svgcheck

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is why a document was refused and at which line (1-based).
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Namespaces.
const (
	nsSVG    = "http://www.w3.org/2000/svg"
	nsXLink  = "http://www.w3.org/1999/xlink"
	nsXML    = "http://www.w3.org/XML/1998/namespace"
	nsXHTML  = "http://www.w3.org/1999/xhtml"
	nsMathML = "http://www.w3.org/1998/Math/MathML"
)

const staticOnly = "; only static drawings are accepted"

// svgElements are the SVG elements that draw, group, describe or style a
// static image. Everything else in the SVG namespace (script, foreignObject,
// the animation elements, handler, listener, cursor, font-face-uri, …) is
// refused.
var svgElements = set(
	"svg", "g", "defs", "title", "desc", "metadata", "symbol", "use", "switch", "a", "image", "style",
	"path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
	"text", "tspan", "textPath",
	"linearGradient", "radialGradient", "stop", "pattern", "clipPath", "mask", "marker",
	"filter", "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite", "feConvolveMatrix",
	"feDiffuseLighting", "feDisplacementMap", "feDistantLight", "feDropShadow", "feFlood",
	"feFuncA", "feFuncB", "feFuncG", "feFuncR", "feGaussianBlur", "feImage", "feMerge", "feMergeNode",
	"feMorphology", "feOffset", "fePointLight", "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence",
)

// metadataSpaces are the namespaces of the RDF description that editors
// write inside <metadata>; browsers give their elements no behaviour.
var metadataSpaces = set(
	"http://www.w3.org/1999/02/22-rdf-syntax-ns#",
	"http://purl.org/dc/elements/1.1/",
	"http://purl.org/dc/terms/",
	"http://purl.org/dc/dcmitype/",
	"http://creativecommons.org/ns#",
	"http://web.resource.org/cc/",
)

// editorSpaces are Inkscape's and Sodipodi's namespaces: editor state such
// as <sodipodi:namedview> sits beside the drawing, not only in <metadata>,
// and browsers give it no behaviour either.
var editorSpaces = set(
	"http://www.inkscape.org/namespaces/inkscape",
	"http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd",
)

// urlAttributes are attributes, other than href, whose value a browser
// may fetch or send to.
var urlAttributes = set("ping", "src", "srcset")

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Check returns nil when doc is a static SVG drawing, and otherwise an
// *Error naming the first problem and its line. The document must be
// well-formed UTF-8 XML without a DOCTYPE or processing instructions
// (other than the XML declaration) whose root is <svg> in the SVG
// namespace.
func Check(doc []byte) error {
	doc = bytes.TrimPrefix(doc, []byte("\xEF\xBB\xBF"))
	if !utf8.Valid(doc) {
		bad := 0
		for bad < len(doc) {
			r, n := utf8.DecodeRune(doc[bad:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			bad += n
		}
		return &Error{Line: lineAt(doc, bad), Msg: "the SVG image is not UTF-8 text"}
	}
	c := &checker{doc: doc, dec: xml.NewDecoder(bytes.NewReader(doc))}
	c.dec.Strict = true // no HTML entities, no unquoted attributes; CharsetReader stays nil, so only UTF-8
	if e := c.run(); e != nil {
		return e
	}
	return nil
}

type frame struct {
	inMetadata bool // the element is or is inside <metadata>
	style      bool // an SVG <style>: its text is a style sheet
	line       int
	css        strings.Builder
}

type checker struct {
	doc     []byte
	dec     *xml.Decoder
	stack   []*frame
	lenient bool   // the root <svg> has no namespace: judge unprefixed names as SVG…
	noNS    *Error // …and refuse the document if nothing worse is found

	lineOff, line int // the line at offset lineOff, so lines are counted once
}

// lineOf returns the line at off; offsets only grow while parsing.
func (c *checker) lineOf(off int) int {
	if off < c.lineOff {
		return lineAt(c.doc, off)
	}
	c.line += bytes.Count(c.doc[c.lineOff:off], []byte("\n"))
	c.lineOff = off
	return c.line
}

func (c *checker) run() *Error {
	seenRoot := false
	c.line = 1
	for first := true; ; first = false {
		start := c.dec.InputOffset()
		tok, err := c.dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return &Error{Line: se.Line, Msg: "the SVG image is not well-formed XML: " + strings.TrimPrefix(se.Msg, "xml: ")}
			}
			line, _ := c.dec.InputPos()
			if strings.Contains(err.Error(), "CharsetReader") { // an encoding other than UTF-8 was declared
				return &Error{Line: line, Msg: "the SVG image declares an encoding other than UTF-8; save it as UTF-8"}
			}
			return &Error{Line: line, Msg: "the SVG image cannot be read as XML: " + strings.TrimPrefix(err.Error(), "xml: ")}
		}
		line := c.lineOf(int(start))
		switch t := tok.(type) {
		case xml.ProcInst:
			if !first || t.Target != "xml" {
				return &Error{Line: line, Msg: fmt.Sprintf("the SVG image contains a processing instruction <?%s?>%s", clip(t.Target), staticOnly)}
			}
		case xml.Directive:
			return &Error{Line: line, Msg: "the SVG image contains a DOCTYPE or declaration (<!…>); entities and document types are not accepted"}
		case xml.Comment:
		case xml.CharData:
			if len(c.stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return &Error{Line: line, Msg: "the SVG image has text outside its <svg> element"}
				}
			} else if top := c.stack[len(c.stack)-1]; top.style {
				top.css.Write(t)
			}
		case xml.StartElement:
			if len(c.stack) == 0 {
				if seenRoot {
					return &Error{Line: line, Msg: "the SVG image has another element after its closing </svg>"}
				}
				seenRoot = true
				if t.Name.Local != "svg" || (t.Name.Space != nsSVG && t.Name.Space != "") {
					return &Error{Line: line, Msg: fmt.Sprintf("the root element is <%s>%s, not <svg> in the SVG namespace", clip(t.Name.Local), inSpace(t.Name.Space))}
				}
				if t.Name.Space == "" {
					c.lenient = true
					c.noNS = &Error{Line: line, Msg: `the <svg> element does not declare the SVG namespace: add xmlns="` + nsSVG + `"`}
				}
			}
			end := int(c.dec.InputOffset())
			if e := c.element(t, line, c.doc[start:end]); e != nil {
				return e
			}
		case xml.EndElement:
			f := c.stack[len(c.stack)-1]
			c.stack = c.stack[:len(c.stack)-1]
			if f.style {
				if what := cssProblem(f.css.String(), true); what != "" {
					return &Error{Line: f.line, Msg: "the SVG image contains a style sheet with " + what + staticOnly}
				}
			}
		}
	}
	if !seenRoot {
		return &Error{Line: 1, Msg: "the file has no <svg> element"}
	}
	return c.noNS
}

// element judges a start tag (raw is its text, for the lines of its
// attributes) and pushes it.
func (c *checker) element(t xml.StartElement, line int, raw []byte) *Error {
	var parent *frame
	if len(c.stack) > 0 {
		parent = c.stack[len(c.stack)-1]
	}
	space := t.Name.Space
	if space == "" && c.lenient {
		space = nsSVG
	}
	f := &frame{line: line, inMetadata: parent != nil && parent.inMetadata}
	switch {
	case parent != nil && parent.style:
		return &Error{Line: line, Msg: fmt.Sprintf("the SVG image contains %s element inside <style>%s", article(t.Name.Local), staticOnly)}
	case space == nsSVG:
		if !svgElements[t.Name.Local] {
			return &Error{Line: line, Msg: fmt.Sprintf("the SVG image contains %s element%s", article(t.Name.Local), staticOnly)}
		}
		f.inMetadata = f.inMetadata || t.Name.Local == "metadata"
		f.style = t.Name.Local == "style"
	case editorSpaces[space]:
	case metadataSpaces[space] && f.inMetadata:
	case metadataSpaces[space]:
		return &Error{Line: line, Msg: fmt.Sprintf("the SVG image contains %s element%s outside <metadata>%s", article(t.Name.Local), inSpace(space), staticOnly)}
	default:
		return &Error{Line: line, Msg: fmt.Sprintf("the SVG image contains %s element%s%s", article(t.Name.Local), inSpace(space), staticOnly)}
	}
	for _, a := range t.Attr {
		if e := checkAttr(a, t.Name.Local); e != "" {
			return &Error{Line: attrLine(line, raw, a.Name.Local), Msg: "the SVG image contains " + e}
		}
	}
	c.stack = append(c.stack, f)
	return nil
}

// checkAttr returns what is wrong with an attribute, or "".
func checkAttr(a xml.Attr, elem string) string {
	local := strings.ToLower(a.Name.Local)
	decl := a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns")
	switch {
	case decl:
	case strings.HasPrefix(local, "on"):
		return fmt.Sprintf("an event handler attribute (%s)%s", clip(a.Name.Local), staticOnly)
	case local == "href":
		if !localRef(a.Value) {
			return fmt.Sprintf("a reference outside the image (<%s %s=%q>); only references within the image (#id) are accepted", clip(elem), attrName(a.Name), clip(a.Value))
		}
	case a.Name.Space == nsXML && local == "base":
		return "an xml:base attribute" + staticOnly
	case urlAttributes[local]:
		return fmt.Sprintf("a %s attribute%s", clip(a.Name.Local), staticOnly)
	}
	if scheme := badScheme(a.Value); scheme != "" {
		return fmt.Sprintf("a %s address (in %s)%s", scheme, attrName(a.Name), staticOnly)
	}
	if what := cssProblem(a.Value, local == "style"); what != "" {
		return fmt.Sprintf("%s (in %s)%s", what, attrName(a.Name), staticOnly)
	}
	return ""
}

// localRef reports whether an href value is a reference to an element of
// the same document, #id, as a browser would parse it.
func localRef(v string) bool {
	v = strings.TrimFunc(v, func(r rune) bool { return r <= ' ' })
	v = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(v)
	if len(v) < 2 || v[0] != '#' {
		return false
	}
	for _, r := range v[1:] {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_.:", r) {
			return false
		}
	}
	return true
}

// compact removes white space and ASCII control characters, which URL
// parsers skip, and lower-cases.
func compact(s string) string {
	return strings.ToLower(strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7F {
			return -1
		}
		return r
	}, s))
}

// badScheme returns the active URL scheme in a value ("javascript:",
// "vbscript:" or "data:"), or "". data: counts only where it can begin a
// scheme, so that text such as "Metadata: x" passes.
func badScheme(v string) string {
	s := compact(v)
	for _, scheme := range []string{"javascript:", "vbscript:"} {
		if strings.Contains(s, scheme) {
			return scheme
		}
	}
	for i := 0; ; {
		j := strings.Index(s[i:], "data:")
		if j < 0 {
			return ""
		}
		i += j
		if i == 0 || !isSchemeChar(s[i-1]) {
			return "data:"
		}
		i += len("data:")
	}
}

func isSchemeChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '-' || b == '.'
}

// cssProblem returns what in CSS could load something or run script, or
// "". A style sheet or style attribute (sheet) is judged in full; any other
// attribute value only for addresses, as presentation attributes (fill,
// cursor, …) are parsed as CSS values. CSS escapes are decoded first, and
// the text is judged both with and without its comments.
func cssProblem(css string, sheet bool) string {
	dec := decodeCSSEscapes(css)
	for _, s := range []string{compact(dec), compact(stripCSSComments(dec))} {
		switch {
		case sheet && strings.Contains(s, "@import"):
			return "an @import rule"
		case sheet && strings.Contains(s, "expression("):
			return "a CSS expression()"
		case sheet && (strings.Contains(s, "behavior:") || strings.Contains(s, "-moz-binding")):
			return "a CSS behavior or binding"
		case sheet && strings.Contains(s, "image("), strings.Contains(s, "image-set("), strings.Contains(s, "src("):
			return "a CSS image(), image-set() or src() that loads a file"
		}
		if scheme := badScheme(s); scheme != "" {
			return "a " + scheme + " address"
		}
		for rest := s; ; {
			i := strings.Index(rest, "url(")
			if i < 0 {
				break
			}
			rest = rest[i+len("url("):]
			if !strings.HasPrefix(strings.TrimLeft(rest, `"'`), "#") {
				return "a url() pointing outside the image"
			}
		}
	}
	return ""
}

// decodeCSSEscapes replaces CSS backslash escapes by the characters they
// stand for: \6a and \00006a are j, "\<newline>" is nothing, \x is x.
func decodeCSSEscapes(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		n, j := 0, i
		for j < len(s) && j-i < 6 && isHex(s[j]) {
			n = n*16 + hexVal(s[j])
			j++
		}
		if j == i { // not hex: the character itself, or a line continuation
			if s[i] == '\n' || s[i] == '\r' || s[i] == '\f' {
				if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
					i++
				}
				continue
			}
			b.WriteByte(s[i])
			continue
		}
		if n == 0 || n > unicode.MaxRune || (n >= 0xD800 && n <= 0xDFFF) {
			n = unicode.ReplacementChar
		}
		b.WriteRune(rune(n))
		if j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\f' || s[j] == '\r') {
			if s[j] == '\r' && j+1 < len(s) && s[j+1] == '\n' {
				j++
			}
			j++
		}
		i = j - 1
	}
	return b.String()
}

func isHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

func hexVal(b byte) int {
	switch {
	case b >= '0' && b <= '9':
		return int(b - '0')
	case b >= 'a' && b <= 'f':
		return int(b-'a') + 10
	}
	return int(b-'A') + 10
}

func stripCSSComments(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "/*")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := strings.Index(s[i+2:], "*/")
		if j < 0 {
			return b.String()
		}
		s = s[i+2+j+2:]
	}
}

func lineAt(doc []byte, off int) int {
	off = min(max(off, 0), len(doc))
	return 1 + bytes.Count(doc[:off], []byte("\n"))
}

// attrLine finds the line of an attribute within its start tag, which
// begins at line: the first "name=" (or "prefix:name=") in the tag.
func attrLine(line int, raw []byte, local string) int {
	for i := 0; ; {
		j := bytes.Index(raw[i:], []byte(local))
		if j < 0 {
			return line
		}
		i += j
		after := bytes.TrimLeft(raw[i+len(local):], " \t\r\n")
		if i > 0 && strings.IndexByte(" \t\r\n:", raw[i-1]) >= 0 && len(after) > 0 && after[0] == '=' {
			return line + bytes.Count(raw[:i], []byte("\n"))
		}
		i += len(local)
	}
}

func attrName(n xml.Name) string {
	switch n.Space {
	case "":
		return clip(n.Local)
	case nsXLink:
		return "xlink:" + clip(n.Local)
	case nsXML:
		return "xml:" + clip(n.Local)
	}
	return clip(n.Local)
}

func inSpace(space string) string {
	switch space {
	case nsSVG:
		return ""
	case "":
		return " in no namespace"
	case nsXHTML:
		return " in the XHTML namespace"
	case nsMathML:
		return " in the MathML namespace"
	case nsXLink:
		return " in the XLink namespace"
	}
	return " in the namespace " + clip(space)
}

// article names an element with its indefinite article: "a <script>".
func article(local string) string {
	if local != "" && strings.ContainsRune("aeiouAEIOU", rune(local[0])) {
		return "an <" + clip(local) + ">"
	}
	return "a <" + clip(local) + ">"
}

// clip shortens what a document says for a message.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 60 {
		return s
	}
	r := []rune(s)
	return string(r[:60]) + "…"
}
