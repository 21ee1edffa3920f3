package api

import (
	"context"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/cache"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/web"
)

// pageHandlers serve the published course as everyone reads it, from the
// render cache: the pages (home, modules, sections, legislation, the
// glossary and its concepts, the information pages: here and in
// info_pages.go), the course and glossary API (content.go, glossary.go),
// the glossary's exports and diagrams, and the course's figures.
type pageHandlers struct {
	*core
	cache *renderCache
	// progress is a signed-in learner's progress and answers on the
	// pages (nil: the site has no accounts).
	progress *study.Progress
	// media fills the section pages' players (player.go; nil: no media
	// library).
	media *media.Catalog
	// searches keeps glossary search results a minute.
	searches *cache.TTL[[]byte]
	// siteURL is the public address (Options.BaseURL): concept URIs.
	siteURL string
}

func newPageHandlers(k *core, progress *study.Progress, catalog *media.Catalog, siteURL string) *pageHandlers {
	return &pageHandlers{core: k, cache: &renderCache{core: k, media: catalog}, progress: progress, media: catalog,
		searches: cache.New[[]byte](time.Minute, 10_000), siteURL: siteURL}
}

// trusted marks HTML from the course pipeline, which is sanitized.
func trusted(h string) template.HTML { return template.HTML(h) } //nolint:gosec // sanitized by course.Render

