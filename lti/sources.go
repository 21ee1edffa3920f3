package lti

import (
	"context"
	"math"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
)

// Sources are where the scores come from: the published course, the
// learners' records and their exam attempts.
type Sources struct {
	Course   func() *course.Course
	Progress interface {
		ForUser(ctx context.Context, userID string) (map[string]*course.SectionProgress, error)
	}
	Attempts interface {
		ForUser(ctx context.Context, userID string) ([]*exam.Attempt, error)
	}
}

// ScoreOf is a person's score for a resource now: for the course and a
// module the share of sections done out of 100 (Completed and
// FullyGraded when all are done, InProgress and Pending before, nothing
// before the first), for the exam the best graded attempt's percent
// (the best, not the last, as the platforms' users ask), nothing before
// the first graded attempt.
func (src Sources) ScoreOf(ctx context.Context, userID, resource string) (Score, bool, error) {
	c := src.Course()
	if c == nil {
		return Score{}, false, nil
	}
	if resource == "exam" {
		attempts, err := src.Attempts.ForUser(ctx, userID)
		if err != nil {
			return Score{}, false, err
		}
		best := -1.0
		for _, a := range attempts {
			if a.Result != nil && a.Result.Percent > best {
				best = a.Result.Percent
			}
		}
		if best < 0 {
			return Score{}, false, nil
		}
		return Score{Given: math.Round(best*10) / 10, Maximum: 100, Activity: ActivityCompleted, Grading: GradingFullyGraded}, true, nil
	}
	records, err := src.Progress.ForUser(ctx, userID)
	if err != nil {
		return Score{}, false, err
	}
	mods, percent := c.Summarise(records)
	done, total := 0, 0
	for _, m := range mods {
		if resource == "course" || resource == "module:"+m.Module.Slug {
			done, total = done+m.Done, total+m.Total
			if resource != "course" {
				percent = m.Percent
			}
		}
	}
	if total == 0 || done == 0 {
		return Score{}, false, nil
	}
	if done == total {
		return Score{Given: 100, Maximum: 100, Activity: ActivityCompleted, Grading: GradingFullyGraded}, true, nil
	}
	return Score{Given: float64(percent), Maximum: 100, Activity: ActivityInProgress, Grading: GradingPending}, true, nil
}
