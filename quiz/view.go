package quiz

import (
	"time"

	"github.com/tyokyky/tyokyky/course"
)

// The learner's views of an attempt. ItemView carries no key: nothing in
// it says which option is correct or which sides of a matching item
// belong together (the options come in the attempt's shuffled order, the
// matching sides with the attempt's random ids).

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

// Views lists the attempt's items for answering.
func (a *Attempt) Views() []ItemView {
	out := make([]ItemView, 0, len(a.Items))
	for i := range a.Items {
		out = append(out, a.view(i))
	}
	return out
}

func (a *Attempt) view(i int) ItemView {
	d := &a.Items[i]
	it := &d.Item
	v := ItemView{Number: i + 1, ID: it.ID, Type: it.Type, StemHTML: it.StemHTML, Answer: a.Answers[it.ID]}
	for _, id := range d.OptionOrder {
		if o := it.Option(id); o != nil {
			v.Options = append(v.Options, Choice{ID: o.ID, Text: o.Text})
		}
	}
	for _, id := range d.LeftOrder {
		v.Lefts = append(v.Lefts, Choice{ID: id, Text: it.Pairs[d.LeftIDs[id]].Left})
	}
	for _, id := range d.RightOrder {
		v.Rights = append(v.Rights, Choice{ID: id, Text: it.Pairs[d.RightIDs[id]].Right})
	}
	return v
}

// Unanswered counts the items without an answer.
func (a *Attempt) Unanswered() int {
	n := 0
	for _, d := range a.Items {
		if !answered(a.Answers[d.Item.ID]) {
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

// ItemReview is a graded item: score and right/wrong always; the key and
// feedback only when shown.
type ItemReview struct {
	Number   int            `json:"number"`
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	StemHTML string         `json:"stem_html"`
	Score    float64        `json:"score"`
	Correct  bool           `json:"correct"`
	Answered bool           `json:"answered"`
	Choices  []ReviewChoice `json:"choices,omitempty"`
	Pairs    []ReviewPair   `json:"pairs,omitempty"`
	Value    *bool          `json:"value,omitempty"` // truefalse: the learner's answer
	Key      *bool          `json:"key,omitempty"`   // truefalse: the right answer, with keys
	Feedback string         `json:"feedback,omitempty"`
}

// ShowKeys decides whether a learner may see correct answers and feedback
// of a submitted attempt: by the rules, after passing or after the last
// attempt.
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

// Review lists a submitted attempt's items with their grades; keys and
// feedback only when keys is true.
func (a *Attempt) Review(keys bool) []ItemReview {
	if a.Result == nil {
		return nil
	}
	out := make([]ItemReview, 0, len(a.Items))
	for i := range a.Items {
		d := &a.Items[i]
		it := &d.Item
		ans := a.Answers[it.ID]
		if ans == nil {
			ans = &Answer{}
		}
		r := ItemReview{Number: i + 1, ID: it.ID, Type: it.Type, StemHTML: it.StemHTML}
		if i < len(a.Result.Items) {
			ir := a.Result.Items[i]
			r.Score, r.Correct, r.Answered = ir.Score, ir.Correct, ir.Answered
		}
		chosen := map[string]bool{}
		for _, c := range ans.Choices {
			chosen[c] = true
		}
		for _, id := range d.OptionOrder {
			o := it.Option(id)
			if o == nil {
				continue
			}
			rc := ReviewChoice{Choice: Choice{ID: o.ID, Text: o.Text}, Chosen: chosen[o.ID]}
			if keys {
				c := o.Correct
				rc.Correct, rc.Feedback = &c, o.Feedback
			}
			r.Choices = append(r.Choices, rc)
		}
		for _, l := range d.LeftOrder {
			p := it.Pairs[d.LeftIDs[l]]
			rp := ReviewPair{Left: p.Left}
			if got, ok := ans.Matches[l]; ok {
				if idx, ok := d.RightIDs[got]; ok {
					rp.Chosen = it.Pairs[idx].Right
				}
			}
			if keys {
				c := rp.Chosen == p.Right
				rp.Right, rp.Correct = p.Right, &c
			}
			r.Pairs = append(r.Pairs, rp)
		}
		if it.Type == course.ItemTrueFalse {
			r.Value = ans.Value
			if keys {
				r.Key = it.Answer
				if ans.Value != nil && *ans.Value {
					r.Feedback = it.FeedbackTrue
				} else if ans.Value != nil {
					r.Feedback = it.FeedbackFalse
				}
			}
		}
		if keys && it.Type == course.ItemMatching {
			r.Feedback = it.Feedback
		}
		out = append(out, r)
	}
	return out
}
