package report

import (
	"fmt"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/study"
)

// Synthetic is a population of n learners with about perLearner progress
// records each, spread over the organisations, for benchmarks and load
// tests (deterministic).
func Synthetic(c *course.Course, n, perLearner int) Input {
	in := Input{Course: c}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var sections []*course.Section
	for _, m := range c.Modules {
		sections = append(sections, m.Sections...)
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("synthetic-%06d", i)
		created := start.Add(time.Duration(i%300) * 24 * time.Hour)
		in.Learners = append(in.Learners, account.LearnerRow{ID: id, Organisation: account.Organisations[i%len(account.Organisations)],
			Role: account.RoleLearner, CreatedAt: created, LastActive: created.Add(time.Duration(i%40) * 24 * time.Hour)})
		for k := 0; k < perLearner && k < len(sections); k++ {
			s := sections[(i+k)%len(sections)]
			rec := study.RecordRow{UserID: id, Module: s.Module.Slug, Section: s.Slug, Seconds: 60 * (1 + (i+k)%30)}
			if (i+k)%3 != 0 {
				done := created.Add(time.Duration(k) * time.Hour)
				rec.Completed = &done
			}
			in.Records = append(in.Records, rec)
		}
		if i%4 == 0 {
			last := created.Add(48 * time.Hour)
			in.Outcomes = append(in.Outcomes, exam.OutcomeRow{UserID: id, Attempts: 1 + i%3, Passed: i%8 == 0, LastSubmitted: &last})
			if i%8 == 0 {
				in.Issued = append(in.Issued, cert.IssuedRow{UserID: id, Issued: last})
			}
		}
	}
	return in
}
