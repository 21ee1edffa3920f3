package course

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// TermLinker finds glossary concepts in running text: the first
// occurrence of each concept in a section becomes a link to it. It matches
// the preferred term, synonyms and the inflected forms of the glossary
// (longest first, so "työkyvyn tuen" is työkyvyn tuki, not työkyky), word
// by word and case-insensitively.
type TermLinker struct {
	// byFirst maps a phrase's first word to the phrases starting with it,
	// longest first.
	byFirst map[string][]phrase
}

type phrase struct {
	words   []string
	concept *Concept
}

// NewTermLinker indexes the concepts' labels.
func NewTermLinker(concepts []*Concept) *TermLinker {
	l := &TermLinker{byFirst: map[string][]phrase{}}
	for _, k := range concepts {
		labels := append([]string{k.Term}, k.Synonyms...)
		labels = append(labels, k.Forms...)
		for _, s := range labels {
			ws := words(s)
			if len(ws) == 0 || (len(ws) == 1 && utf8.RuneCountInString(ws[0]) < 4) {
				continue // abbreviations and short words link too often by accident
			}
			l.byFirst[ws[0]] = append(l.byFirst[ws[0]], phrase{ws, k})
		}
	}
	for w := range l.byFirst {
		ps := l.byFirst[w]
		sort.SliceStable(ps, func(i, j int) bool { return len(ps[i].words) > len(ps[j].words) })
	}
	return l
}

// token is a word of a text with its byte offsets.
type token struct {
	word       string
	start, end int
}

func tokenize(s string) []token {
	var out []token
	start := -1
	for i, r := range s {
		letter := unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-'
		if letter && start < 0 {
			start = i
		}
		if !letter && start >= 0 {
			out = append(out, token{strings.ToLower(s[start:i]), start, i})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, token{strings.ToLower(s[start:]), start, len(s)})
	}
	return out
}

// find returns the first match in s of a concept not yet linked: the byte
// range and the concept.
func (l *TermLinker) find(s string, linked map[string]bool) (start, end int, k *Concept) {
	toks := tokenize(s)
	for i := range toks {
		for _, p := range l.byFirst[toks[i].word] {
			if linked[p.concept.ID] || i+len(p.words) > len(toks) {
				continue
			}
			ok := true
			for j, w := range p.words {
				if toks[i+j].word != w {
					ok = false
					break
				}
			}
			if ok {
				return toks[i].start, toks[i+len(p.words)-1].end, p.concept
			}
		}
	}
	return 0, 0, nil
}

// skipAutolink: no links inside headings, links, code, or course block
// titles.
func skipAutolink(n ast.Node) bool {
	for p := n.Parent(); p != nil; p = p.Parent() {
		switch p.(type) {
		case *ast.Heading, *ast.Link, *ast.AutoLink, *ast.CodeSpan, *ast.CodeBlock, *ast.FencedCodeBlock, *ast.Image, *east.FootnoteLink, *east.FootnoteBacklink:
			return true
		}
	}
	return false
}

// link turns the first occurrence of each concept into a term link;
// linked holds the concepts already linked (explicit sanasto: links count)
// and is updated.
func (l *TermLinker) link(doc ast.Node, source []byte, linked map[string]bool) []string {
	var texts []*ast.Text
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		if t, ok := n.(*ast.Text); ok && !skipAutolink(t) {
			texts = append(texts, t)
		}
		return ast.WalkContinue, nil
	})
	var added []string
	for _, t := range texts {
		for t != nil {
			seg := t.Segment
			value := string(seg.Value(source))
			start, end, k := l.find(value, linked)
			if k == nil {
				break
			}
			linked[k.ID] = true
			added = append(added, k.ID)
			parent := t.Parent()
			// before | link(match) | after, all pointing into the source.
			if start > 0 {
				before := ast.NewTextSegment(text.NewSegment(seg.Start, seg.Start+start))
				parent.InsertBefore(parent, t, before)
			}
			a := ast.NewLink()
			a.Destination = []byte("/sanasto/" + k.ID)
			a.Title = []byte(k.Term)
			a.SetAttributeString("class", []byte("term term-auto"))
			a.SetAttributeString("data-term", []byte(k.ID))
			a.AppendChild(a, ast.NewTextSegment(text.NewSegment(seg.Start+start, seg.Start+end)))
			parent.InsertBefore(parent, t, a)
			if seg.Start+end < seg.Stop {
				rest := ast.NewTextSegment(text.NewSegment(seg.Start+end, seg.Stop))
				rest.SetSoftLineBreak(t.SoftLineBreak())
				rest.SetHardLineBreak(t.HardLineBreak())
				parent.InsertBefore(parent, t, rest)
				parent.RemoveChild(parent, t)
				t = rest
			} else {
				// Keep the line break after the link, not inside it.
				brk := ast.NewTextSegment(text.NewSegment(seg.Stop, seg.Stop))
				brk.SetSoftLineBreak(t.SoftLineBreak())
				brk.SetHardLineBreak(t.HardLineBreak())
				parent.InsertBefore(parent, t, brk)
				parent.RemoveChild(parent, t)
				t = nil
			}
		}
	}
	return added
}
