package exam

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/course"
)

// Item statistics follow Moodle's quiz statistics, computed from each
// learner's first submitted attempt only (later attempts are practised,
// not independent):
//
//   - facility index: the mean score of the item, 0–1 (the share who got
//     it right, with partial credit counted as such);
//   - discrimination index: the Pearson correlation between the item's
//     score and the score on the rest of the attempt (the total without
//     this item), −1 to 1; good items discriminate (≥ 0.3), items under
//     0.1 do not separate learners who know the course from those who do
//     not.
//
// Items with a facility over 0.9 (too easy) or under 0.2 (too hard, or a
// wrong key), or a discrimination under 0.1, are flagged.

// ItemStats are one item's figures.
type ItemStats struct {
	Item           string         `json:"item"`
	Module         string         `json:"module"`
	Type           string         `json:"type"`
	Attempts       int            `json:"attempts"` // first attempts in which it was drawn
	Facility       float64        `json:"facility"`
	Discrimination *float64       `json:"discrimination"` // nil when it cannot be computed (fewer than 2 attempts or no variance)
	Choices        map[string]int `json:"choices"`        // the bank's option id (a, b, c…; or "true"/"false", "unanswered") → times chosen
	Flags          []string       `json:"flags"`
}

// ExamStats are the figures of the whole exam.
type ExamStats struct {
	Attempts      int         `json:"attempts"`       // all submitted attempts
	Learners      int         `json:"learners"`       // learners with a submitted attempt
	FirstAttempts int         `json:"first_attempts"` // the population of the item figures
	Passed        int         `json:"passed"`         // submitted attempts that passed
	PassRate      float64     `json:"pass_rate"`      // passed / attempts
	MeanPercent   float64     `json:"mean_percent"`   // over all submitted attempts
	Distribution  [10]int     `json:"distribution"`   // attempts by score: 0–9 %, 10–19 %, … 90–100 %
	Items         []ItemStats `json:"items"`
}

// Flags.
const (
	FlagEasy           = "facility>0.9"
	FlagHard           = "facility<0.2"
	FlagNonDiscriminat = "discrimination<0.1"
)

// ComputeStats works out the statistics from submitted attempts.
func ComputeStats(attempts []*Attempt) *ExamStats {
	st := &ExamStats{}
	first := map[string]*Attempt{}
	learners := map[string]bool{}
	sum := 0.0
	for _, a := range attempts {
		if a.Status != StatusSubmitted || a.Result == nil {
			continue
		}
		st.Attempts++
		learners[a.UserID] = true
		sum += a.Result.Percent
		if a.Result.Passed {
			st.Passed++
		}
		bin := int(a.Result.Percent / 10)
		if bin > 9 {
			bin = 9
		}
		st.Distribution[bin]++
		if f := first[a.UserID]; f == nil || a.Number < f.Number {
			first[a.UserID] = a
		}
	}
	st.Learners = len(learners)
	st.FirstAttempts = len(first)
	if st.Attempts > 0 {
		st.PassRate = round3(float64(st.Passed) / float64(st.Attempts))
		st.MeanPercent = math.Round(sum/float64(st.Attempts)*10) / 10
	}
	type obs struct{ item, rest float64 }
	byItem := map[string][]obs{}
	meta := map[string]*ItemStats{}
	for _, a := range first {
		for i, r := range a.Result.Items {
			rest := a.Result.Score - r.Score
			byItem[r.Item] = append(byItem[r.Item], obs{r.Score, rest})
			is := meta[r.Item]
			if is == nil {
				d := &a.Items[i]
				is = &ItemStats{Item: r.Item, Module: r.Module, Type: d.Type, Choices: map[string]int{}, Flags: []string{}}
				meta[r.Item] = is
			}
			countChoices(is, a.Answers[r.Item], a.Drawn(r.Item))
		}
	}
	for id, os := range byItem {
		is := meta[id]
		is.Attempts = len(os)
		var sx, sy float64
		for _, o := range os {
			sx += o.item
			sy += o.rest
		}
		n := float64(len(os))
		is.Facility = round3(sx / n)
		if len(os) >= 2 {
			mx, my := sx/n, sy/n
			var cov, vx, vy float64
			for _, o := range os {
				cov += (o.item - mx) * (o.rest - my)
				vx += (o.item - mx) * (o.item - mx)
				vy += (o.rest - my) * (o.rest - my)
			}
			if vx > 0 && vy > 0 {
				d := round3(cov / math.Sqrt(vx*vy))
				is.Discrimination = &d
			}
		}
		if is.Facility > 0.9 {
			is.Flags = append(is.Flags, FlagEasy)
		}
		if is.Facility < 0.2 {
			is.Flags = append(is.Flags, FlagHard)
		}
		if is.Discrimination != nil && *is.Discrimination < 0.1 {
			is.Flags = append(is.Flags, FlagNonDiscriminat)
		}
		st.Items = append(st.Items, *is)
	}
	sort.Slice(st.Items, func(i, j int) bool {
		if st.Items[i].Module != st.Items[j].Module {
			return st.Items[i].Module < st.Items[j].Module
		}
		return st.Items[i].Item < st.Items[j].Item
	})
	return st
}

