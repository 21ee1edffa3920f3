package api

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/web"
)

// The final exam: pages that work without JavaScript (every answer is a
// form field, saved by a plain post), the JSON API the pages' script uses
// for autosaving, and the authors' item bank and statistics.

// The problem (RFC 9457) a learner gets who may not start the exam yet:
// its type and code are stable, the modules still to complete are an
// extension member.
const (
	problemExamNotEligible = "tag:tyokyky,2026:problem:exam-not-eligible"
	codeExamNotEligible    = "exam_not_eligible"
)

// examError answers the exam's wait for the next attempt, whose message
// names the time; the exam's other refusals (internal/fault) are answered
// by the error handler like every domain refusal.
func examError(err error, lang string) error {
	var wait *exam.WaitError
	if errors.As(err, &wait) {
		return fiber.NewError(fiber.StatusConflict, web.T(lang, "exam.wait")+" "+i18n.DateTime(lang, wait.Until))
	}
	return err
}

// examHandlers serve the final exam: its pages, the attempts' JSON API,
// the authors' item bank and statistics, and the administrators' extra
// time for a learner.
type examHandlers struct {
	*core
	mail     *mailer // the notice of extra time
	exam     *exam.Store
	progress *study.Progress // the eligibility rule's records
}

// --- API -------------------------------------------------------------

type apiAttempt struct {
	*exam.Attempt
	Remaining *int               `json:"remaining_seconds,omitempty"`
	Items     []exam.ItemView    `json:"items,omitempty"`
	Review    []exam.ItemReview  `json:"review,omitempty"`
	Modules   []exam.ModuleScore `json:"modules,omitempty"`
	// Keys: by the review rule, the result shows which items were right,
	// the correct answers and the feedback; otherwise the result has the
	// total and the modules' totals only.
	Keys bool `json:"keys_shown"`
}

func (h *examHandlers) attemptJSON(c *fiber.Ctx, a *exam.Attempt) (*apiAttempt, error) {
	out := &apiAttempt{Attempt: a}
	if left, limited := a.Remaining(time.Now()); limited {
		sec := int(left.Seconds())
		out.Remaining = &sec
	}
	ex, err := h.examRules()
	if err != nil {
		return nil, err
	}
	if a.Status == exam.StatusOpen {
		out.Items = a.Views(ex)
		return out, nil
	}
	all, err := h.exam.ForUser(c.UserContext(), a.UserID)
	if err != nil {
		return nil, err
	}
	out.Keys = exam.ShowKeys(a, all, ex.Rules)
	out.Attempt = a.ForLearner(out.Keys)
	out.Review = a.Review(ex, out.Keys)
	out.Modules = a.Result.Modules(h.published().Course)
	return out, nil
}

// learnerResult is what a learner may see of the result of a, one of
// their attempts all: its items only as the review rule says. It is the
// core's: the learner's export (account_handlers.go) shows it too.
func (s *core) learnerResult(a *exam.Attempt, all []*exam.Attempt) *exam.Result {
	if pub := s.published(); pub != nil && pub.Course.Exam != nil && exam.ShowKeys(a, all, pub.Course.Exam.Rules) {
		return a.Result
	}
	return a.Result.Summary()
}

// startAttempt starts the learner's attempt, or resumes their open one,
// with their progress for the exam's eligibility rule.
func (h *examHandlers) startAttempt(ctx context.Context, userID string) (*exam.Attempt, bool, error) {
	pub := h.published()
	if pub == nil {
		return nil, false, exam.ErrNoExam
	}
	records, err := h.eligibilityRecords(ctx, pub, userID)
	if err != nil {
		return nil, false, err
	}
	return h.exam.Start(ctx, userID, pub, records)
}

// eligibilityRecords are the records the exam's eligibility rule reads:
// the learner's completions from their digest (one lookup), or, when
// those do not meet the rule, all their records (one lookup per section),
// whose completions then go to the digest for the next time.
func (h *examHandlers) eligibilityRecords(ctx context.Context, pub *course.Published, userID string) (map[string]*course.SectionProgress, error) {
	done, err := h.progress.Completions(ctx, userID)
	if err != nil {
		return nil, err
	}
	if len(pub.Course.ExamMissing(done)) == 0 {
		return done, nil
	}
	records, err := h.progress.ForUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	if len(pub.Course.ExamMissing(records)) == 0 {
		if err := h.progress.SaveCompletions(ctx, userID, records); err != nil {
			return nil, err
		}
	}
	return records, nil
}

