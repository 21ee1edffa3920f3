package course

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// ConceptRelationProblems checks that the relations agree (broader and
// narrower mirror each other, related goes both ways) and that following
// broader concepts never leads back to where it started.
func ConceptRelationProblems(concepts []*Concept) []string {
	byID := map[string]*Concept{}
	for _, k := range concepts {
		byID[k.ID] = k
	}
	var out []string
	has := func(list []string, id string) bool {
		for _, x := range list {
			if x == id {
				return true
			}
		}
		return false
	}
	for _, k := range concepts {
		for _, b := range k.Broader {
			if o := byID[b]; o != nil && !has(o.Narrower, k.ID) {
				out = append(out, fmt.Sprintf("concept %s has broader %s, but %s does not list %s as narrower", k.ID, b, b, k.ID))
			}
		}
		for _, n := range k.Narrower {
			if o := byID[n]; o != nil && !has(o.Broader, k.ID) {
				out = append(out, fmt.Sprintf("concept %s has narrower %s, but %s does not list %s as broader", k.ID, n, n, k.ID))
			}
		}
		for _, r := range k.Related {
			if o := byID[r]; o != nil && !has(o.Related, k.ID) {
				out = append(out, fmt.Sprintf("concept %s is related to %s, but not the other way round", k.ID, r))
			}
		}
	}
	// Cycles in broader: a depth-first search with colours.
	state := map[string]int{} // 0 new, 1 on the path, 2 done
	var visit func(id string, path []string) bool
	visit = func(id string, path []string) bool {
		switch state[id] {
		case 1:
			out = append(out, "broader concepts form a cycle: "+strings.Join(append(path, id), " → "))
			return true
		case 2:
			return false
		}
		state[id] = 1
		if k := byID[id]; k != nil {
			for _, b := range k.Broader {
				if visit(b, append(path, id)) {
					state[id] = 2
					return true
				}
			}
		}
		state[id] = 2
		return false
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		visit(id, nil)
	}
	return out
}

var conceptIDRE = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// ConceptEdit is what an author may change of a concept.
type ConceptEdit struct {
	Term, SV, EN, Definition, Source, Theme         string
	Synonyms, NotRecommended, Notes, Forms, Modules []string
	Broader, Narrower, Related, PartOf              []string
}

// EditConcept applies an edit to the concept id and returns the new
// glossary file, with the other side of every relation kept in step
// (adding a broader concept adds this one to its narrower ones), or the
// problems with the edit.
func (c *Course) EditConcept(id string, e ConceptEdit) ([]byte, []string) {
	var problems []string
	if _, ok := c.Concept(id); !ok {
		return nil, []string{"no such concept"}
	}
	e.Term, e.Definition = strings.TrimSpace(e.Term), strings.TrimSpace(e.Definition)
	if n := utf8.RuneCountInString(e.Term); n < 2 || n > 100 {
		problems = append(problems, "term: 2–100 characters")
	}
	if n := utf8.RuneCountInString(e.Definition); n < 10 || n > 2000 {
		problems = append(problems, "definition: 10–2000 characters")
	}
	if _, ok := ThemeNames[e.Theme]; !ok {
		problems = append(problems, "theme: choose one of the themes")
	}
	copyC := make([]*Concept, len(c.Concepts))
	for i, k := range c.Concepts {
		kk := *k
		copyC[i] = &kk
	}
	byID := map[string]*Concept{}
	for _, k := range copyC {
		byID[k.ID] = k
		if k.ID != id && strings.EqualFold(k.Term, e.Term) {
			problems = append(problems, "term: "+k.ID+" already has this term")
		}
	}
	for name, list := range map[string][]string{"broader": e.Broader, "narrower": e.Narrower, "related": e.Related, "part of": e.PartOf} {
		for _, r := range list {
			if r == id {
				problems = append(problems, name+": a concept cannot refer to itself")
			} else if !conceptIDRE.MatchString(r) || byID[r] == nil {
				problems = append(problems, fmt.Sprintf("%s: no concept %q", name, r))
			}
		}
	}
	modules := map[string]bool{}
	for _, m := range c.AllModules() { // a hidden module's concepts too
		modules[strings.TrimPrefix(m.Dir, "modules/")] = true
		modules[m.Slug] = true
	}
	for _, m := range e.Modules {
		if !modules[m] {
			problems = append(problems, fmt.Sprintf("modules: no module %q", m))
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	k := byID[id]
	k.Term, k.SV, k.EN, k.Definition, k.Source, k.Theme = e.Term, strings.TrimSpace(e.SV), strings.TrimSpace(e.EN), e.Definition, strings.TrimSpace(e.Source), e.Theme
	k.Synonyms, k.NotRecommended, k.Notes, k.Forms, k.Modules = e.Synonyms, e.NotRecommended, e.Notes, e.Forms, e.Modules
	k.Broader, k.Narrower, k.Related, k.PartOf = e.Broader, e.Narrower, e.Related, e.PartOf
	// Keep the other sides in step.
	without := func(list []string, x string) []string {
		out := []string{}
		for _, v := range list {
			if v != x {
				out = append(out, v)
			}
		}
		return out
	}
	for _, o := range copyC {
		if o.ID == id {
			continue
		}
		o.Narrower, o.Broader, o.Related = without(o.Narrower, id), without(o.Broader, id), without(o.Related, id)
	}
	for _, b := range k.Broader {
		byID[b].Narrower = append(byID[b].Narrower, id)
	}
	for _, n := range k.Narrower {
		byID[n].Broader = append(byID[n].Broader, id)
	}
	for _, r := range k.Related {
		byID[r].Related = append(byID[r].Related, id)
	}
	if ps := ConceptRelationProblems(copyC); len(ps) > 0 {
		return nil, ps
	}
	out, err := yaml.Marshal(struct {
		Concepts []*Concept `yaml:"concepts"`
	}{copyC})
	if err != nil {
		return nil, []string{err.Error()}
	}
	return append([]byte("# Glossary concepts; see docs/authoring.md. Edited in the platform too.\n"), out...), nil
}
