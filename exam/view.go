package exam

import (
	"math"
	"slices"
	"time"

	"github.com/tyokyky/tyokyky/course"
)

// The learner's views of an attempt. ItemView carries no key: nothing in
// it says which option is correct or which sides of a matching item
// belong together (the options come in the attempt's shuffled order with
// the attempt's random ids, as do the matching sides).

// Choice is an option, or a side of a matching item.
type Choice struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// ItemView is a drawn item as the learner sees it while answering.
type ItemView struct {
	Number   int      `json:"number"`
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	StemHTML string   `json:"stem_html"`
	Options  []Choice `json:"options,omitempty"`     // single and multiple choice
	Lefts    []Choice `json:"lefts,omitempty"`       // matching
	Rights   []Choice `json:"rights,omitempty"`      // matching
	Answer   *Answer  `json:"your_answer,omitempty"` // the learner's stored answer
}

// Answered reports whether the learner has answered the item.
func (v ItemView) Answered() bool { return answered(v.Answer) }

// withdrawn stands for a text the bank no longer has (an item or option
// removed while an attempt was under way; the item still counts by the
// key it was drawn with).
const withdrawn = "–"

func bankItem(ex *course.Exam, id string) *course.ExamItem {
	if ex != nil {
		if it, ok := ex.ByID[id]; ok {
			return it
		}
	}
	return &course.ExamItem{ID: id, StemHTML: "<p>" + withdrawn + "</p>"}
}

func optionText(it *course.ExamItem, id string) (string, string) {
	if o := it.Option(id); o != nil {
		return o.Text, o.Feedback
	}
	return withdrawn, ""
}

func pairText(it *course.ExamItem, i int) course.ExamPair {
	if i >= 0 && i < len(it.Pairs) {
		return it.Pairs[i]
	}
	return course.ExamPair{Left: withdrawn, Right: withdrawn}
}

// Views lists the attempt's items for answering, with the texts of the
// bank ex.
func (a *Attempt) Views(ex *course.Exam) []ItemView {
	out := make([]ItemView, 0, len(a.Items))
	for i := range a.Items {
		d := &a.Items[i]
		it := bankItem(ex, d.ID)
		v := ItemView{Number: i + 1, ID: d.ID, Type: d.Type, StemHTML: it.StemHTML, Answer: a.Answers[d.ID]}
		for _, id := range d.Options {
			text, _ := optionText(it, d.BankOption(id))
			v.Options = append(v.Options, Choice{ID: id, Text: text})
		}
		for _, id := range d.Lefts {
			v.Lefts = append(v.Lefts, Choice{ID: id, Text: pairText(it, d.LeftIDs[id]).Left})
		}
		for _, id := range d.Rights {
			v.Rights = append(v.Rights, Choice{ID: id, Text: pairText(it, d.RightIDs[id]).Right})
		}
		out = append(out, v)
	}
	return out
}

// Unanswered counts the items without an answer.
func (a *Attempt) Unanswered() int {
	n := 0
	for _, d := range a.Items {
		if !answered(a.Answers[d.ID]) {
			n++
		}
	}
	return n
}

// Remaining is the time left, and whether there is a limit.
func (a *Attempt) Remaining(now time.Time) (time.Duration, bool) {
	if a.Deadline == nil {
		return 0, false
	}
	d := a.Deadline.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}

// ReviewChoice is an option in review: what the learner chose and, when
// the rules show keys, whether it is correct and its feedback.
type ReviewChoice struct {
	Choice
	Chosen   bool   `json:"chosen"`
	Correct  *bool  `json:"correct,omitempty"`
	Feedback string `json:"feedback,omitempty"`
}

// ReviewPair is a matching item's left side in review.
type ReviewPair struct {
	Left    string `json:"left"`
	Chosen  string `json:"chosen"`            // the right side the learner matched
	Right   string `json:"right,omitempty"`   // the correct right side, with keys
	Correct *bool  `json:"correct,omitempty"` // with keys
}

// ItemReview is a submitted item with the learner's answer. Its score,
// whether it was right, the key and the feedback are there only when the
// review rule shows them (ShowKeys): otherwise nothing in it says which
// items were right.
type ItemReview struct {
	Number   int            `json:"number"`
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	StemHTML string         `json:"stem_html"`
	Score    *float64       `json:"score,omitempty"`   // when shown
	Correct  *bool          `json:"correct,omitempty"` // when shown: full marks
	Answered bool           `json:"answered"`
	Choices  []ReviewChoice `json:"choices,omitempty"`
	Pairs    []ReviewPair   `json:"pairs,omitempty"`
	Value    *bool          `json:"value,omitempty"` // truefalse: the learner's answer
	Key      *bool          `json:"key,omitempty"`   // truefalse: the right answer, with keys
	Feedback string         `json:"feedback,omitempty"`
}