// notEligible answers an API client whom the eligibility rule refuses an
// attempt: 403 with the modules still to complete.
func (h *examHandlers) notEligible(c *fiber.Ctx, ne *exam.NotEligibleError) error {
	mods := make([]fiber.Map, 0, len(ne.Modules))
	for _, m := range ne.Modules {
		mods = append(mods, fiber.Map{"slug": m.Slug, "title": m.Title, "url": m.URL()})
	}
	return h.writeProblem(c, problem{Type: problemExamNotEligible, Title: "The exam needs the course's modules completed", Status: fiber.StatusForbidden,
		Detail: ne.Error(), Ext: map[string]any{"code": codeExamNotEligible, "modules": mods}})
}

func (h *examHandlers) apiStartAttempt(c *fiber.Ctx) error {
	// Start or resume: 201 for a new attempt, 200 for the open one.
	return h.sendAttempt(c, func(ctx context.Context, userID, _ string) (*exam.Attempt, error) {
		a, created, err := h.startAttempt(ctx, userID)
		if err == nil {
			c.Location("/api/v1/exam/attempts/" + a.ID)
			if created {
				c.Status(fiber.StatusCreated)
			}
		}
		return a, err
	})
}

func (h *examHandlers) apiGetAttempt(c *fiber.Ctx) error {
	return h.sendAttempt(c, h.exam.Get)
}

// sendAttempt answers with the learner's attempt named in the path, as
// get (reading or submitting it) returns it.
func (h *examHandlers) sendAttempt(c *fiber.Ctx, get func(ctx context.Context, userID, attemptID string) (*exam.Attempt, error)) error {
	a, err := get(c.UserContext(), h.viewerOf(c).User.ID, c.Params("attempt"))
	var ne *exam.NotEligibleError
	if errors.As(err, &ne) {
		return h.notEligible(c, ne)
	}
	if err != nil {
		return examError(err, "en")
	}
	out, err := h.attemptJSON(c, a)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

func (h *examHandlers) apiSaveAnswer(c *fiber.Ctx) error {
	var ans exam.Answer
	if err := json.Unmarshal(c.Body(), &ans); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, `the body must be JSON: {"choices": […]} | {"value": true|false} | {"matches": {…}}, with "seq"`)
	}
	r, err := h.exam.SaveAnswer(c.UserContext(), h.viewerOf(c).User.ID, c.Params("attempt"), c.Params("item"), ans)
	if err != nil {
		return examError(err, "en")
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(r)
}

func (h *examHandlers) apiSubmitAttempt(c *fiber.Ctx) error {
	return h.sendAttempt(c, h.exam.Submit)
}

// apiExamItems is the bank with its keys, for authors and administrators.
func (h *examHandlers) apiExamItems(c *fiber.Ctx) error {
	ex, err := h.examRules()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"rules": ex.Rules, "items": ex.Items})
}

