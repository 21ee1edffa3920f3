package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/web"
)

type apiConcept struct {
	*course.Concept
	URL      string           `json:"url"`
	Sections []apiSectionLink `json:"sections,omitempty"`
}

type apiSectionLink struct {
	URL   string `json:"url"`
	Title string `json:"title"`
}

func conceptJSON(co *course.Course, k *course.Concept, withSections bool) apiConcept {
	out := apiConcept{Concept: k, URL: "/sanasto/" + k.ID}
	if withSections {
		for _, s := range co.SectionsUsing(k.ID) {
			out.Sections = append(out.Sections, apiSectionLink{s.URL(), s.Title})
		}
	}
	return out
}

// glossaryOn answers 404 when the course has no glossary.
func glossaryOn(pub *course.Published) error {
	if !pub.Course.Meta.Pages.Glossary || len(pub.Course.Concepts) == 0 {
		return fiber.ErrNotFound
	}
	return nil
}

// apiGlossary lists the concepts, optionally of one module or initial.
func (h *pageHandlers) apiGlossary(c *fiber.Ctx) error {
	module, letter := c.Query("module"), c.Query("letter")
	if module != "" && !validSlug(module) {
		return fiber.NewError(fiber.StatusBadRequest, "module must be a module slug such as tyokyvyn-tuki")
	}
	if letter != "" && utf8.RuneCountInString(letter) != 1 {
		return fiber.NewError(fiber.StatusBadRequest, "letter must be one letter")
	}
	return h.apiJSONKey(c, "api glossary module="+module+" letter="+strings.ToLower(letter), func(pub *course.Published) (any, error) {
		if err := glossaryOn(pub); err != nil {
			return nil, err
		}
		out := []apiConcept{}
		for _, g := range pub.Course.GlossaryIndex() {
			if letter != "" && !strings.EqualFold(g.Letter, letter) {
				continue
			}
			for _, k := range g.Concepts {
				if module != "" && !inModule(k, module) {
					continue
				}
				out = append(out, conceptJSON(pub.Course, k, false))
			}
		}
		return out, nil
	})
}

// inModule matches a module slug with or without its NN- prefix.
func inModule(k *course.Concept, module string) bool {
	for _, m := range k.Modules {
		if m == module || (len(m) > 3 && m[2] == '-' && m[3:] == module) {
			return true
		}
	}
	return false
}

// findConcept checks an id from the URL and finds the concept.
func findConcept(pub *course.Published, id string) (*course.Concept, error) {
	if err := glossaryOn(pub); err != nil {
		return nil, err
	}
	if !validSlug(id) {
		return nil, fiber.ErrNotFound
	}
	k, ok := pub.Course.Concept(id)
	if !ok {
		return nil, fiber.ErrNotFound
	}
	return k, nil
}

func (h *pageHandlers) apiConcept(c *fiber.Ctx) error {
	id := c.Params("concept")
	return h.apiJSON(c, func(pub *course.Published) (any, error) {
		k, err := findConcept(pub, id)
		if err != nil {
			return nil, err
		}
		return conceptJSON(pub.Course, k, true), nil
	})
}

type apiHit struct {
	ID         string `json:"id"`
	Term       string `json:"term"`
	Definition string `json:"definition"`
	Matched    string `json:"matched"`
	Score      int    `json:"score"`
	URL        string `json:"url"`
}

func searchQuery(c *fiber.Ctx) (string, error) {
	q := strings.TrimSpace(c.Query("q"))
	if q == "" || utf8.RuneCountInString(q) > 100 || !utf8.ValidString(q) {
		return "", fiber.NewError(fiber.StatusBadRequest, "q must be 1 to 100 characters")
	}
	return q, nil
}

