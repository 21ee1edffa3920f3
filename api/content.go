package api

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/course"
)

// The course API: the same published revision the pages show, as JSON.

type apiSectionRef struct {
	Slug       string `json:"slug"`
	Title      string `json:"title"`
	Minutes    int    `json:"minutes"`
	Completion string `json:"completion"`
	URL        string `json:"url"`
	API        string `json:"api"`
}

type apiModuleRef struct {
	Slug     string          `json:"slug"`
	Order    int             `json:"order"`
	Title    string          `json:"title"`
	Summary  string          `json:"summary"`
	Minutes  int             `json:"minutes"`
	URL      string          `json:"url"`
	API      string          `json:"api"`
	Sections []apiSectionRef `json:"sections"`
}

type apiCourse struct {
	Version       int64           `json:"version"`
	Title         string          `json:"title"`
	Description   string          `json:"description"`
	Credits       float64         `json:"credits"`
	WorkloadHours float64         `json:"workload_hours"`
	TotalMinutes  int             `json:"total_minutes"`
	ExamMinutes   int             `json:"exam_minutes"`
	Goals         []string        `json:"goals"`
	Keywords      []string        `json:"keywords"`
	Authors       []course.Author `json:"authors"`
	Modules       []apiModuleRef  `json:"modules"`
	Laws          []*course.Law   `json:"laws"`
}

type apiModule struct {
	apiModuleRef
	Objectives []string `json:"objectives"`
	IntroHTML  string   `json:"intro_html"`
}

type apiLink struct {
	URL   string `json:"url"`
	Title string `json:"title"`
}

type apiSection struct {
	apiSectionRef
	Module apiLink          `json:"module"`
	Media  []string         `json:"media"`
	HTML   string           `json:"html"`
	TOC    []course.Heading `json:"toc"`
	Tasks  []course.Task    `json:"tasks"`
	Words  int              `json:"words"`
	Prev   *apiLink         `json:"prev"`
	Next   *apiLink         `json:"next"`
}

func sectionRef(s *course.Section) apiSectionRef {
	return apiSectionRef{
		Slug: s.Slug, Title: s.Title, Minutes: s.Minutes, Completion: s.Completion, URL: s.URL(),
		API: "/api/v1/modules/" + s.Module.Slug + "/sections/" + s.Slug,
	}
}

func moduleRef(m *course.Module) apiModuleRef {
	r := apiModuleRef{Slug: m.Slug, Order: m.Order, Title: m.Title, Summary: m.Summary, Minutes: m.Minutes, URL: m.URL(), API: "/api/v1/modules/" + m.Slug}
	for _, s := range m.Sections {
		r.Sections = append(r.Sections, sectionRef(s))
	}
	return r
}

func (h *pageHandlers) apiJSON(c *fiber.Ctx, build func(pub *course.Published) (any, error)) error {
	return h.apiJSONKey(c, "api "+c.Path(), build)
}

// apiJSONKey caches under an explicit key (for validated query filters).
func (h *pageHandlers) apiJSONKey(c *fiber.Ctx, key string, build func(pub *course.Published) (any, error)) error {
	return h.cache.cached(c, key, fiber.MIMEApplicationJSONCharsetUTF8, func(pub *course.Published) ([]byte, error) {
		v, err := build(pub)
		if err != nil {
			return nil, err
		}
		return json.Marshal(v)
	})
}

func (h *pageHandlers) apiCourse(c *fiber.Ctx) error {
	return h.apiJSON(c, func(pub *course.Published) (any, error) {
		co := pub.Course
		out := apiCourse{
			Version: pub.Version, Title: co.Meta.Title, Description: co.Meta.Description,
			Credits: co.Meta.Credits, WorkloadHours: co.Meta.WorkloadHours, TotalMinutes: co.TotalMinutes(),
			ExamMinutes: co.Meta.ExamMinutes, Goals: co.Meta.Goals, Keywords: co.Meta.Keywords,
			Authors: co.Meta.Authors, Laws: co.Laws,
		}
		for _, m := range co.Modules {
			out.Modules = append(out.Modules, moduleRef(m))
		}
		return out, nil
	})
}

func (h *pageHandlers) apiModule(c *fiber.Ctx) error {
	slug := c.Params("module")
	return h.apiJSON(c, func(pub *course.Published) (any, error) {
		m, err := h.findModule(pub, slug)
		if err != nil {
			return nil, err
		}
		return apiModule{apiModuleRef: moduleRef(m), Objectives: m.Objectives, IntroHTML: m.Intro.HTML}, nil
	})
}

func (h *pageHandlers) apiSection(c *fiber.Ctx) error {
	module, section := c.Params("module"), c.Params("section")
	return h.apiJSON(c, func(pub *course.Published) (any, error) {
		sec, err := h.findSection(pub, module, section)
		if err != nil {
			return nil, err
		}
		out := apiSection{
			apiSectionRef: sectionRef(sec),
			Module:        apiLink{sec.Module.URL(), sec.Module.Title},
			Media:         sec.Body.Media, HTML: sec.Body.HTML, TOC: sec.Body.TOC, Tasks: sec.Body.Tasks, Words: sec.Body.Words,
		}
		if prev, next := neighbours(pub.Course, sec); prev != nil || next != nil {
			if prev != nil {
				out.Prev = &apiLink{prev.URL, prev.Title}
			}
			if next != nil {
				out.Next = &apiLink{next.URL, next.Title}
			}
		}
		return out, nil
	})
}
