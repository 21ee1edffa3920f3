package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"github.com/gofiber/fiber/v2"
	"golang.org/x/sync/singleflight"

	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/cache"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/internal/pdffont"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/web"
)

// answerBoxes replaces the answer placeholders of a section's HTML: for a
// signed-in learner a form with the saved answer (autosaved by app.js,
// saved by the button without JavaScript), for others a sign-in link.
func answerBoxes(body string, sec *course.Section, r *req, answers map[string]*study.Answer) string {
	pairs := answerPairs(sec, r, answers)
	if len(pairs) == 0 {
		return body
	}
	return strings.NewReplacer(pairs...).Replace(body)
}

// answerSkeletons puts a signed-in skeleton's answer forms in a section
// body: each form made once, with placeholders for what is the learner's
// (the text, when it was saved, the copy's time) beside the CSRF token's,
// filled per request by answerValues.
func answerSkeletons(body string, sec *course.Section, r *req) string {
	var pairs []string
	i := 0
	for _, t := range sec.Body.Tasks {
		if !t.Answer {
			continue
		}
		pairs = append(pairs, course.AnswerSlot(t.ID), answerForm(sec, t.ID, r, answerPlaceholder(i, "text"), answerPlaceholder(i, "saved"), answerPlaceholder(i, "base")))
		i++
	}
	if len(pairs) == 0 {
		return body
	}
	return strings.NewReplacer(pairs...).Replace(body)
}

// answerPlaceholder stands for a field of the i'th answer form of a
// signed-in skeleton; the first answerPlaceholders forms' are made once,
// as every signed-in section page asks for them.
func answerPlaceholder(i int, field string) string {
	if i < len(answerPlaceholders) {
		switch field {
		case "text":
			return answerPlaceholders[i][0]
		case "saved":
			return answerPlaceholders[i][1]
		case "base":
			return answerPlaceholders[i][2]
		}
	}
	return placeholder("a" + strconv.Itoa(i) + field)
}

var answerPlaceholders = func() (p [16][3]string) {
	for i := range p {
		for j, field := range []string{"text", "saved", "base"} {
			p[i][j] = placeholder("a" + strconv.Itoa(i) + field)
		}
	}
	return p
}()

// answerValues are the learner's values of a section's answer forms, by
// placeholder, escaped for the element text and quoted attribute values
// they stand in.
func answerValues(sec *course.Section, lang string, answers map[string]*study.Answer, values map[string]string) {
	i := 0
	for _, t := range sec.Body.Tasks {
		if !t.Answer {
			continue
		}
		text, saved, base := answerState(lang, answers[course.TaskKey(sec, t.ID)])
		values[answerPlaceholder(i, "text")] = template.HTMLEscapeString(text)
		values[answerPlaceholder(i, "saved")] = template.HTMLEscapeString(saved)
		values[answerPlaceholder(i, "base")] = template.HTMLEscapeString(base)
		i++
	}
}

// answerState is what an answer form shows of a saved answer: its text,
// when it was saved, and the copy's time (an answer written offline is
// sent with it, so the server can tell a change made elsewhere
// meanwhile: study.Sync).
func answerState(lang string, a *study.Answer) (text, saved, base string) {
	if a == nil {
		return "", "", ""
	}
	return a.Text, web.T(lang, "answer.saved", i18n.DateTime(lang, a.UpdatedAt)), a.UpdatedAt.UTC().Format(time.RFC3339Nano)
}

// answerForm is a task's answer form with the given text, saved note and
// base.
func answerForm(sec *course.Section, taskID string, r *req, text, saved, base string) string {
	return fragment("answer-form", map[string]any{"Key": course.TaskKey(sec, taskID), "ID": "vastaus-" + taskID, "Lang": r.Lang, "CSRF": r.CSRF, "Base": base,
		"Queued": web.T(r.Lang, "answer.queued"),
		"Saving": web.T(r.Lang, "answer.saving"), "SavedNow": web.T(r.Lang, "answer.savednow"), "Failed": web.T(r.Lang, "answer.failed"),
		"Label": web.T(r.Lang, "answer.label"), "Max": study.MaxAnswerLen, "Text": text, "Saved": saved, "Save": web.T(r.Lang, "answer.save")})
}