// ShowKeys decides, by the review rule, whether a learner may see which
// items of a submitted attempt were right (with their scores), the
// correct answers and the feedback: always, never, or after passing or
// after the last attempt. Otherwise the learner sees the total score and
// the modules' totals (Summary, Modules) only.
func ShowKeys(a *Attempt, all []*Attempt, r course.ExamRules) bool {
	if a.Status != StatusSubmitted || a.Result == nil {
		return false
	}
	switch r.Review {
	case course.ReviewAlways:
		return true
	case course.ReviewNever:
		return false
	}
	if a.Result.Passed {
		return true
	}
	submitted := 0
	for _, x := range all {
		if x.Status == StatusSubmitted {
			submitted++
		}
	}
	return submitted >= r.Attempts
}

// Review lists a submitted attempt's items with the learner's answers and
// the bank's texts; their grades, keys and feedback only when keys is
// true (ShowKeys).
func (a *Attempt) Review(ex *course.Exam, keys bool) []ItemReview {
	if a.Result == nil {
		return nil
	}
	out := make([]ItemReview, 0, len(a.Items))
	for i := range a.Items {
		d := &a.Items[i]
		it := bankItem(ex, d.ID)
		ans := a.Answers[d.ID]
		if ans == nil {
			ans = &Answer{}
		}
		r := ItemReview{Number: i + 1, ID: d.ID, Type: d.Type, StemHTML: it.StemHTML}
		r.Answered = answered(a.Answers[d.ID])
		if i < len(a.Result.Items) {
			ir := a.Result.Items[i]
			r.Answered = ir.Answered
			if keys {
				score, correct := ir.Score, ir.Correct
				r.Score, r.Correct = &score, &correct
			}
		}
		for _, id := range d.Options {
			text, feedback := optionText(it, d.BankOption(id))
			rc := ReviewChoice{Choice: Choice{ID: id, Text: text}, Chosen: slices.Contains(ans.Choices, id)}
			if keys {
				c := slices.Contains(d.Correct, id)
				rc.Correct, rc.Feedback = &c, feedback
			}
			r.Choices = append(r.Choices, rc)
		}
		for _, l := range d.Lefts {
			p := pairText(it, d.LeftIDs[l])
			rp := ReviewPair{Left: p.Left}
			right, chose := -1, false
			if got, ok := ans.Matches[l]; ok {
				if idx, ok := d.RightIDs[got]; ok {
					rp.Chosen, right, chose = pairText(it, idx).Right, idx, true
				}
			}
			if keys {
				c := chose && right == d.LeftIDs[l]
				rp.Right, rp.Correct = p.Right, &c
			}
			r.Pairs = append(r.Pairs, rp)
		}
		if d.Type == course.ItemTrueFalse {
			r.Value = ans.Value
			if keys {
				r.Key = d.Answer
				if ans.Value != nil && *ans.Value {
					r.Feedback = it.FeedbackTrue
				} else if ans.Value != nil {
					r.Feedback = it.FeedbackFalse
				}
			}
		}
		if keys && d.Type == course.ItemMatching {
			r.Feedback = it.Feedback
		}
		out = append(out, r)
	}
	return out
}

// Summary is the result without its items: what a learner sees of an
// attempt whose items the review rule does not show (ShowKeys).
func (r *Result) Summary() *Result {
	if r == nil {
		return nil
	}
	c := *r
	c.Items = nil
	return &c
}

// ModuleScore is one module's share of a graded attempt.
type ModuleScore struct {
	Module string  `json:"module"` // slug
	Title  string  `json:"title"`
	Score  float64 `json:"score"`
	Max    int     `json:"max"`
}

// Modules totals the result by module, in the order the items were drawn
// (the course's), with the titles of course c (a module the course no
// longer has is named by its slug).
func (r *Result) Modules(c *course.Course) []ModuleScore {
	if r == nil {
		return nil
	}
	var out []ModuleScore
	at := map[string]int{}
	for _, ir := range r.Items {
		i, ok := at[ir.Module]
		if !ok {
			title := ir.Module
			if c != nil {
				if m, found := c.AnyModule(ir.Module); found {
					title = m.Title
				}
			}
			i = len(out)
			at[ir.Module] = i
			out = append(out, ModuleScore{Module: ir.Module, Title: title})
		}
		out[i].Score += ir.Score
		out[i].Max++
	}
	for i := range out {
		out[i].Score = math.Round(out[i].Score*100) / 100
	}
	return out
}

// ForLearner is the attempt as its learner may see it: with keys false
// (ShowKeys) its result carries no items, so nothing says which were
// right.
func (a *Attempt) ForLearner(keys bool) *Attempt {
	if keys || a.Result == nil {
		return a
	}
	c := *a
	c.Result = a.Result.Summary()
	return &c
}
