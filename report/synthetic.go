package report

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/database"
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

// SeedUnit is a unit synthetic learners are put in.
type SeedUnit struct {
	OrgID, OrgName, UnitID string
}

// Population is the size of a synthetic population written into a store.
type Population struct {
	Learners     int        // accounts (learners), spread evenly over Units
	Units        []SeedUnit // at least one
	PerLearner   int        // progress records a learner, at sections of the course
	Attempts     int        // learners with a submitted exam attempt (every fourth learner, up to this)
	Certificates int        // certificates, of those who passed (every eighth learner, up to this)
}

// Seed writes a synthetic population into the stores' own collections
// (users and their address keys, progress, exam_learners, certificates and their attempts'
// claims) in batches, past the
// stores: its summaries are then made by Summaries.Rebuild, as an
// upgrade makes them. Deterministic; for benchmarks.
func Seed(ctx context.Context, db *database.DB, c *course.Course, p Population) (written int, err error) {
	var sections []*course.Section
	for _, m := range c.Modules {
		sections = append(sections, m.Sections...)
	}
	if len(sections) == 0 || len(p.Units) == 0 {
		return 0, fmt.Errorf("report: seed: no sections or no units")
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := map[string][]any{}
	flush := func(coll string, force bool) error {
		docs := batch[coll]
		if len(docs) == 0 || !force && len(docs) < 1000 {
			return nil
		}
		if _, err := db.Collection(coll).InsertMany(ctx, docs); err != nil {
			return fmt.Errorf("report: seed %s: %w", coll, err)
		}
		written += len(docs)
		batch[coll] = docs[:0]
		return nil
	}
	add := func(coll string, doc bson.D) error {
		batch[coll] = append(batch[coll], doc)
		return flush(coll, false)
	}
	attempts, certs := 0, 0
	for i := 0; i < p.Learners; i++ {
		id := fmt.Sprintf("synthetic-%06d", i)
		u := p.Units[i%len(p.Units)]
		created := start.Add(time.Duration(i%300) * 24 * time.Hour)
		if err := add("users", bson.D{{Key: "_id", Value: id}, {Key: "email", Value: id + "@example.fi"}, {Key: "name", Value: "Synteettinen Oppija"},
			{Key: "organisation", Value: u.OrgName}, {Key: "org_id", Value: u.OrgID}, {Key: "unit_id", Value: u.UnitID}, {Key: "role", Value: account.RoleLearner},
			{Key: "disabled", Value: false}, {Key: "created_at", Value: created}, {Key: "last_active", Value: created.Add(time.Duration(i%40) * 24 * time.Hour)}}); err != nil {
			return written, err
		}
		if err := add("user_emails", bson.D{{Key: "_id", Value: id + "@example.fi"}, {Key: "user_id", Value: id}}); err != nil {
			return written, err
		}
		for k := 0; k < p.PerLearner && k < len(sections); k++ {
			s := sections[(i+k)%len(sections)]
			d := bson.D{{Key: "_id", Value: id + "|" + s.Module.Slug + "/" + s.Slug}, {Key: "user_id", Value: id}, {Key: "module", Value: s.Module.Slug},
				{Key: "section", Value: s.Slug}, {Key: "first_opened", Value: created}, {Key: "last_opened", Value: created}, {Key: "seconds", Value: 60 * (1 + (i+k)%30)}}
			if (i+k)%3 != 0 {
				d = append(d, bson.E{Key: "completed_at", Value: created.Add(time.Duration(k) * time.Hour)})
			}
			if err := add("progress", d); err != nil {
				return written, err
			}
		}
		if i%4 == 0 && attempts < p.Attempts {
			attempts++
			last := created.Add(48 * time.Hour)
			attempt := id + "-a1"
			if err := add("exam_learners", bson.D{{Key: "_id", Value: id}, {Key: "n", Value: 1}, {Key: "passed", Value: i%8 == 0},
				{Key: "last_submitted", Value: last}, {Key: "open", Value: ""}, {Key: "attempts", Value: bson.A{attempt}}}); err != nil {
				return written, err
			}
			if i%8 == 0 && certs < p.Certificates {
				certs++
				if err := add("certificates", bson.D{{Key: "_id", Value: id + "-cert"}, {Key: "user_id", Value: id}, {Key: "attempt", Value: attempt}, {Key: "issued", Value: last}}); err != nil {
					return written, err
				}
				if err := add("certificate_attempts", bson.D{{Key: "_id", Value: attempt}, {Key: "cert", Value: id + "-cert"}, {Key: "user", Value: id}}); err != nil {
					return written, err
				}
			}
		}
	}
	for _, coll := range []string{"users", "user_emails", "progress", "exam_learners", "certificates", "certificate_attempts"} {
		if err := flush(coll, true); err != nil {
			return written, err
		}
	}
	return written, nil
}
