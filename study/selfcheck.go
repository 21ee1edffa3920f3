package study

import (
	"context"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/course"
)

// SelfAnswer is a learner's answer to one self-check item: the chosen
// option ids (a, b, c… in the bank's order; "true" or "false" for a
// true/false item), or for a matching item the right side chosen for each
// left side (by the pairs' indexes, -1 for none).
type SelfAnswer struct {
	Choices []string
	Pairs   []int
}

// SelfResult is one item of a checked self-check.
type SelfResult struct {
	Item     *course.ExamItem
	Answer   SelfAnswer
	Answered bool
	Correct  bool
	// Feedback is what the bank says of the chosen options (or of the
	// chosen truth value), then the item's own feedback.
	Feedback []string
}

// SelfCheck is a checked self-check: never graded or stored, only told.
type SelfCheck struct {
	Results []SelfResult
	Right   int
	// Done: every item answered right.
	Done bool
}

// CheckSelf checks answers (by item id) against a section's self-check.
func CheckSelf(items []*course.ExamItem, answers map[string]SelfAnswer) SelfCheck {
	var out SelfCheck
	for _, it := range items {
		a := answers[it.ID]
		r := SelfResult{Item: it, Answer: a}
		switch it.Type {
		case course.ItemSingle, course.ItemMultiple:
			var want, got []string
			for _, o := range it.Options {
				if o.Correct {
					want = append(want, o.ID)
				}
				if slices.Contains(a.Choices, o.ID) {
					got = append(got, o.ID)
					if o.Feedback != "" {
						r.Feedback = append(r.Feedback, o.Feedback)
					}
				}
			}
			r.Answered = len(got) > 0
			r.Correct = r.Answered && slices.Equal(want, got) && len(got) == len(a.Choices)
		case course.ItemTrueFalse:
			if len(a.Choices) == 1 && (a.Choices[0] == "true" || a.Choices[0] == "false") {
				r.Answered = true
				v := a.Choices[0] == "true"
				r.Correct = it.Answer != nil && v == *it.Answer
				if fb := map[bool]string{true: it.FeedbackTrue, false: it.FeedbackFalse}[v]; fb != "" {
					r.Feedback = append(r.Feedback, fb)
				}
			}
		case course.ItemMatching:
			right := 0
			answered := 0
			for i := range it.Pairs {
				if i < len(a.Pairs) && a.Pairs[i] >= 0 && a.Pairs[i] < len(it.Pairs) {
					answered++
					if a.Pairs[i] == i {
						right++
					}
				}
			}
			r.Answered = answered > 0
			r.Correct = right == len(it.Pairs)
		}
		if it.Feedback != "" && r.Answered {
			r.Feedback = append(r.Feedback, it.Feedback)
		}
		if r.Correct {
			out.Right++
		}
		out.Results = append(out.Results, r)
	}
	out.Done = len(items) > 0 && out.Right == len(items)
	return out
}

// RecordSelfCheck notes that the learner answered the section's whole
// self-check right; a section completed by its self-check is completed.
// The first time stays.
func (p *Progress) RecordSelfCheck(ctx context.Context, userID string, sec *course.Section) (*course.SectionProgress, error) {
	now := p.now().UTC().Truncate(time.Millisecond)
	mins := bson.D{{Key: "self_check_done", Value: now}}
	if sec.Completion == course.CompleteOnQuiz {
		mins = append(mins, bson.E{Key: "completed_at", Value: now})
	}
	update := bson.D{
		{Key: "$setOnInsert", Value: bson.D{{Key: "user_id", Value: userID}, {Key: "module", Value: sec.Module.Slug}, {Key: "section", Value: sec.Slug}, {Key: "first_opened", Value: now}}},
		{Key: "$max", Value: bson.D{{Key: "last_opened", Value: now}}},
		{Key: "$min", Value: mins},
	}
	id := progressID(userID, sec.Module.Slug, sec.Slug)
	defer p.locks.Lock(id)()
	return p.upsert(ctx, userID, id, update)
}