// answerPairs are the placeholder → HTML pairs of a section's answer slots.
func answerPairs(sec *course.Section, r *req, answers map[string]*study.Answer) []string {
	var pairs []string
	for _, t := range sec.Body.Tasks {
		if !t.Answer {
			continue
		}
		placeholder := course.AnswerSlot(t.ID)
		key := course.TaskKey(sec, t.ID)
		var out string
		if r.Viewer == nil {
			out = fragment("answer-signin", map[string]string{"Lang": r.Lang, "Next": sec.URL() + "#" + t.ID,
				"SignIn": web.T(r.Lang, "answer.signin"), "Rest": web.T(r.Lang, "answer.signin.rest")})
		} else {
			text, saved, base := answerState(r.Lang, answers[key])
			out = answerForm(sec, t.ID, r, text, saved, base)
		}
		pairs = append(pairs, placeholder, out)
	}
	return pairs
}

// studyHandlers serve a learner's own studies: marking a section read,
// saving task answers (forms and the JSON API), the progress API, the
// dashboard and the learning diary (Markdown and PDF).
type studyHandlers struct {
	*core
	progress *study.Progress
	// media tells the duration and kind of a played item (nil: no media
	// library, and played events carry only what the player says).
	media *media.Catalog
	// mine are the learner's assignments (nil: none, the feature is off);
	// siteURL is for the calendar's links.
	mine    *learnerAssignments
	siteURL string
	// dashboards keeps each session's rendered dashboard (see dashboard).
	dashboards *cache.TTL[*renderedDashboard]
	// rendering lets one request per session render a dashboard while the
	// session's other requests wait for it (see dashboard).
	rendering singleflight.Group
}

// maxDashboards bounds the sessions whose dashboard is kept (each about
// 25 kB with its compressed form): only those reloaded within
// study.CacheTTL gain from it.
const maxDashboards = 2000

// renderedDashboard is a session's dashboard as last rendered, with the
// stamp of everything it was made from.
type renderedDashboard struct {
	stamp dashStamp
	page  *gzipped
}

// studyOf loads a learner's progress (and answers when asked); nothing
// for a visitor or a site without progress records.
func studyOf(ctx context.Context, progress *study.Progress, v *viewer, withAnswers bool) (map[string]*course.SectionProgress, map[string]*study.Answer, error) {
	if v == nil || progress == nil {
		return nil, nil, nil
	}
	all, err := progress.ForUser(ctx, v.User.ID)
	if err != nil || !withAnswers {
		return all, nil, err
	}
	answers, err := progress.Answers(ctx, v.User.ID)
	return all, answers, err
}

// markRead completes a view section without JavaScript.
func (h *studyHandlers) markRead(c *fiber.Ctx) error {
	pub := h.published()
	sec, err := h.findSection(pub, c.Params("module"), c.Params("section"))
	if err != nil {
		return err
	}
	if _, err := h.progress.Record(c.UserContext(), h.viewerOf(c).User.ID, sec, study.Event{Kind: "completed"}); err != nil {
		if errors.Is(err, study.ErrNotCompleted) {
			return fiber.NewError(fiber.StatusConflict, "this section is completed by its task or video")
		}
		return err
	}
	return c.Redirect(sec.URL()+"#valmis", fiber.StatusSeeOther)
}

// saveAnswerForm saves an answer posted by the form (no JavaScript).
func (h *studyHandlers) saveAnswerForm(c *fiber.Ctx) error {
	sec, t, ok := h.published().Course.FindTask(c.Params("task"))
	if !ok {
		return fiber.ErrNotFound
	}
	if _, err := h.progress.SaveAnswer(c.UserContext(), h.viewerOf(c).User.ID, sec, t.ID, c.FormValue("text")); errors.Is(err, study.ErrNotRecorded) {
		h.log.Warn("answer saved, progress not recorded (the next save records it)", "task", c.Params("task"), "err", err)
	} else if err != nil {
		if errors.Is(err, study.ErrAnswerTooLong) {
			return fiber.NewError(fiber.StatusRequestEntityTooLarge, "the answer is too long")
		}
		return err
	}
	return c.Redirect(sec.URL()+"#"+t.ID, fiber.StatusSeeOther)
}

// The progress API.

type apiModuleProgress struct {
	Slug      string `json:"slug"`
	Done      int    `json:"done"`
	Total     int    `json:"total"`
	Percent   int    `json:"percent"`
	Seconds   int    `json:"seconds"`
	Minutes   int    `json:"budget_minutes"`
	Completed bool   `json:"completed"`
}