// formatNumber writes 6.5 as "6,5" in Finnish and Swedish.
func formatNumber(lang string, v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if lang != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// hours turns minutes into hours rounded to a half, in lang's format.
func hours(lang string, minutes int) string {
	return formatNumber(lang, hoursOf(minutes))
}

// hoursOf turns minutes into hours rounded to a half (the count for a
// plural message whose number hours formats).
func hoursOf(minutes int) float64 {
	return float64((minutes+15)/30) / 2
}

type homeData struct {
	Meta                                            course.Meta
	Modules                                         []*course.Module
	What, Audience, GoalsExtra, Content, Study      template.HTML
	GlossaryIntro, LegislationIntro, Background     template.HTML
	Citation, AuthorsIntro, Accessibility, Feedback template.HTML
	Funding                                         template.HTML
	Hours, Credits, First                           string
	Continue                                        *apiContinue
	Percent                                         int
}

func (h *pageHandlers) home(c *fiber.Ctx) error {
	return h.cache.htmlPage(c, func(pub *course.Published, r *req) ([]byte, error) {
		lang := r.Lang
		co := pub.Course
		f := co.FrontHTML
		d := homeData{
			Meta: co.Meta, Modules: co.Modules,
			What: trusted(f["what"]), Audience: trusted(f["audience"]), GoalsExtra: trusted(f["goals_extra"]),
			Content: trusted(f["content"]), Study: trusted(f["study"]), GlossaryIntro: trusted(f["glossary_intro"]),
			LegislationIntro: trusted(f["legislation_intro"]), Background: trusted(f["background"]),
			Citation: trusted(f["citation"]), AuthorsIntro: trusted(f["authors_intro"]),
			Accessibility: trusted(f["accessibility"]), Feedback: trusted(f["feedback"]), Funding: trusted(f["funding"]),
			Hours: formatNumber(lang, co.Meta.WorkloadHours), Credits: formatNumber(lang, co.Meta.Credits),
		}
		if len(co.Modules) > 0 {
			d.First = co.Modules[0].URL()
		}
		if r.Viewer != nil {
			all, _, err := studyOf(r.ctx, h.progress, r.Viewer, false)
			if err != nil {
				return nil, err
			}
			d.Continue = continueFrom(co, all)
			_, d.Percent = co.Summarise(all)
		}
		return r.render("home", "/", page{Title: web.T(lang, "nav.home"), Data: d})
	})
}

func (h *pageHandlers) modulesPage(c *fiber.Ctx) error {
	return h.cache.htmlPage(c, func(pub *course.Published, r *req) ([]byte, error) {
		lang := r.Lang
		return r.render("modules", "/osiot", page{Title: web.T(lang, "modules.title"), Data: struct{ Modules []*course.Module }{pub.Course.Modules}})
	})
}

// validSlug is checked before any lookup: ids from the URL are never
// trusted.
func validSlug(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func (s *core) findModule(pub *course.Published, slug string) (*course.Module, error) {
	if !validSlug(slug) {
		return nil, fiber.ErrNotFound
	}
	m, ok := pub.Course.Module(slug)
	if !ok {
		return nil, fiber.ErrNotFound
	}
	return m, nil
}

func (s *core) findSection(pub *course.Published, module, section string) (*course.Section, error) {
	m, err := s.findModule(pub, module)
	if err != nil {
		return nil, err
	}
	if !validSlug(section) {
		return nil, fiber.ErrNotFound
	}
	sec, ok := m.Section(section)
	if !ok {
		return nil, fiber.ErrNotFound
	}
	return sec, nil
}

// redirected answers a moved module or section address with where it
// moved (redirects.yaml), or false.
func (h *pageHandlers) redirected(c *fiber.Ctx) (bool, error) {
	pub := h.published()
	if pub == nil || pub.Course.Redirects == nil {
		return false, nil
	}
	to, ok := pub.Course.Redirects[strings.TrimSuffix(c.Path(), "/")]
	if !ok {
		return false, nil
	}
	// A redirect into a hidden module waits until the module is shown: a
	// permanent redirect to a missing page would stay in browsers' caches.
	if rest, ok := strings.CutPrefix(to, "/osiot/"); ok {
		if _, shown := pub.Course.Module(strings.SplitN(rest, "/", 2)[0]); !shown {
			return false, nil
		}
	}
	return true, c.Redirect(to, fiber.StatusMovedPermanently)
}

type moduleData struct {
	Module *course.Module
	Intro  template.HTML
	First  string
	Done   map[string]bool // section slug → completed, for the signed-in
	Stats  *course.ModuleProgress
	// Budget is the module's time part by part, computed from its
	// sections (course.Section.Budget).
	Budget course.Budget
	// WPM and QuizPerItem are the budget's rates, for its note.
	WPM         int
	QuizPerItem string
}

func (h *pageHandlers) modulePage(c *fiber.Ctx) error {
	if moved, err := h.redirected(c); moved {
		return err
	}
	slug := c.Params("module")
	return h.cache.htmlPage(c, func(pub *course.Published, r *req) ([]byte, error) {
		m, err := h.findModule(pub, slug)
		if err != nil {
			return nil, err
		}
		d := moduleData{Module: m, Intro: trusted(m.Intro.HTML), Budget: m.Budget(pub.Course), WPM: course.ReadingWPM, QuizPerItem: formatNumber(r.Lang, course.QuizMinutesPerItem)}
		if len(m.Sections) > 0 {
			d.First = m.Sections[0].URL()
		}
		if r.Viewer != nil {
			all, _, err := studyOf(r.ctx, h.progress, r.Viewer, false)
			if err != nil {
				return nil, err
			}
			d.Done = map[string]bool{}
			for _, sec := range m.Sections {
				d.Done[sec.Slug] = all[m.Slug+"/"+sec.Slug].Done()
			}
			mods, _ := pub.Course.Summarise(all)
			for i := range mods {
				if mods[i].Module == m {
					d.Stats = &mods[i]
				}
			}
		}
		return r.render("module", m.URL(), page{Title: m.Title, Description: m.Summary, Data: d})
	})
}

type pageLink struct{ URL, Title string }

type sectionData struct {
	Section      *course.Section
	Body         template.HTML
	TOC          []course.Heading
	Index, Count int
	Prev, Next   *pageLink
	SignedIn     bool
	// SelfCheck is the section's self-check form (nil: none).
	SelfCheck *selfCheckView
	// For the signed-in: placeholders in the cached skeleton, filled per
	// request (see signedInSection).
	ScrollAttr string
	DoneAttr   string
	MediaAttr  string
	Completion template.HTML
}

// neighbours are the previous and next pages in reading order: across a
// module's end to the next module's page.
func neighbours(co *course.Course, sec *course.Section) (prev, next *pageLink) {
	m := sec.Module
	for i, x := range m.Sections {
		if x != sec {
			continue
		}
		if i > 0 {
			prev = &pageLink{m.Sections[i-1].URL(), m.Sections[i-1].Title}
		} else {
			prev = &pageLink{m.URL(), m.Title}
		}
		if i+1 < len(m.Sections) {
			next = &pageLink{m.Sections[i+1].URL(), m.Sections[i+1].Title}
		} else {
			for j, mm := range co.Modules {
				if mm == m && j+1 < len(co.Modules) {
					next = &pageLink{co.Modules[j+1].URL(), co.Modules[j+1].Title}
				}
			}
		}
	}
	return prev, next
}

// Placeholders of the signed-in section skeleton; html/template leaves
// them as they are in text and attribute values.
var (
	phCSRF       = placeholder("csrf")
	phName       = placeholder("name")
	phScroll     = placeholder("scroll")
	phDone       = placeholder("done")
	phCompletion = placeholder("completion")
	phMedia      = placeholder("media")
)

func placeholder(name string) string { return "@@tk-" + slotNonce + "-" + name + "@@" }

// buildSection renders a section page: for anonymous visitors complete
// (with sign-in hints where answers go), for the signed-in as a skeleton
// with placeholders and the raw answer slots.
func (h *pageHandlers) buildSection(pub *course.Published, r *req, module, section string) ([]byte, error) {
	sec, err := h.findSection(pub, module, section)
	if err != nil {
		return nil, err
	}
	d := sectionData{Section: sec, Count: len(sec.Module.Sections), SelfCheck: selfCheckOf(r.Lang, r.CSRF, sec, nil, nil)}
	body := h.withPlayers(sec.Body.HTML, r.Lang)
	if r.Viewer != nil {
		d.SignedIn = true
		d.Body = trusted(answerSkeletons(body, sec, r))
		d.ScrollAttr, d.DoneAttr, d.Completion, d.MediaAttr = phScroll, phDone, template.HTML(phCompletion), phMedia //nolint:gosec // a placeholder of letters, digits and @-
	} else {
		d.Body = trusted(answerBoxes(body, sec, r, nil))
	}
	for i, x := range sec.Module.Sections {
		if x == sec {
			d.Index = i + 1
		}
	}
	// A contents list helps on long pages only.
	if len(sec.Body.TOC) >= 3 {
		for _, h := range sec.Body.TOC {
			if h.Level == 2 || h.Level == 3 {
				d.TOC = append(d.TOC, h)
			}
		}
	}
	d.Prev, d.Next = neighbours(pub.Course, sec)
	return r.render("section", sec.URL(), page{Title: sec.Title, Data: d})
}

func (h *pageHandlers) sectionPage(c *fiber.Ctx) error {
	if moved, err := h.redirected(c); moved {
		return err
	}
	module, section := c.Params("module"), c.Params("section")
	if h.hasSessionCredential(c) {
		if v := h.viewerOf(c); v.signedIn() {
			return h.signedInSection(c, v, module, section)
		}
	}
	lang := h.lang(c)
	return h.cache.cached(c, lang+" "+c.Path(), fiber.MIMETextHTMLCharsetUTF8, func(pub *course.Published) ([]byte, error) {
		return h.buildSection(pub, &req{core: h.core, ctx: context.Background(), Lang: lang}, module, section)
	})
}

// signedInSection serves a signed-in learner's section page without
// executing a template: the skeleton for the language and role is built
// once per published version, then the learner's token, name, progress
// and answers are put in its placeholders.
func (h *pageHandlers) signedInSection(c *fiber.Ctx, v *viewer, module, section string) error {
	lang := h.lang(c)
	// The skeleton differs by what the role may do (the links of the
	// header), which depends on the role and the second factor.
	role, twoFactor := v.User.Role, v.User.SecondFactor()
	key := "signed-in " + lang + " " + role
	if twoFactor {
		key += "+2fa"
	}
	e, err := h.cache.cachedEntry(key+" "+c.Path(), func(pub *course.Published) ([]byte, error) {
		skeleton := &viewer{User: &account.User{Name: phName, Role: role, TOTPEnabled: twoFactor}, Session: &account.Session{CSRF: phCSRF}}
		return h.buildSection(pub, &req{core: h.core, ctx: context.Background(), Lang: lang, Viewer: skeleton, CSRF: phCSRF}, module, section)
	})
	if err != nil {
		return err
	}
	sec, err := h.findSection(h.published(), module, section)
	if err != nil {
		return err
	}
	r := &req{core: h.core, ctx: c.UserContext(), Lang: lang, Viewer: v, CSRF: v.Session.CSRF}
	all, answers, err := studyOf(r.ctx, h.progress, r.Viewer, true)
	if err != nil {
		return err
	}
	p := all[sec.Module.Slug+"/"+sec.Slug]
	scroll, done := "0", "0"
	if p != nil {
		scroll = strconv.FormatFloat(p.Scroll, 'f', -1, 64)
		if p.Done() {
			done = "1"
		}
	}
	// Every placeholder stands in element text or a quoted attribute value,
	// where html/template's escaper (which escapes quotes too) is the right
	// one; the completion block and the answer forms are templates.
	csrf := template.HTMLEscapeString(v.Session.CSRF)
	// Sized for the placeholders below and three per answer form: a
	// growing map was a tenth of the page's allocations.
	values := make(map[string]string, 6+3*len(sec.Body.Tasks))
	values[phCSRF] = csrf
	values[phName] = template.HTMLEscapeString(v.User.Name)
	values[phScroll] = scroll
	values[phDone] = done
	values[phCompletion] = e.completionFor(sec, p.Done(), lang, csrf)
	values[phMedia] = template.HTMLEscapeString(mediaState(p))
	answerValues(sec, lang, answers, values)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	// The skeleton's pieces and the learner's values, straight into the
	// response: no search, no template; compressed, the skeleton's
	// pieces were compressed once.
	c.Vary(fiber.HeaderAcceptEncoding)
	if c.Request().Header.HasAcceptEncoding("gzip") {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		e.writeGzip(c.Response().BodyWriter(), values)
		return nil
	}
	e.cut()
	w := c.Response().BodyWriter()
	for i, slot := range e.slots {
		w.Write(e.parts[i])
		io.WriteString(w, values[slot])
	}
	w.Write(e.parts[len(e.parts)-1])
	return nil
}

// mediaState tells the player where the learner stopped and how much they
// have played: "id=position/share" pairs separated by spaces.
func mediaState(p *course.SectionProgress) string {
	if p == nil || len(p.Media) == 0 {
		return ""
	}
	ids := make([]string, 0, len(p.Media))
	for id := range p.Media {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for _, id := range ids {
		m := p.Media[id]
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(id + "=" + strconv.FormatFloat(m.Position, 'f', 1, 64) + "/" + strconv.FormatFloat(m.Watched, 'f', 3, 64))
	}
	return b.String()
}

// completionBlock says whether the page is done, or how it gets done.
// completionFor is the completion block of the skeleton's section for a
// learner who has (done) or has not completed it, with their CSRF token
// (escaped): both blocks are made once per skeleton, with the token's
// placeholder.
func (e *cacheEntry) completionFor(sec *course.Section, done bool, lang, csrf string) string {
	e.completionOnce.Do(func() {
		r := &req{Lang: lang, CSRF: phCSRF}
		now := time.Now()
		e.completion[0] = completionBlock(sec, nil, r)
		e.completion[1] = completionBlock(sec, &course.SectionProgress{CompletedAt: &now}, r)
	})
	b := e.completion[0]
	if done {
		b = e.completion[1]
	}
	return strings.ReplaceAll(b, phCSRF, csrf)
}

func completionBlock(sec *course.Section, p *course.SectionProgress, r *req) string {
	switch {
	case p.Done():
		return fragment("completion-done", web.T(r.Lang, "section.done.long"))
	case sec.Completion == course.CompleteOnView:
		return fragment("completion-form", map[string]string{"Action": sec.URL() + "/luettu", "CSRF": r.CSRF, "Label": web.T(r.Lang, "section.markread")})
	case sec.Completion == course.CompleteOnTask:
		return fragment("completion-rule", web.T(r.Lang, "section.rule.task"))
	case sec.Completion == course.CompleteOnQuiz:
		return fragment("completion-rule", web.T(r.Lang, "section.rule.quiz"))
	}
	return fragment("completion-rule", web.T(r.Lang, "section.rule.video"))
}

type lawView struct {
	Law     *course.Law
	Anchor  string
	Summary template.HTML
}

type legislationData struct {
	Intro    template.HTML
	Laws     []lawView
	ByModule []struct {
		Module *course.Module
		Laws   []lawView
	}
}

func (h *pageHandlers) legislationPage(c *fiber.Ctx) error {
	return h.cache.htmlPage(c, func(pub *course.Published, r *req) ([]byte, error) {
		lang := r.Lang
		co := pub.Course
		if !co.Meta.Pages.Legislation {
			return nil, fiber.ErrNotFound
		}
		d := legislationData{Intro: trusted(co.FrontHTML["legislation_intro"])}
		views := map[string]lawView{}
		for _, l := range co.Laws {
			v := lawView{Law: l, Anchor: course.LawAnchor(l.ID), Summary: trusted(l.SummaryHTML)}
			views[l.ID] = v
			d.Laws = append(d.Laws, v)
		}
		for _, m := range co.Modules {
			row := struct {
				Module *course.Module
				Laws   []lawView
			}{Module: m}
			for _, l := range co.Laws {
				for _, lm := range l.Modules {
					if lm == m.Slug || strings.HasSuffix(m.Dir, "/"+lm) {
						row.Laws = append(row.Laws, views[l.ID])
						break
					}
				}
			}
			d.ByModule = append(d.ByModule, row)
		}
		return r.render("legislation", "/lainsaadanto", page{Title: web.T(lang, "legislation.title"), Data: d})
	})
}

type glossaryData struct {
	Intro    template.HTML
	Concepts []*course.Concept
	Groups   []course.LetterGroup
	Query    string
	Hits     []course.Hit
	Searched bool
}

func (h *pageHandlers) glossaryPage(c *fiber.Ctx) error {
	build := func(pub *course.Published, r *req, q string) ([]byte, error) {
		co := pub.Course
		if err := glossaryOn(pub); err != nil {
			return nil, err
		}
		d := glossaryData{Intro: trusted(co.FrontHTML["glossary_intro"]), Concepts: co.Concepts, Groups: co.GlossaryIndex(), Query: q}
		if q != "" {
			d.Searched, d.Hits = true, co.Glossary.Search(q, 20)
		}
		return r.render("glossary", "/sanasto", page{Title: web.T(r.Lang, "glossary.title"), Data: d})
	}
	if c.Query("q") != "" {
		// A search answers per request (never from the page cache).
		q, err := searchQuery(c)
		if err != nil {
			return err
		}
		pub := h.published()
		if pub == nil {
			return fiber.ErrServiceUnavailable
		}
		r := &req{core: h.core, ctx: c.UserContext(), Lang: h.lang(c)}
		if h.hasSessionCredential(c) {
			if v := h.viewerOf(c); v.signedIn() {
				r.Viewer, r.CSRF = v, v.Session.CSRF
			}
		}
		body, err := build(pub, r, q)
		if err != nil {
			return err
		}
		return sendPrivate(c, body)
	}
	return h.cache.htmlPage(c, func(pub *course.Published, r *req) ([]byte, error) { return build(pub, r, "") })
}

type relation struct {
	Label    string
	Concepts []*course.Concept
}

type conceptData struct {
	Concept     *course.Concept
	Relations   []relation
	Sections    []*course.Section
	DiagramDesc string
}

func (h *pageHandlers) conceptPage(c *fiber.Ctx) error {
	id := c.Params("concept")
	return h.cache.htmlPage(c, func(pub *course.Published, r *req) ([]byte, error) {
		lang := r.Lang
		co := pub.Course
		if !validSlug(id) || !co.Meta.Pages.Glossary {
			return nil, fiber.ErrNotFound
		}
		k, ok := co.Concept(id)
		if !ok {
			return nil, fiber.ErrNotFound
		}
		d := conceptData{Concept: k, Sections: co.SectionsUsing(k.ID), DiagramDesc: co.DiagramDescription(k)}
		for _, rel := range []struct {
			key string
			ids []string
		}{{"concept.broader", k.Broader}, {"concept.narrower", k.Narrower}, {"concept.related", k.Related}, {"concept.partof", k.PartOf}} {
			r := relation{Label: web.T(lang, rel.key)}
			for _, rid := range rel.ids {
				if other, ok := co.Concept(rid); ok {
					r.Concepts = append(r.Concepts, other)
				}
			}
			if len(r.Concepts) > 0 {
				d.Relations = append(d.Relations, r)
			}
		}
		return r.render("concept", "/sanasto/"+k.ID, page{Title: k.Term, Description: k.Definition, Data: d})
	})
}

// figure serves an image of the course content by its hashed name.
func (h *pageHandlers) figure(c *fiber.Ctx) error {
	pub := h.published()
	if pub == nil {
		return fiber.ErrNotFound
	}
	name := c.Params("name")
	for _, a := range pub.Course.Assets {
		if "/kurssi/kuvat/"+name == a.URL() {
			c.Set(fiber.HeaderContentType, a.ContentType)
			c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
			// An SVG opened directly must not be able to run anything.
			c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; sandbox")
			c.Response().SetBodyRaw(a.Body)
			return nil
		}
	}
	return fiber.ErrNotFound
}
