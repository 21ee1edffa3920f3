// Package exam is the final exam: drawing items from the bank, attempts
// with answers saved as the learner goes, grading on the server, the
// sweeper for overdue attempts, item statistics and the GIFT import. It
// knows nothing of HTTP.
package exam

import (
	"math"
	"slices"

	"github.com/tyokyky/tyokyky/course"
)

// Answer is a learner's answer to one item. Which field is used depends on
// the item's type: Choices for single (one id) and multiple choice, Value
// for true/false, Matches (left id → right id) for matching.
type Answer struct {
	Choices []string          `bson:"choices,omitempty" json:"choices,omitempty"`
	Value   *bool             `bson:"value,omitempty" json:"value,omitempty"`
	Matches map[string]string `bson:"matches,omitempty" json:"matches,omitempty"`
	// Seq orders a learner's saves of one item: a save with a lower Seq
	// than the stored one never overwrites it.
	Seq int64 `bson:"seq" json:"seq"`
}

// Score grades an answer to a drawn item, from 0 to 1.
//
// Multiple choice gives partial credit: each correct option chosen adds
// 1/k (k correct options) and each wrong option chosen takes away
// 1/(n−k) (n options), with the total never below 0. Choosing every
// option therefore scores 0, as does choosing none; all correct and no
// wrong ones scores 1. Matching scores the share of pairs matched right.
func Score(d *Drawn, a *Answer) float64 {
	if a == nil {
		return 0
	}
	switch d.Type {
	case course.ItemSingle:
		if len(a.Choices) == 1 && slices.Contains(d.Correct, a.Choices[0]) {
			return 1
		}
		return 0
	case course.ItemMultiple:
		k := len(d.Correct)
		wrong := len(d.Options) - k
		score := 0.0
		seen := map[string]bool{}
		for _, id := range a.Choices {
			if !slices.Contains(d.Options, id) || seen[id] {
				continue
			}
			seen[id] = true
			if slices.Contains(d.Correct, id) {
				score += 1 / float64(k)
			} else if wrong > 0 {
				score -= 1 / float64(wrong)
			}
		}
		return clamp01(score)
	case course.ItemTrueFalse:
		if a.Value != nil && d.Answer != nil && *a.Value == *d.Answer {
			return 1
		}
		return 0
	case course.ItemMatching:
		if len(d.LeftIDs) == 0 {
			return 0
		}
		right := 0
		for left, pair := range d.LeftIDs {
			if got, ok := a.Matches[left]; ok {
				if p, ok := d.RightIDs[got]; ok && p == pair {
					right++
				}
			}
		}
		return float64(right) / float64(len(d.LeftIDs))
	}
	return 0
}

func clamp01(x float64) float64 {
	// Rounded to 1e-9 so that 1/3+1/3+1/3 counts as fully right.
	x = math.Round(x*1e9) / 1e9
	return math.Max(0, math.Min(1, x))
}

// ItemResult is the grade of one item.
type ItemResult struct {
	Item    string  `bson:"item" json:"item"`
	Module  string  `bson:"module" json:"module"`
	Score   float64 `bson:"score" json:"score"`
	Correct bool    `bson:"correct" json:"correct"`
	// Answered is false for items left unanswered.
	Answered bool `bson:"answered" json:"answered"`
}

// Result is the grade of a submitted attempt.
type Result struct {
	Score   float64      `bson:"score" json:"score"`
	Max     int          `bson:"max" json:"max"`
	Percent float64      `bson:"percent" json:"percent"`
	Passed  bool         `bson:"passed" json:"passed"`
	Pass    int          `bson:"pass_percent" json:"pass_percent"`
	Items   []ItemResult `bson:"items" json:"items,omitempty"` // a learner sees them only as the review rule says (Summary)
}

// Grade scores every drawn item of an attempt against its answers.
func Grade(items []Drawn, answers map[string]*Answer, passPercent int) *Result {
	r := &Result{Max: len(items), Pass: passPercent}
	for i := range items {
		d := &items[i]
		a := answers[d.ID]
		s := Score(d, a)
		r.Score += s
		r.Items = append(r.Items, ItemResult{Item: d.ID, Module: d.Module, Score: s, Correct: s >= 1, Answered: answered(a)})
	}
	r.Score = math.Round(r.Score*100) / 100
	if r.Max > 0 {
		r.Percent = math.Round(r.Score/float64(r.Max)*1000) / 10
	}
	r.Passed = r.Max > 0 && r.Percent >= float64(passPercent)
	return r
}

func answered(a *Answer) bool {
	return a != nil && (len(a.Choices) > 0 || a.Value != nil || len(a.Matches) > 0)
}

// validAnswer checks an answer's shape against the drawn item: known ids
// only, one choice for single choice, and so on.
func validAnswer(d *Drawn, a *Answer) bool {
	switch d.Type {
	case course.ItemSingle, course.ItemMultiple:
		if a.Value != nil || len(a.Matches) > 0 || (d.Type == course.ItemSingle && len(a.Choices) > 1) || len(a.Choices) > len(d.Options) {
			return false
		}
		for i, id := range a.Choices {
			if !slices.Contains(d.Options, id) || slices.Contains(a.Choices[:i], id) {
				return false
			}
		}
		return true
	case course.ItemTrueFalse:
		return len(a.Choices) == 0 && len(a.Matches) == 0
	case course.ItemMatching:
		if len(a.Choices) > 0 || a.Value != nil || len(a.Matches) > len(d.LeftIDs) {
			return false
		}
		for left, right := range a.Matches {
			if _, ok := d.LeftIDs[left]; !ok {
				return false
			}
			if _, ok := d.RightIDs[right]; !ok && right != "" {
				return false
			}
		}
		return true
	}
	return false
}