type apiProgress struct {
	Percent  int                       `json:"percent"`
	Modules  []apiModuleProgress       `json:"modules"`
	Sections []*course.SectionProgress `json:"sections"`
	Continue *apiContinue              `json:"continue"`
}

type apiContinue struct {
	URL    string  `json:"url"`
	Title  string  `json:"title"`
	Scroll float64 `json:"scroll"`
}

// continueFrom is where the learner left off, if anywhere.
func continueFrom(co *course.Course, all map[string]*course.SectionProgress) *apiContinue {
	last := course.Last(all)
	if last == nil {
		return nil
	}
	m, ok := co.Module(last.Module)
	if !ok {
		return nil
	}
	sec, ok := m.Section(last.Section)
	if !ok {
		return nil
	}
	return &apiContinue{URL: sec.URL(), Title: sec.Title, Scroll: last.Scroll}
}

func (h *studyHandlers) apiProgress(c *fiber.Ctx) error {
	all, err := h.progress.ForUser(c.UserContext(), h.viewerOf(c).User.ID)
	if err != nil {
		return err
	}
	co := h.published().Course
	mods, pct := co.Summarise(all)
	out := apiProgress{Percent: pct, Sections: []*course.SectionProgress{}, Continue: continueFrom(co, all)}
	for _, m := range mods {
		out.Modules = append(out.Modules, apiModuleProgress{Slug: m.Module.Slug, Done: m.Done, Total: m.Total, Percent: m.Percent, Seconds: m.Seconds, Minutes: m.Module.Minutes, Completed: m.Completed})
	}
	for _, p := range all {
		out.Sections = append(out.Sections, p)
	}
	sort.Slice(out.Sections, func(i, j int) bool { return out.Sections[i].ID < out.Sections[j].ID })
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

func (h *studyHandlers) apiRecordProgress(c *fiber.Ctx) error {
	sec, err := h.findSection(h.published(), c.Params("module"), c.Params("section"))
	if err != nil {
		return err
	}
	var ev study.Event
	if err := json.Unmarshal(c.Body(), &ev); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "the body must be JSON: {\"event\": \"opened\" | \"heartbeat\" | \"completed\" | \"played\", …}")
	}
	if ev.Kind == "task-answered" {
		return study.ErrBadEvent
	}
	if ev.Kind == "played" {
		h.playedFacts(sec, &ev)
	}
	p, err := h.progress.Record(c.UserContext(), h.viewerOf(c).User.ID, sec, ev)
	if err != nil { // refusals: a bad event or played event (400), the rule not met (409)
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(p)
}

type apiAnswer struct {
	Task      string     `json:"task"`
	Text      string     `json:"text"`
	UpdatedAt *time.Time `json:"updated_at"`
}

func (h *studyHandlers) apiGetAnswer(c *fiber.Ctx) error {
	key := c.Params("task")
	sec, t, ok := h.published().Course.FindTask(key)
	if !ok {
		return fiber.ErrNotFound
	}
	answers, err := h.progress.Answers(c.UserContext(), h.viewerOf(c).User.ID)
	if err != nil {
		return err
	}
	out := apiAnswer{Task: course.TaskKey(sec, t.ID)}
	if a := answers[out.Task]; a != nil {
		out.Text, out.UpdatedAt = a.Text, &a.UpdatedAt
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

func (h *studyHandlers) apiPutAnswer(c *fiber.Ctx) error {
	sec, t, ok := h.published().Course.FindTask(c.Params("task"))
	if !ok {
		return fiber.ErrNotFound
	}
	var in struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "the body must be JSON: {\"text\": \"…\"}")
	}
	a, err := h.progress.SaveAnswer(c.UserContext(), h.viewerOf(c).User.ID, sec, t.ID, in.Text)
	if errors.Is(err, study.ErrNotRecorded) {
		h.log.Warn("answer saved, progress not recorded (the next save records it)", "task", c.Params("task"), "err", err)
		err = nil
	}
	if errors.Is(err, study.ErrAnswerTooLong) {
		return fiber.NewError(fiber.StatusRequestEntityTooLarge, fmt.Sprintf("an answer may have at most %d characters", study.MaxAnswerLen))
	}
	if err != nil {
		return err
	}
	return c.JSON(apiAnswer{Task: a.Task, Text: a.Text, UpdatedAt: &a.UpdatedAt})
}

