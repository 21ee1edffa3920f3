package xapi

import (
	"context"
	"time"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
)

// Sources are where a learner's statements come from: the published
// course, their records, their exam attempts and their certificates (any
// nil but Course: none of those).
type Sources struct {
	Course   func() *course.Course
	Progress interface {
		ForUser(ctx context.Context, userID string) (map[string]*course.SectionProgress, error)
	}
	Attempts interface {
		ForUser(ctx context.Context, userID string) ([]*exam.Attempt, error)
	}
	Certificates interface {
		ForUser(ctx context.Context, userID string) ([]*cert.Certificate, error)
	}
}

// Events are the statements a learner's records make now: experienced
// for each completed section, completed for each module whose every
// section is completed, answered and passed or failed for each submitted
// exam attempt, earned for each certificate not revoked. Each has its own
// key, so what was queued before is not queued again.
func (src Sources) Events(ctx context.Context, a Activities, userID string) ([]Event, error) {
	if src.Course == nil {
		return nil, nil
	}
	c := src.Course()
	if c == nil {
		return nil, nil
	}
	if a.CourseTitle == "" {
		a.CourseTitle = c.Meta.Title
	}
	courseAct := a.Course()
	var out []Event
	if src.Progress != nil {
		records, err := src.Progress.ForUser(ctx, userID)
		if err != nil {
			return nil, err
		}
		mods, _ := c.Summarise(records)
		for _, mp := range mods {
			m := mp.Module
			modAct := a.Module(m.Slug, m.Title)
			var last time.Time
			seconds := 0
			for _, s := range m.Sections {
				p := records[m.Slug+"/"+s.Slug]
				if p == nil || p.CompletedAt == nil {
					continue
				}
				if p.CompletedAt.After(last) {
					last = *p.CompletedAt
				}
				seconds += p.Seconds
				out = append(out, Event{Key: userID + "|experienced|" + m.Slug + "/" + s.Slug, UserID: userID, Verb: Experienced,
					Object: a.Section(m.Slug, s.Slug, s.Title), Result: &Result{Completion: yes(), Duration: Duration(time.Duration(p.Seconds) * time.Second)},
					Parent: &modAct, Grouping: &courseAct, At: *p.CompletedAt})
			}
			if mp.Completed && mp.Total > 0 {
				out = append(out, Event{Key: userID + "|completed|" + m.Slug, UserID: userID, Verb: Completed, Object: modAct,
					Result: &Result{Completion: yes(), Duration: Duration(time.Duration(seconds) * time.Second)}, Parent: &courseAct, At: last})
			}
		}
	}
	if src.Attempts != nil {
		attempts, err := src.Attempts.ForUser(ctx, userID)
		if err != nil {
			return nil, err
		}
		for _, at := range attempts {
			if at.Result == nil || at.Submitted == nil {
				continue
			}
			r := at.Result
			dur := Duration(at.Submitted.Sub(at.Started))
			out = append(out, Event{Key: userID + "|answered|" + at.ID, UserID: userID, Verb: Answered, Object: a.Exam(),
				Result: &Result{Completion: yes(), Duration: dur}, Parent: &courseAct, At: *at.Submitted})
			v := Failed
			if r.Passed {
				v = Passed
			}
			success := r.Passed
			out = append(out, Event{Key: userID + "|graded|" + at.ID, UserID: userID, Verb: v, Object: a.Exam(),
				Result: &Result{Score: &Score{Scaled: scaled(r.Score, float64(r.Max)), Raw: r.Score, Min: 0, Max: float64(r.Max)}, Success: &success, Completion: yes(), Duration: dur},
				Parent: &courseAct, At: at.Submitted.Add(time.Millisecond)}) // graded just after it was answered
		}
	}
	if src.Certificates != nil {
		certs, err := src.Certificates.ForUser(ctx, userID)
		if err != nil {
			return nil, err
		}
		for _, ct := range certs {
			if ct.Revoked != nil || ct.Withdrawn {
				continue
			}
			out = append(out, Event{Key: userID + "|earned|" + ct.ID, UserID: userID, Verb: Earned, Object: a.Certificate(ct.URL),
				Result: &Result{Success: yes(), Completion: yes()}, Parent: &courseAct, At: ct.Issued})
		}
	}
	return out, nil
}