func (h *pageHandlers) apiGlossarySearch(c *fiber.Ctx) error {
	q, err := searchQuery(c)
	if err != nil {
		return err
	}
	pub := h.published()
	if pub == nil {
		return fiber.ErrServiceUnavailable
	}
	if err := glossaryOn(pub); err != nil {
		return err
	}
	// Results are kept a minute per published version and query (at most
	// 10 000 queries): popular searches cost a map lookup.
	key := strconv.FormatInt(pub.Version, 10) + " " + strings.ToLower(q)
	body, err := h.searches.GetOrLoad(key, func() ([]byte, string, error) {
		out := []apiHit{}
		for _, h := range pub.Course.Glossary.Search(q, 20) {
			out = append(out, apiHit{h.Concept.ID, h.Concept.Term, h.Concept.Definition, h.Matched, h.Score, "/sanasto/" + h.Concept.ID})
		}
		b, err := json.Marshal(out)
		return b, "", err
	})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=60")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Response().SetBodyRaw(body)
	return nil
}

// conceptBase is where concept URIs start: the concept pages.
func (h *pageHandlers) conceptBase() string { return strings.TrimRight(h.siteURL, "/") + "/sanasto/" }

func (h *pageHandlers) glossaryExport(kind string) fiber.Handler {
	types := map[string]string{"csv": "text/csv; charset=utf-8", "json": "application/json", "ttl": "text/turtle; charset=utf-8", "jsonld": "application/ld+json"}
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="sanasto.`+kind+`"`)
		return h.cache.cached(c, "export "+kind, types[kind], func(pub *course.Published) ([]byte, error) {
			if err := glossaryOn(pub); err != nil {
				return nil, err
			}
			co := pub.Course
			switch kind {
			case "csv":
				return co.GlossaryCSV(h.conceptBase())
			case "json":
				return co.GlossaryJSON()
			case "ttl":
				return co.GlossaryTurtle(h.conceptBase()), nil
			}
			return co.GlossaryJSONLD(h.conceptBase())
		})
	}
}

// svgResponse serves generated SVG, sandboxed like the course figures.
func svgResponse(c *fiber.Ctx) {
	c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; sandbox")
}

// conceptDiagram is a concept's diagram as SVG (embedded and downloadable).
func (h *pageHandlers) conceptDiagram(c *fiber.Ctx) error {
	id := c.Params("concept")
	svgResponse(c)
	return h.cache.cached(c, "diagram "+id, "image/svg+xml", func(pub *course.Published) ([]byte, error) {
		k, err := findConcept(pub, id)
		if err != nil {
			return nil, err
		}
		return []byte(pub.Course.ConceptDiagram(k)), nil
	})
}

// themeDiagram is the diagram of one theme of the whole vocabulary.
func (h *pageHandlers) themeDiagram(c *fiber.Ctx) error {
	theme := strings.TrimSuffix(c.Params("theme"), ".svg")
	svgResponse(c)
	return h.cache.cached(c, "theme "+theme, "image/svg+xml", func(pub *course.Published) ([]byte, error) {
		if err := glossaryOn(pub); err != nil {
			return nil, err
		}
		for _, t := range pub.Course.Themes() {
			if t == theme {
				return []byte(pub.Course.ThemeDiagram(t, course.ThemeName(t))), nil
			}
		}
		return nil, fiber.ErrNotFound
	})
}

type diagramsData struct {
	Themes []themeView
}

type themeView struct {
	ID, Name string
	Levels   [][]*course.Concept
	Desc     string
}

// diagramsPage is every theme diagram on one printable page, each with its
// concepts as a list.
func (h *pageHandlers) diagramsPage(c *fiber.Ctx) error {
	return h.cache.htmlPage(c, func(pub *course.Published, r *req) ([]byte, error) {
		if err := glossaryOn(pub); err != nil {
			return nil, err
		}
		var d diagramsData
		for _, t := range pub.Course.Themes() {
			d.Themes = append(d.Themes, themeView{ID: t, Name: course.ThemeName(t), Levels: pub.Course.ThemeConcepts(t)})
		}
		return r.render("diagrams", "/sanasto/kaaviot", page{Title: web.T(r.Lang, "diagrams.title"), Data: d})
	})
}
