package architecture

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// markupAllowed are the places where Go code may hold HTML, each with its
// reason. Everything else makes HTML with html/template (web/templates and
// the fragments parsed as templates), so its safety does not rest on review.
var markupAllowed = map[string]string{
	// Goldmark's renderer writes HTML by design; the course pipeline runs
	// its output through bluemonday's policy before anyone sees it. It
	// also leaves the placeholders the pages fill with templates.
	"course/markdown.go":            "the Markdown renderer (sanitized by bluemonday) and its placeholders",
	"exam/view.go":                  "a fixed paragraph for an item withdrawn from the bank, beside the bank's rendered stems; nothing inserted",
	"internal/svgcheck/svgcheck.go": "the SVG checker names the elements it checks",
}

// literalTag is an HTML start or end tag inside a Go string literal.
var literalTag = regexp.MustCompile(`</?(a|p|div|span|form|input|ul|ol|li|table|tr|td|th|h[1-6]|section|nav|button|label|textarea|select|option|svg|g|path|rect|text|line|img|br|strong|em|code|pre|script|style|details|summary|figure|figcaption|blockquote|iframe|video|audio|track|source|abbr|mark|dl|dt|dd)[\s>/]`)

// TestNoMarkupBuiltInGo fails on HTML built outside html/template: a tag
// in a string literal (other than a template's own source given to
// Parse or a pattern given to regexp), html.EscapeString, or a conversion
// to template.HTML other than the reviewed ones in conversionsAllowed.
func TestNoMarkupBuiltInGo(t *testing.T) {
	fset := token.NewFileSet()
	n := 0
	walkGoFiles(t, func(rel, path string) error {
		if strings.HasPrefix(rel, "internal/architecture/") {
			return nil
		}
		n++
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checkMarkup(t, fset, rel, f)
		return nil
	})
	if n < 50 {
		t.Fatalf("scanned only %d files", n)
	}
}

// conversionsAllowed are the files that may convert a string to
// template.HTML (or template.HTMLAttr), and why.
var conversionsAllowed = map[string]string{
	"api/page_handlers.go":    "trusted(): the course pipeline's sanitized HTML; the skeleton's placeholders",
	"api/studio_handlers.go":  "the studio preview shows the course pipeline's sanitized output",
	"api/account_handlers.go": "the two-factor QR code: a data: URL of a PNG made here",
}

func checkMarkup(t *testing.T, fset *token.FileSet, rel string, f *ast.File) {
	t.Helper()
	// Literals that are a template's source are fine: they are parsed
	// by html/template and escaped as it executes.
	templateSource := map[*ast.BasicLit]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
			switch {
			case sel.Sel.Name == "Parse" && len(call.Args) == 1,
				isPkg(sel.X, "regexp") && (sel.Sel.Name == "MustCompile" || sel.Sel.Name == "Compile"):
				// A template's source, or a pattern that finds markup
				// (it makes none).
				ast.Inspect(call.Args[0], func(n ast.Node) bool {
					if lit, ok := n.(*ast.BasicLit); ok {
						templateSource[lit] = true
					}
					return true
				})
			case isPkg(sel.X, "html") && sel.Sel.Name == "EscapeString" && markupAllowed[rel] == "":
				t.Errorf("%s: html.EscapeString builds HTML by hand; use a template (or template.HTMLEscapeString for a placeholder's value)", fset.Position(call.Pos()))
			case isPkg(sel.X, "template") && (sel.Sel.Name == "HTML" || sel.Sel.Name == "HTMLAttr" || sel.Sel.Name == "JS" || sel.Sel.Name == "URL"):
				if _, ok := conversionsAllowed[rel]; !ok {
					t.Errorf("%s: template.%s(…) marks a string as safe; only the reviewed conversions of conversionsAllowed may", fset.Position(call.Pos()), sel.Sel.Name)
				}
			}
		}
		return true
	})
	if _, ok := markupAllowed[rel]; ok {
		return
	}
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING || templateSource[lit] {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		if m := literalTag.FindString(s); m != "" {
			t.Errorf("%s: %q in a Go string builds HTML outside html/template", fset.Position(lit.Pos()), strings.TrimSpace(m))
		}
		return true
	})
}

func isPkg(x ast.Expr, name string) bool {
	id, ok := x.(*ast.Ident)
	return ok && id.Name == name
}