// Dashboard "Omat opinnot".

type dashboardData struct {
	Percent  int
	Modules  []course.ModuleProgress
	Continue *apiContinue
	Done     map[string]bool
	// SelfChecked: the sections whose self-check the learner has answered
	// in full; Checks counts them by module ("done/total").
	SelfChecked map[string]bool
	Checks      map[string][2]int
	Answers     int
	// Assigned are the open assignments that apply to the learner.
	Assigned []myAssignment
}

func (h *studyHandlers) dashboard(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	lang := h.lang(c)
	pub := h.published()
	all, answers, err := studyOf(c.UserContext(), h.progress, v, true)
	if err != nil {
		return err
	}
	if h.dashboards == nil {
		body, err := h.renderDashboard(c, pub, lang, v, all, answers)
		if err != nil {
			return err
		}
		return sendPrivate(c, body)
	}
	stamp := dashboardStamp(pub, lang, v, all, answers)
	kept := func() *renderedDashboard {
		if r, ok := h.dashboards.Get(v.Session.ID); ok && r.stamp.equal(&stamp) {
			return r
		}
		return nil
	}
	r := kept()
	if r == nil {
		// When what the page is made from changes (the progress cache's
		// refresh gives new maps, every few seconds), all of a session's
		// requests in flight find the kept page stale at once: one of them
		// renders while the rest wait for it, instead of each rendering
		// and compressing its own (measured: 64 connections to one
		// dashboard did so several times a second, and those bursts were
		// the page's p99).
		shared, err, _ := h.rendering.Do(v.Session.ID, func() (any, error) {
			if r := kept(); r != nil {
				return r, nil
			}
			body, err := h.renderDashboard(c, pub, lang, v, all, answers)
			if err != nil {
				return nil, err
			}
			r := &renderedDashboard{stamp: stamp, page: &gzipped{raw: body}}
			h.dashboards.Put(v.Session.ID, v.User.ID, r)
			return r, nil
		})
		if err != nil {
			return err
		}
		if r = shared.(*renderedDashboard); !r.stamp.equal(&stamp) {
			// The request rendered for was made from something else (a
			// write landed between the two): render this one's own.
			body, err := h.renderDashboard(c, pub, lang, v, all, answers)
			if err != nil {
				return err
			}
			r = &renderedDashboard{stamp: stamp, page: &gzipped{raw: body}}
		}
	}
	sendPrivateHeaders(c)
	r.page.send(c)
	return nil
}

// renderDashboard renders the learner's dashboard page.
func (h *studyHandlers) renderDashboard(c *fiber.Ctx, pub *course.Published, lang string, v *viewer, all map[string]*course.SectionProgress, answers map[string]*study.Answer) ([]byte, error) {
	mods, pct := pub.Course.Summarise(all)
	d := dashboardData{Percent: pct, Modules: mods, Continue: continueFrom(pub.Course, all), Done: map[string]bool{}, Answers: len(answers),
		SelfChecked: map[string]bool{}, Checks: map[string][2]int{}}
	var err error
	if d.Assigned, err = h.mine.of(c, v.User, all, pub.Course, lang); err != nil {
		return nil, err
	}
	for k, p := range all {
		d.Done[k] = p.Done()
		d.SelfChecked[k] = p.SelfCheckDone != nil
	}
	for _, m := range pub.Course.Modules {
		var n [2]int
		for _, s := range m.Sections {
			if len(s.Quiz) > 0 {
				n[1]++
				if d.SelfChecked[m.Slug+"/"+s.Slug] {
					n[0]++
				}
			}
		}
		d.Checks[m.Slug] = n
	}
	return h.renderPage("dashboard", lang, "/omat-opinnot", page{Title: web.T(lang, "dashboard.title"), Data: d, Viewer: v, CSRF: v.Session.CSRF})
}