func (h *examHandlers) apiExamStats(c *fiber.Ctx) error {
	st, err := h.exam.Stats(c.UserContext())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if c.Query("format") == "csv" {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="tentti-tilastot.csv"`)
		return st.WriteCSV(c.Response().BodyWriter())
	}
	return c.JSON(st)
}

// --- Pages ------------------------------------------------------------

type examIntroData struct {
	Rules       course.ExamRules
	Items       int
	SignedIn    bool
	Open        *exam.Attempt
	Past        []*exam.Attempt
	AttemptsMax int
	Left        int
	Passed      *exam.Attempt
	Refusal     string
	TimeText    string
	// AllModules: the eligibility rule asks for every module completed;
	// Missing are the signed-in learner's modules still to complete.
	AllModules bool
	Missing    []course.ModuleProgress
	ReviewKey  string // the message that says what the review shows
}

// reviewKey is the message that tells learners what the review rule
// will show them.
func reviewKey(r course.ExamRules) string {
	switch r.Review {
	case course.ReviewAlways:
		return "exam.rule.review.always"
	case course.ReviewNever:
		return "exam.rule.review.never"
	}
	return "exam.rule.review"
}

func (h *examHandlers) examPage(c *fiber.Ctx) error {
	return h.examIntro(c, fiber.StatusOK, "")
}

// examIntro renders the exam's page with a status and a refusal to show.
func (h *examHandlers) examIntro(c *fiber.Ctx, status int, refusal string) error {
	ex, err := h.examRules()
	if err != nil {
		return err
	}
	lang := h.lang(c)
	pub := h.published()
	d := &examIntroData{Rules: ex.Rules, Items: ex.Rules.PerModule * len(pub.Course.Modules), AttemptsMax: ex.Rules.Attempts,
		AllModules: ex.Rules.Eligibility != course.EligibleNone, ReviewKey: reviewKey(ex.Rules)}
	d.TimeText = web.T(lang, "exam.notime")
	if ex.Rules.TimeLimit > 0 {
		d.TimeText = web.TN(lang, "exam.time", ex.Rules.TimeLimit)
	}
	if v := h.viewerOf(c); v.signedIn() && h.exam != nil {
		d.SignedIn = true
		past, err := h.exam.ForUser(c.UserContext(), v.User.ID)
		if err != nil {
			return err
		}
		d.Past = past
		d.Left = ex.Rules.Attempts - len(past)
		for _, a := range past {
			if a.Status == exam.StatusOpen {
				d.Open = a
				d.Left++ // the open one is not used up yet
			}
			if a.Result != nil && a.Result.Passed {
				d.Passed = a
			}
		}
		if d.Left < 0 {
			d.Left = 0
		}
		d.Refusal = refusal
		records, err := h.eligibilityRecords(c.UserContext(), pub, v.User.ID)
		if err != nil {
			return err
		}
		if missing := pub.Course.ExamMissing(records); len(missing) > 0 {
			mods, _ := pub.Course.Summarise(records)
			for _, mp := range mods {
				if slices.Contains(missing, mp.Module) {
					d.Missing = append(d.Missing, mp)
				}
			}
		}
	}
	return h.renderForm(c, status, "exam", "exam.title", d)
}

func (h *examHandlers) examStart(c *fiber.Ctx) error {
	lang := h.lang(c)
	a, _, err := h.startAttempt(c.UserContext(), h.viewerOf(c).User.ID)
	if errors.Is(err, exam.ErrNotEligible) {
		// No attempt: the exam's page again, with the modules to complete.
		return h.examIntro(c, fiber.StatusForbidden, web.T(lang, exam.ErrNotEligible.MessageKey()))
	}
	if err != nil {
		// A refusal is shown on the exam's page, with its status.
		if status, msg, ok := h.refused(c, examError(err, lang)); ok {
			return h.examIntro(c, status, msg)
		}
		return err
	}
	return c.Redirect("/tentti/"+a.ID, fiber.StatusSeeOther)
}

// examItemView is an item on the exam page, with the learner's answer
// marked in its form controls.
type examItemView struct {
	Number   int
	ID, Type string
	Stem     template.HTML
	Options  []examChoiceView
	Value    string // truefalse: "true", "false" or ""
	Rows     []examMatchRow
	Rights   []exam.Choice
	Answered bool
}

type examChoiceView struct {
	ID, Text string
	Checked  bool
}

type examMatchRow struct {
	ID, Text, Selected string
}

func itemViews(a *exam.Attempt, ex *course.Exam) []examItemView {
	var out []examItemView
	for _, v := range a.Views(ex) {
		iv := examItemView{Number: v.Number, ID: v.ID, Type: v.Type, Stem: trusted(v.StemHTML), Rights: v.Rights, Answered: v.Answered()}
		ans := v.Answer
		if ans == nil {
			ans = &exam.Answer{}
		}
		for _, o := range v.Options {
			iv.Options = append(iv.Options, examChoiceView{ID: o.ID, Text: o.Text, Checked: slices.Contains(ans.Choices, o.ID)})
		}
		if ans.Value != nil {
			iv.Value = strconv.FormatBool(*ans.Value)
		}
		for _, l := range v.Lefts {
			iv.Rows = append(iv.Rows, examMatchRow{ID: l.ID, Text: l.Text, Selected: ans.Matches[l.ID]})
		}
		out = append(out, iv)
	}
	return out
}

type examAttemptData struct {
	Attempt    *exam.Attempt
	Items      []examItemView
	One        bool // one item per page
	Index      int  // the item shown (one per page), 0-based
	Prev, Next int
	Unanswered int
	Deadline   string
	Remaining  int
	Limited    bool
	Notice     string
	Submitted  bool
	Keys       bool
	NoKeys     string // the message that says what the review rule withholds
	Review     []examReview
	Result     *exam.Result
	Modules    []exam.ModuleScore
	Left       int
}

// examReview is a submitted item on the results page: whether it was
// right (Shown, Right, Points) only when the review rule shows it.
type examReview struct {
	exam.ItemReview
	Stem   template.HTML
	Shown  bool
	Right  bool
	Points float64
}

func reviews(rs []exam.ItemReview) []examReview {
	out := make([]examReview, 0, len(rs))
	for _, r := range rs {
		er := examReview{ItemReview: r, Stem: trusted(r.StemHTML), Shown: r.Score != nil}
		if r.Score != nil {
			er.Points = *r.Score
		}
		if r.Correct != nil {
			er.Right = *r.Correct
		}
		out = append(out, er)
	}
	return out
}

// learnerAttempt is the signed-in learner's attempt named in the path,
// closed first if its time has run out.
func (h *examHandlers) learnerAttempt(c *fiber.Ctx) (*exam.Attempt, error) {
	a, err := h.exam.Get(c.UserContext(), h.viewerOf(c).User.ID, c.Params("attempt"))
	if err == nil {
		a, err = h.exam.CloseIfLate(c.UserContext(), a)
	}
	if err != nil {
		return nil, examError(err, h.lang(c))
	}
	return a, nil
}

func (h *examHandlers) attemptData(c *fiber.Ctx, a *exam.Attempt) *examAttemptData {
	var ex *course.Exam
	if pub := h.published(); pub != nil {
		ex = pub.Course.Exam
	}
	d := &examAttemptData{Attempt: a, Items: itemViews(a, ex), Unanswered: a.Unanswered()}
	if left, limited := a.Remaining(time.Now()); limited {
		d.Limited, d.Remaining = true, int(left.Seconds())
		d.Deadline = i18n.Clock(h.lang(c), *a.Deadline)
	}
	d.One = c.Query("nakyma") == "yksi"
	if d.One {
		d.Index, _ = strconv.Atoi(c.Query("kysymys", "1"))
		d.Index--
		if d.Index < 0 || d.Index >= len(d.Items) {
			d.Index = 0
		}
		d.Prev, d.Next = d.Index, d.Index+2
	}
	return d
}

func (h *examHandlers) examAttemptPage(c *fiber.Ctx) error {
	a, err := h.learnerAttempt(c)
	if err != nil {
		return err
	}
	if a.Status != exam.StatusOpen {
		return c.Redirect("/tentti/"+a.ID+"/tulos", fiber.StatusSeeOther)
	}
	d := h.attemptData(c, a)
	if c.Query("tallennettu") != "" {
		d.Notice = web.T(h.lang(c), "exam.saved")
	}
	return h.renderPrivate(c, "exam_attempt", "exam.title", d)
}

// formAnswers reads the answers of a posted exam form: q-ITEM fields
// (one value for single choice and true/false, several for multiple
// choice) and q-ITEM-LEFT for matching.
func formAnswers(c *fiber.Ctx, a *exam.Attempt, seq int64) map[string]exam.Answer {
	args := c.Request().PostArgs()
	out := map[string]exam.Answer{}
	for i := range a.Items {
		d := &a.Items[i]
		id := d.ID
		name := "q-" + id
		present := args.Has(name) || args.Has(name+"-shown")
		if !present {
			continue // not on this page (one item per page)
		}
		ans := exam.Answer{Seq: seq}
		switch d.Type {
		case course.ItemSingle, course.ItemMultiple:
			for _, v := range args.PeekMulti(name) {
				ans.Choices = append(ans.Choices, string(v))
			}
		case course.ItemTrueFalse:
			switch string(args.Peek(name)) {
			case "true":
				t := true
				ans.Value = &t
			case "false":
				f := false
				ans.Value = &f
			}
		case course.ItemMatching:
			ans.Matches = map[string]string{}
			for _, l := range d.Lefts {
				if v := string(args.Peek(name + "-" + l)); v != "" {
					ans.Matches[l] = v
				}
			}
		}
		out[id] = ans
	}
	return out
}

// examSave saves a posted page of answers, then goes where the learner
// asked: the same page, the previous or next item, or the check before
// submitting.
func (h *examHandlers) examSave(c *fiber.Ctx) error {
	a, err := h.learnerAttempt(c)
	if err != nil {
		return err
	}
	lang := h.lang(c)
	seq := time.Now().UnixMilli()
	for item, ans := range formAnswers(c, a, seq) {
		if _, err := h.exam.SaveAnswer(c.UserContext(), a.UserID, a.ID, item, ans); err != nil {
			if errors.Is(err, exam.ErrClosed) || errors.Is(err, exam.ErrLate) {
				return c.Redirect("/tentti/"+a.ID+"/tulos", fiber.StatusSeeOther)
			}
			return examError(err, lang)
		}
	}
	base := "/tentti/" + a.ID
	switch c.FormValue("siirry") {
	case "tarkista":
		return c.Redirect(base+"/tarkista", fiber.StatusSeeOther)
	case "":
		if c.FormValue("nakyma") == "yksi" {
			return c.Redirect(base+"?nakyma=yksi&kysymys="+urlQueryEscape(c.FormValue("kysymys"))+"&tallennettu=1", fiber.StatusSeeOther)
		}
		return c.Redirect(base+"?tallennettu=1", fiber.StatusSeeOther)
	default:
		n, err := strconv.Atoi(c.FormValue("siirry"))
		if err != nil || n < 1 || n > len(a.Items) {
			return fiber.NewError(fiber.StatusBadRequest, "unknown item number")
		}
		return c.Redirect(base+"?nakyma=yksi&kysymys="+strconv.Itoa(n), fiber.StatusSeeOther)
	}
}

func (h *examHandlers) examCheckPage(c *fiber.Ctx) error {
	a, err := h.learnerAttempt(c)
	if err != nil {
		return err
	}
	if a.Status != exam.StatusOpen {
		return c.Redirect("/tentti/"+a.ID+"/tulos", fiber.StatusSeeOther)
	}
	return h.renderPrivate(c, "exam_check", "exam.check.title", h.attemptData(c, a))
}

func (h *examHandlers) examSubmit(c *fiber.Ctx) error {
	a, err := h.exam.Submit(c.UserContext(), h.viewerOf(c).User.ID, c.Params("attempt"))
	if err != nil {
		return examError(err, h.lang(c))
	}
	return c.Redirect("/tentti/"+a.ID+"/tulos", fiber.StatusSeeOther)
}

func (h *examHandlers) examResultPage(c *fiber.Ctx) error {
	a, err := h.learnerAttempt(c)
	if err != nil {
		return err
	}
	if a.Status == exam.StatusOpen {
		return c.Redirect("/tentti/"+a.ID, fiber.StatusSeeOther)
	}
	ex, err := h.examRules()
	if err != nil {
		return err
	}
	all, err := h.exam.ForUser(c.UserContext(), a.UserID)
	if err != nil {
		return err
	}
	d := h.attemptData(c, a)
	d.Keys = exam.ShowKeys(a, all, ex.Rules)
	d.Submitted, d.Result = true, a.ForLearner(d.Keys).Result
	d.NoKeys = "exam.result.nokeys"
	if ex.Rules.Review == course.ReviewNever {
		d.NoKeys = "exam.result.nokeys.never"
	}
	d.Modules = a.Result.Modules(h.published().Course)
	d.Review = reviews(a.Review(ex, d.Keys))
	d.Left = ex.Rules.Attempts - len(all)
	if d.Left < 0 {
		d.Left = 0
	}
	return h.renderPrivate(c, "exam_result", "exam.result.title", d)
}

// adminExtension grants a learner more time or no limit (WCAG 2.2.1).
func (h *examHandlers) adminExtension(c *fiber.Ctx) error {
	u, err := h.accounts.User(c.UserContext(), c.Params("user"))
	if err != nil {
		return fiber.ErrNotFound
	}
	ex, err := h.examRules()
	if err != nil {
		return err
	}
	minutes, err := strconv.Atoi(strings.TrimSpace(c.FormValue("minutes", "0")))
	if err != nil || minutes < 0 || minutes > 1440 {
		return fiber.NewError(fiber.StatusBadRequest, "extra time must be 0–1440 minutes")
	}
	noLimit := c.FormValue("no_limit") == "1"
	if err := h.exam.SetExtension(c.UserContext(), u.ID, h.viewerOf(c).User.ID, minutes, noLimit, ex.Rules); err != nil {
		return err
	}
	detail := strconv.Itoa(minutes) + " min"
	if noLimit {
		detail = "no limit"
	}
	h.audit(c, "exam.extension", u.ID, detail)
	extension := web.TN(u.MailLang(), "mail.extension.minutes", minutes)
	if noLimit {
		extension = web.T(u.MailLang(), "mail.extension.nolimit")
	}
	h.mail.notify(c.UserContext(), u, "exam_extension", map[string]string{"extension": extension})
	return c.Redirect("/yllapito/kayttajat?ilmoitus=tentti&q="+urlQueryEscape(u.Email), fiber.StatusSeeOther)
}