func countChoices(is *ItemStats, a *Answer, d *Drawn) {
	if !answered(a) {
		is.Choices["unanswered"]++
		return
	}
	// The attempt's own item decides how its answer reads: an author may
	// have changed an item's type under the same id since earlier
	// attempts were drawn.
	typ := is.Type
	if d != nil {
		typ = d.Type
	}
	switch typ {
	case course.ItemSingle, course.ItemMultiple:
		// By the bank's option ids: every attempt has ids of its own.
		for _, c := range a.Choices {
			if d != nil {
				c = d.BankOption(c)
			}
			is.Choices[c]++
		}
	case course.ItemTrueFalse:
		if a.Value != nil {
			is.Choices[strconv.FormatBool(*a.Value)]++
		}
	case course.ItemMatching:
		// Per pair: how often it was matched right.
		for l, r := range a.Matches {
			if d != nil && d.RightIDs[r] == d.LeftIDs[l] {
				is.Choices["pair "+strconv.Itoa(d.LeftIDs[l]+1)+" right"]++
			}
		}
	}
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// Stats loads every submitted attempt and computes the statistics.
func (s *Store) Stats(ctx context.Context) (*ExamStats, error) {
	cur, err := s.db.Collection(resultsCollection).Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("quiz: stats: %w", err)
	}
	var results []resultDoc
	if err := cur.All(ctx, &results); err != nil {
		return nil, fmt.Errorf("quiz: stats: %w", err)
	}
	all := make([]*Attempt, 0, len(results))
	for _, r := range results {
		d, err := s.drawnAttempt(ctx, r.ID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		a := *d
		a.Status, a.Submitted, a.ClosedBy, a.Result, a.Answers = StatusSubmitted, &r.Submitted, r.ClosedBy, r.Graded.V.Result, r.Graded.V.Answers
		all = append(all, &a)
	}
	return ComputeStats(all), nil
}

// WriteCSV writes the item statistics as CSV, a row per item.
func (st *ExamStats) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"item", "module", "type", "attempts", "facility", "discrimination", "flags", "choices"})
	for _, is := range st.Items {
		disc := ""
		if is.Discrimination != nil {
			disc = strconv.FormatFloat(*is.Discrimination, 'f', 3, 64)
		}
		keys := make([]string, 0, len(is.Choices))
		for k := range is.Choices {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var choices []string
		for _, k := range keys {
			choices = append(choices, fmt.Sprintf("%s=%d", k, is.Choices[k]))
		}
		_ = cw.Write([]string{is.Item, is.Module, is.Type, strconv.Itoa(is.Attempts), strconv.FormatFloat(is.Facility, 'f', 3, 64),
			disc, strings.Join(is.Flags, " "), strings.Join(choices, " ")})
	}
	cw.Flush()
	return cw.Error()
}