// dashboardStamp names everything a learner's dashboard is made from:
// the published version, the language, the learner's records and answers
// as the progress store's cache holds them (a write through this
// instance, or the cache's expiry, gives new maps), and what the page's
// header shows of the viewer, the viewer's organisation, unit and groups
// (whom assignments apply to) and the assignments changed in this process
// (assign.Changes). The rendered page is reused while the stamp
// is the same, for at most study.CacheTTL: the same bound as other
// instances' writes already have.
func dashboardStamp(pub *course.Published, lang string, v *viewer, all map[string]*course.SectionProgress, answers map[string]*study.Answer) dashStamp {
	return dashStamp{version: pub.Version, lang: lang, all: all, answers: answers, role: v.User.Role, csrf: v.Session.CSRF, email: v.User.Email,
		name: v.User.Name, org: v.User.OrgID, unit: v.User.UnitID, groups: v.User.Groups, changes: assign.Changes()}
}

// dashStamp is dashboardStamp's record: compared field by field, the maps
// by identity (held, so that a freed map's address cannot come back as
// another's), without formatting a string on every request.
type dashStamp struct {
	version                                  int64
	lang, role, csrf, email, name, org, unit string
	all                                      map[string]*course.SectionProgress
	answers                                  map[string]*study.Answer
	groups                                   []string
	changes                                  int64
}

func (a *dashStamp) equal(b *dashStamp) bool {
	return a.version == b.version && a.lang == b.lang && a.role == b.role && a.csrf == b.csrf && a.email == b.email &&
		a.name == b.name && a.org == b.org && a.unit == b.unit && a.changes == b.changes && slices.Equal(a.groups, b.groups) &&
		sameMap(a.all, b.all) && sameMap(a.answers, b.answers)
}

// sameMap tells whether two maps are one and the same (nil is nil only).
func sameMap[K comparable, V any](a, b map[K]V) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// diaryEntry is one answered task of the learning diary.
type diaryEntry struct {
	Module, Section, Task, Text string
	Updated                     time.Time
}

func (h *studyHandlers) diary(c *fiber.Ctx) ([]diaryEntry, error) {
	answers, err := h.progress.Answers(c.UserContext(), h.viewerOf(c).User.ID)
	if err != nil {
		return nil, err
	}
	var out []diaryEntry
	co := h.published().Course
	for _, m := range co.Modules {
		for _, sec := range m.Sections {
			for _, t := range sec.Body.Tasks {
				if a := answers[course.TaskKey(sec, t.ID)]; a != nil && strings.TrimSpace(a.Text) != "" {
					out = append(out, diaryEntry{m.Title, sec.Title, t.Title, a.Text, a.UpdatedAt})
				}
			}
		}
	}
	return out, nil
}

