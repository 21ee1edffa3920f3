package course

import (
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

// LetterGroup is the concepts under one initial letter of the A–Ö index.
type LetterGroup struct {
	Letter   string
	Concepts []*Concept
}

// Concept finds a glossary concept by id.
func (c *Course) Concept(id string) (*Concept, bool) {
	for _, k := range c.Concepts {
		if k.ID == id {
			return k, true
		}
	}
	return nil, false
}

// GlossaryIndex groups the concepts by initial letter in Finnish
// alphabetical order (… Z, Å, Ä, Ö).
func (c *Course) GlossaryIndex() []LetterGroup {
	col := collate.New(language.Finnish, collate.IgnoreCase)
	sorted := append([]*Concept(nil), c.Concepts...)
	sort.SliceStable(sorted, func(i, j int) bool { return col.CompareString(sorted[i].Term, sorted[j].Term) < 0 })
	var out []LetterGroup
	for _, k := range sorted {
		letter := initial(k.Term)
		if len(out) == 0 || out[len(out)-1].Letter != letter {
			out = append(out, LetterGroup{Letter: letter})
		}
		out[len(out)-1].Concepts = append(out[len(out)-1].Concepts, k)
	}
	return out
}

func initial(term string) string {
	for _, r := range term {
		if unicode.IsLetter(r) {
			return strings.ToUpper(string(r))
		}
		if unicode.IsDigit(r) {
			return "0–9"
		}
	}
	return "#"
}

// SectionsUsing lists the sections whose text links to the concept.
func (c *Course) SectionsUsing(id string) []*Section {
	return c.sectionsWhere(func(s *Section) []string { return s.Body.Terms }, id)
}
