package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
)

// requireAuthor lets authors and administrators through (with two-factor
// authentication, which requireUser enforces); others get 404.
func (s *Server) requireAuthor(c *fiber.Ctx) error {
	return s.require(c, account.EditContent)
}

type conceptEditData struct {
	Concept *course.Concept
	Themes  []string
	Errors  []fieldError
	Values  map[string]string
}

func list(s string) []string {
	out := []string{}
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func lines(s string) []string {
	out := []string{}
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if p := strings.TrimSpace(l); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func conceptValues(k *course.Concept) map[string]string {
	return map[string]string{
		"term": k.Term, "sv": k.SV, "en": k.EN, "definition": k.Definition, "source": k.Source, "theme": k.Theme,
		"synonyms": strings.Join(k.Synonyms, ", "), "not_recommended": strings.Join(k.NotRecommended, ", "),
		"notes": strings.Join(k.Notes, "\n"), "forms": strings.Join(k.Forms, ", "), "modules": strings.Join(k.Modules, ", "),
		"broader": strings.Join(k.Broader, ", "), "narrower": strings.Join(k.Narrower, ", "),
		"related": strings.Join(k.Related, ", "), "part_of": strings.Join(k.PartOf, ", "),
	}
}

func (s *Server) editConceptPage(c *fiber.Ctx) error {
	pub := s.published()
	k, ok := pub.Course.Concept(c.Params("concept"))
	if !ok {
		return fiber.ErrNotFound
	}
	return s.renderForm(c, 200, "concept_edit", "concept.edit.title", &conceptEditData{Concept: k, Themes: pub.Course.Themes(), Values: conceptValues(k)})
}

func (s *Server) editConcept(c *fiber.Ctx) error {
	pub := s.published()
	id := c.Params("concept")
	k, ok := pub.Course.Concept(id)
	if !ok {
		return fiber.ErrNotFound
	}
	v := map[string]string{}
	for _, f := range []string{"term", "sv", "en", "definition", "source", "theme", "synonyms", "not_recommended", "notes", "forms", "modules", "broader", "narrower", "related", "part_of"} {
		v[f] = c.FormValue(f)
	}
	edit := course.ConceptEdit{
		Term: v["term"], SV: v["sv"], EN: v["en"], Definition: v["definition"], Source: v["source"], Theme: v["theme"],
		Synonyms: list(v["synonyms"]), NotRecommended: list(v["not_recommended"]), Notes: lines(v["notes"]), Forms: list(v["forms"]),
		Modules: list(v["modules"]), Broader: list(v["broader"]), Narrower: list(v["narrower"]), Related: list(v["related"]), PartOf: list(v["part_of"]),
	}
	data, problems := pub.Course.EditConcept(id, edit)
	if len(problems) == 0 {
		store := s.opts.Studio
		if store == nil {
			return fiber.NewError(fiber.StatusConflict, "this server shows a fixed course and cannot publish edits")
		}
		ps, err := store.PublishFile(c.UserContext(), "glossary/concepts.yaml", data, s.viewerOf(c).User.Email)
		if err != nil {
			return err
		}
		for _, p := range ps {
			problems = append(problems, p.String())
		}
		if len(problems) == 0 {
			if err := s.contentChanged(c, "concept.edit", id, ""); err != nil {
				return err
			}
			return c.Redirect("/sanasto/"+id+"?muokattu=1", fiber.StatusSeeOther)
		}
	}
	d := &conceptEditData{Concept: k, Themes: pub.Course.Themes(), Values: v}
	for _, p := range problems {
		field, _, _ := strings.Cut(p, ":")
		field = strings.ReplaceAll(field, " ", "_")
		if _, ok := v[field]; !ok {
			field = ""
		}
		d.Errors = append(d.Errors, fieldError{Field: field, Message: p})
	}
	return s.renderForm(c, fiber.StatusUnprocessableEntity, "concept_edit", "concept.edit.title", d)
}
