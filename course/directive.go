package course

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// The course's own blocks use the generic-directive syntax:
//
//	:::name[label]{attributes}     a container, closed by a line of :::
//	::name[label]{attributes}      a leaf, one line
//
// Containers nest; a closing ::: closes the innermost open container.

// KindDirective is the AST kind of a directive.
var KindDirective = ast.NewNodeKind("Directive")

// Directive is a container or leaf directive.
type Directive struct {
	ast.BaseBlock
	Name      string
	Label     string
	ID        string            // from {#id}
	Attrs     map[string]string // key="value" pairs
	Flags     map[string]bool   // bare words such as {vastaus}
	Container bool
	Offset    int        // byte offset of the opening line in the source
	Closed    bool       // a container closed by its own ::: line
	Media     *MediaItem // for video and audio, once resolved
}

// Kind implements ast.Node.
func (d *Directive) Kind() ast.NodeKind { return KindDirective }

// Dump implements ast.Node.
func (d *Directive) Dump(source []byte, level int) {
	ast.DumpHelper(d, source, level, map[string]string{"Name": d.Name, "Label": d.Label}, nil)
}

var (
	containerOpen  = regexp.MustCompile(`^:{3,}[ \t]*([a-z]+)[ \t]*(?:\[([^\]]*)\])?[ \t]*(?:\{([^}]*)\})?[ \t]*$`)
	containerClose = regexp.MustCompile(`^:{3,}[ \t]*$`)
	leafLine       = regexp.MustCompile(`^::([a-z]+)[ \t]*(?:\[([^\]]*)\])?[ \t]*(?:\{([^}]*)\})?[ \t]*$`)
	attrToken      = regexp.MustCompile(`#([A-Za-z0-9][A-Za-z0-9_-]*)|([a-z][a-z0-9_-]*)="([^"]*)"|([a-z][a-z0-9_-]*)=([^\s"]+)|([a-z][a-z0-9_-]*)`)
)

// parseAttrs reads {#id key="value" flag}; it reports text it cannot read.
func parseAttrs(s string, d *Directive) (rest string) {
	d.Attrs, d.Flags = map[string]string{}, map[string]bool{}
	leftover := attrToken.ReplaceAllStringFunc(s, func(tok string) string {
		m := attrToken.FindStringSubmatch(tok)
		switch {
		case m[1] != "":
			d.ID = m[1]
		case m[2] != "":
			d.Attrs[m[2]] = m[3]
		case m[4] != "":
			d.Attrs[m[4]] = m[5]
		case m[6] != "":
			d.Flags[m[6]] = true
		}
		return ""
	})
	return strings.TrimSpace(leftover)
}

var (
	openContainersKey = parser.NewContextKey()
	directiveIssues   = parser.NewContextKey()
)

// directiveIssue is a problem found while parsing (reported by the checker).
type directiveIssue struct {
	Offset int
	Msg    string
}

func addIssue(pc parser.Context, offset int, msg string) {
	list, _ := pc.Get(directiveIssues).([]directiveIssue)
	pc.Set(directiveIssues, append(list, directiveIssue{offset, msg}))
}

type directiveParser struct{}

func (directiveParser) Trigger() []byte { return []byte{':'} }

func (directiveParser) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	line, seg := reader.PeekLine()
	trimmed := bytes.TrimRight(line, "\r\n")
	if seg.Padding != 0 || len(trimmed) < 3 || trimmed[1] != ':' {
		return nil, parser.NoChildren
	}
	if m := containerOpen.FindSubmatch(trimmed); m != nil {
		d := &Directive{Name: string(m[1]), Label: strings.TrimSpace(string(m[2])), Container: true, Offset: seg.Start}
		if rest := parseAttrs(string(m[3]), d); rest != "" {
			addIssue(pc, seg.Start, "cannot read the attributes {"+string(m[3])+"}")
		}
		stack, _ := pc.Get(openContainersKey).([]*Directive)
		pc.Set(openContainersKey, append(stack, d))
		reader.AdvanceToEOL()
		return d, parser.HasChildren
	}
	if m := leafLine.FindSubmatch(trimmed); m != nil && trimmed[2] != ':' {
		d := &Directive{Name: string(m[1]), Label: strings.TrimSpace(string(m[2])), Offset: seg.Start}
		if rest := parseAttrs(string(m[3]), d); rest != "" {
			addIssue(pc, seg.Start, "cannot read the attributes {"+string(m[3])+"}")
		}
		reader.AdvanceToEOL()
		return d, parser.NoChildren
	}
	if containerClose.Match(trimmed) {
		stack, _ := pc.Get(openContainersKey).([]*Directive)
		if len(stack) == 0 {
			addIssue(pc, seg.Start, "::: closes no open block")
		}
	} else if bytes.HasPrefix(trimmed, []byte("::")) {
		addIssue(pc, seg.Start, "malformed directive: write :::name[label]{attributes} or ::name[label]{attributes}")
	}
	return nil, parser.NoChildren
}

func (directiveParser) Continue(node ast.Node, reader text.Reader, pc parser.Context) parser.State {
	d := node.(*Directive)
	if !d.Container {
		return parser.Close
	}
	line, _ := reader.PeekLine()
	if containerClose.Match(bytes.TrimRight(line, "\r\n")) {
		stack, _ := pc.Get(openContainersKey).([]*Directive)
		if len(stack) > 0 && stack[len(stack)-1] == d {
			d.Closed = true
			reader.AdvanceToEOL()
			return parser.Close
		}
	}
	return parser.Continue | parser.HasChildren
}

func (directiveParser) Close(node ast.Node, reader text.Reader, pc parser.Context) {
	d := node.(*Directive)
	if !d.Container {
		return
	}
	stack, _ := pc.Get(openContainersKey).([]*Directive)
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i] == d {
			pc.Set(openContainersKey, append(stack[:i:i], stack[i+1:]...))
			break
		}
	}
	if !d.Closed {
		addIssue(pc, d.Offset, ":::"+d.Name+" is not closed with a line of :::")
	}
}

func (directiveParser) CanInterruptParagraph() bool { return true }
func (directiveParser) CanAcceptIndentedLine() bool { return false }
