package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/studio"
)

// glossaryHandlers serve the editing of glossary concepts (authors and
// administrators): the form, and the edit published as the glossary
// file.
type glossaryHandlers struct {
	*core
	// studio is the content store edits are published to (nil: the
	// server shows a fixed course and refuses edits).
	studio *studio.Store
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

func (h *glossaryHandlers) editPage(c *fiber.Ctx) error {
	pub := h.published()
	k, ok := pub.Course.Concept(c.Params("concept"))
	if !ok {
		return fiber.ErrNotFound
	}
	return h.renderForm(c, 200, "concept_edit", "concept.edit.title", &conceptEditData{Concept: k, Themes: pub.Course.Themes(), Values: conceptValues(k)})
}

func (h *glossaryHandlers) edit(c *fiber.Ctx) error {
	pub := h.published()
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
		store := h.studio
		if store == nil {
			return fiber.NewError(fiber.StatusConflict, "this server shows a fixed course and cannot publish edits")
		}
		ps, err := store.PublishFile(c.UserContext(), "glossary/concepts.yaml", data, h.viewerOf(c).User.Email)
		if err != nil {
			return err
		}
		for _, p := range ps {
			problems = append(problems, p.String())
		}
		if len(problems) == 0 {
			if err := h.contentChanged(c, "concept.edit", id, ""); err != nil {
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
	return h.renderForm(c, fiber.StatusUnprocessableEntity, "concept_edit", "concept.edit.title", d)
}