// diaryMarkdown exports the learner's answers as a Markdown learning diary.
func (h *studyHandlers) diaryMarkdown(c *fiber.Ctx) error {
	entries, err := h.diary(c)
	if err != nil {
		return err
	}
	v, lang := h.viewerOf(c), h.lang(c)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n%s – %s\n\n", web.T(lang, "diary.title"), v.User.Name, h.published().Course.Meta.Title)
	last := ""
	for _, e := range entries {
		if e.Module != last {
			fmt.Fprintf(&b, "## %s\n\n", e.Module)
			last = e.Module
		}
		fmt.Fprintf(&b, "### %s: %s\n\n*%s, %s*\n\n%s\n\n", e.Section, e.Task, e.Section, web.T(lang, "diary.saved", i18n.DateTime(lang, e.Updated)), strings.TrimSpace(e.Text))
	}
	if len(entries) == 0 {
		b.WriteString(web.T(lang, "diary.empty") + "\n")
	}
	c.Set(fiber.HeaderContentType, "text/markdown; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="oppimispaivakirja.md"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(b.Bytes())
}

// diaryPDF exports the same diary as a PDF.
func (h *studyHandlers) diaryPDF(c *fiber.Ctx) error {
	entries, err := h.diary(c)
	if err != nil {
		return err
	}
	v, lang := h.viewerOf(c), h.lang(c)
	// DejaVu, as on the certificates: any name and any answer prints
	// (the core fonts' cp1252 has no č, đ or ł).
	pdf := fpdf.New("P", "mm", "A4", "")
	pdffont.Register(pdf)
	font := pdffont.Family
	pdf.SetTitle(web.T(lang, "diary.title"), true)
	pdf.SetAuthor(v.User.Name, true)
	pdf.SetLang(lang)
	pdf.SetMargins(20, 20, 20)
	pdf.AddPage()
	pdf.SetFont(font, "B", 18)
	pdf.MultiCell(0, 9, web.T(lang, "diary.title"), "", "L", false)
	pdf.SetFont(font, "", 11)
	pdf.MultiCell(0, 6, v.User.Name+" – "+h.published().Course.Meta.Title, "", "L", false)
	pdf.Ln(4)
	last := ""
	for _, e := range entries {
		if e.Module != last {
			pdf.SetFont(font, "B", 14)
			pdf.MultiCell(0, 8, e.Module, "", "L", false)
			last = e.Module
		}
		pdf.SetFont(font, "B", 11)
		pdf.MultiCell(0, 6, e.Section+": "+e.Task, "", "L", false)
		pdf.SetFont(font, "I", 9)
		pdf.MultiCell(0, 5, web.T(lang, "diary.saved", i18n.DateTime(lang, e.Updated)), "", "L", false)
		pdf.SetFont(font, "", 11)
		pdf.MultiCell(0, 6, strings.TrimSpace(e.Text), "", "L", false)
		pdf.Ln(3)
	}
	if len(entries) == 0 {
		pdf.MultiCell(0, 6, web.T(lang, "diary.empty"), "", "L", false)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="oppimispaivakirja.pdf"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(buf.Bytes())
}

// playedFacts fills in what the server, not the player, knows of a played
// event: the item's duration, and which of the section's items its
// "video" rule waits for (its videos, or all its media when it has none).
func (h *studyHandlers) playedFacts(sec *course.Section, ev *study.Event) {
	if h.media == nil {
		return
	}
	snap := h.media.Snapshot()
	if it, ok := snap.Items[ev.Media]; ok {
		ev.Duration = it.Duration
		if ev.Duration <= 0 && ev.ReportedDuration > 0 && ev.ReportedDuration < 24*3600 {
			ev.Duration = ev.ReportedDuration // unknown to the catalog
		}
	}
	var videos, all []string
	for _, id := range sec.Body.Media {
		if it, ok := snap.Items[id]; ok && it.Playable() {
			all = append(all, id)
			if it.Kind == media.KindVideo {
				videos = append(videos, id)
			}
		}
	}
	ev.Required = videos
	if len(videos) == 0 {
		ev.Required = all
	}
}

// Offline sync: POST /api/v1/sync takes a device's queue (see study.Sync
// for the merge rules). Everything it names is resolved in the published
// course and applied to the signed-in learner only; the session's CSRF
// token is checked like on every learner route.

type apiSyncRequest struct {
	Device string        `json:"device"`
	Items  []apiSyncItem `json:"items"`
}

type apiSyncItem struct {
	Key  string `json:"key"`
	Seq  int64  `json:"seq"`
	Type string `json:"type"`
	// progress: the page and the event.
	Module  string      `json:"module"`
	Section string      `json:"section"`
	Event   study.Event `json:"event"`
	// answer: the task key, the text and the server copy's updated_at
	// the device last saw.
	Task string     `json:"task"`
	Text string     `json:"text"`
	Base *time.Time `json:"base"`
}

func (h *studyHandlers) apiSync(c *fiber.Ctx) error {
	var in apiSyncRequest
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "the body must be JSON: {\"device\": \"…\", \"items\": [{\"key\", \"seq\", \"type\": \"progress\" | \"answer\", …}]}")
	}
	if len(in.Items) > study.MaxSyncItems {
		return fiber.NewError(fiber.StatusRequestEntityTooLarge, fmt.Sprintf("at most %d items at a time", study.MaxSyncItems))
	}
	if !study.ValidSyncKey(in.Device) {
		return study.ErrSyncKey
	}
	pub := h.published()
	items := make([]study.SyncItem, 0, len(in.Items))
	for _, it := range in.Items {
		x := study.SyncItem{Key: it.Key, Seq: it.Seq, Type: it.Type}
		switch it.Type {
		case study.SyncProgress:
			if sec, err := h.findSection(pub, it.Module, it.Section); err == nil {
				x.Section, x.Event = sec, it.Event
				if x.Event.Kind == "played" {
					h.playedFacts(sec, &x.Event)
				}
			}
		case study.SyncAnswer:
			if sec, t, ok := pub.Course.FindTask(it.Task); ok {
				x.Section, x.TaskID, x.Text, x.Base = sec, t.ID, it.Text, it.Base
			}
		}
		items = append(items, x) // an item naming nothing in the course is rejected
	}
	res, err := h.progress.Sync(c.UserContext(), h.viewerOf(c).User.ID, in.Device, items)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"results": res})
}
