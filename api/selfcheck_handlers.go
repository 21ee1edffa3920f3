package api

import (
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/study"
)

// selfCheckHandlers serve the sections' self-checks: the form is part of
// the (cached) section page; checking it is a post that answers with the
// result page, whose address carries the answers (so that it can be
// reloaded, linked and tested like any page). Nothing is graded or kept,
// except that a signed-in learner who answers every item right has the
// self-check marked done (and the section completed, when that is its
// rule).
type selfCheckHandlers struct {
	*core
	progress *study.Progress
}

// selfCheckView is a self-check form, empty on the section page or filled
// with the learner's answers and their results on the result page.
type selfCheckView struct {
	Lang    string
	Action  string
	CSRF    string
	Section *course.Section
	Items   []selfItemView
	// The result page only.
	Checked, Done, Recorded bool
	Right, Total            int
}

type selfItemView struct {
	ID, Type, Value string
	Number          int
	Stem            template.HTML
	Options         []selfOption // single and multiple choice
	Rows            []selfOption // matching: the left sides
	Rights          []selfOption // matching: the right sides, in alphabetical order
	// Results.
	Answered, Correct bool
	Feedback          []string
}

type selfOption struct {
	ID, Text, Selected string
	Checked            bool
}

// selfCheckOf is the view of a section's self-check with answers (nil:
// none yet) and their check.
func selfCheckOf(lang, csrf string, sec *course.Section, answers map[string]study.SelfAnswer, check *study.SelfCheck) *selfCheckView {
	if len(sec.Quiz) == 0 {
		return nil
	}
	v := &selfCheckView{Lang: lang, Action: sec.URL() + "/itsetesti", CSRF: csrf, Section: sec, Total: len(sec.Quiz)}
	for i, it := range sec.Quiz {
		a := answers[it.ID]
		iv := selfItemView{ID: it.ID, Type: it.Type, Number: i + 1, Stem: trusted(it.StemHTML)}
		switch it.Type {
		case course.ItemSingle, course.ItemMultiple:
			for _, o := range it.Options {
				iv.Options = append(iv.Options, selfOption{ID: o.ID, Text: o.Text, Checked: slices.Contains(a.Choices, o.ID)})
			}
		case course.ItemTrueFalse:
			if len(a.Choices) == 1 {
				iv.Value = a.Choices[0]
			}
		case course.ItemMatching:
			for j, p := range it.Pairs {
				sel := ""
				if j < len(a.Pairs) && a.Pairs[j] >= 0 {
					sel = strconv.Itoa(a.Pairs[j])
				}
				iv.Rows = append(iv.Rows, selfOption{ID: strconv.Itoa(j), Text: p.Left, Selected: sel})
				iv.Rights = append(iv.Rights, selfOption{ID: strconv.Itoa(j), Text: p.Right})
			}
			// The bank's order would give the pairs away.
			slices.SortFunc(iv.Rights, func(x, y selfOption) int { return strings.Compare(x.Text, y.Text) })
		}
		if check != nil {
			r := check.Results[i]
			iv.Answered, iv.Correct, iv.Feedback = r.Answered, r.Correct, r.Feedback
		}
		v.Items = append(v.Items, iv)
	}
	if check != nil {
		v.Checked, v.Done, v.Right = true, check.Done, check.Right
	}
	return v
}

// selfAnswers reads answers from form or query arguments: q-ITEM (an
// option id, several for multiple choice, true or false) and m-ITEM-N
// (the right side chosen for left side N of a matching item).
func selfAnswers(items []*course.ExamItem, args *fasthttp.Args) map[string]study.SelfAnswer {
	out := map[string]study.SelfAnswer{}
	for _, it := range items {
		var a study.SelfAnswer
		if it.Type == course.ItemMatching {
			for j := range it.Pairs {
				n, err := strconv.Atoi(string(args.Peek("m-" + it.ID + "-" + strconv.Itoa(j))))
				if err != nil || n < 0 || n >= len(it.Pairs) {
					n = -1
				}
				a.Pairs = append(a.Pairs, n)
			}
		} else {
			for _, v := range args.PeekMulti("q-" + it.ID) {
				if s := string(v); len(s) <= 5 && !slices.Contains(a.Choices, s) {
					a.Choices = append(a.Choices, s)
				}
			}
		}
		out[it.ID] = a
	}
	return out
}

// selfQuery is the answers as the result page's query.
func selfQuery(items []*course.ExamItem, answers map[string]study.SelfAnswer) url.Values {
	q := url.Values{}
	for _, it := range items {
		a := answers[it.ID]
		for _, ch := range a.Choices {
			q.Add("q-"+it.ID, ch)
		}
		for j, n := range a.Pairs {
			if n >= 0 {
				q.Set("m-"+it.ID+"-"+strconv.Itoa(j), strconv.Itoa(n))
			}
		}
	}
	return q
}

// submit checks a posted self-check and shows the result page. The post is not CSRF-checked by the
// route: anyone may check answers, which changes nothing; only a
// signed-in learner whose form carries the session's token has a
// self-check answered right marked done.
func (h *selfCheckHandlers) submit(c *fiber.Ctx) error {
	sec, err := h.findSection(h.published(), c.Params("module"), c.Params("section"))
	if err != nil {
		return err
	}
	if len(sec.Quiz) == 0 {
		return fiber.ErrNotFound
	}
	answers := selfAnswers(sec.Quiz, c.Request().PostArgs())
	check := study.CheckSelf(sec.Quiz, answers)
	q := selfQuery(sec.Quiz, answers)
	if v := h.viewerOf(c); check.Done && v.signedIn() && h.validCSRF(v, c.FormValue("csrf")) {
		if _, err := h.progress.RecordSelfCheck(c.UserContext(), v.User.ID, sec); err != nil {
			return err
		}
	}
	return c.Redirect(sec.URL()+"/itsetesti?"+q.Encode(), fiber.StatusSeeOther)
}

// result shows a checked self-check; without answers it leads to the form.
func (h *selfCheckHandlers) result(c *fiber.Ctx) error {
	sec, err := h.findSection(h.published(), c.Params("module"), c.Params("section"))
	if err != nil {
		return err
	}
	if len(sec.Quiz) == 0 {
		return fiber.ErrNotFound
	}
	args := c.Request().URI().QueryArgs()
	answers := selfAnswers(sec.Quiz, args)
	check := study.CheckSelf(sec.Quiz, answers)
	if len(selfQuery(sec.Quiz, answers)) == 0 {
		return c.Redirect(sec.URL()+"#itsetesti", fiber.StatusSeeOther)
	}
	v := selfCheckOf(h.lang(c), h.csrfToken(c), sec, answers, &check)
	if vw := h.viewerOf(c); vw.signedIn() && check.Done {
		all, err := h.progress.ForUser(c.UserContext(), vw.User.ID)
		if err != nil {
			return err
		}
		p := all[sec.Module.Slug+"/"+sec.Slug]
		v.Recorded = p != nil && p.SelfCheckDone != nil
	}
	return h.renderForm(c, fiber.StatusOK, "selfcheck", "selfcheck.title", v)
}
