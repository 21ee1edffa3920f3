package report

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/study"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.StartDatabase) }

// BenchmarkReportEmbedded10k is the whole report on the embedded store
// the way the report page made it before the summaries (issue 13's
// figure, the "before" of issue 26): 10,000 synthetic learners with 10
// progress records each are written in the stores' own collections, then
// each iteration reads every row through the stores and builds the
// report. The page now reads the summaries (api's BenchmarkReports100k).
func BenchmarkReportEmbedded10k(b *testing.B) {
	ctx := context.Background()
	db := env.Database()
	c, problems := course.Load(content.Bundled())
	if len(problems) > 0 {
		b.Fatal(problems.Error())
	}
	in := Synthetic(c, 10_000, 10)
	insert := func(coll string, docs []any) {
		for i := 0; i < len(docs); i += 1000 {
			if _, err := db.Collection(coll).InsertMany(ctx, docs[i:min(i+1000, len(docs))]); err != nil {
				b.Fatal(err)
			}
		}
	}
	start := time.Now()
	var users, records, outcomes, certs []any
	for _, l := range in.Learners {
		users = append(users, bson.D{{Key: "_id", Value: l.ID}, {Key: "email", Value: l.ID + "@example.fi"}, {Key: "name", Value: "Synteettinen"},
			{Key: "organisation", Value: l.Organisation}, {Key: "role", Value: l.Role}, {Key: "created_at", Value: l.CreatedAt}, {Key: "last_active", Value: l.LastActive}})
	}
	for _, r := range in.Records {
		d := bson.D{{Key: "_id", Value: r.UserID + "|" + r.Module + "/" + r.Section}, {Key: "user_id", Value: r.UserID}, {Key: "module", Value: r.Module},
			{Key: "section", Value: r.Section}, {Key: "seconds", Value: r.Seconds}}
		if r.Completed != nil {
			d = append(d, bson.E{Key: "completed_at", Value: *r.Completed})
		}
		records = append(records, d)
	}
	for _, o := range in.Outcomes {
		outcomes = append(outcomes, bson.D{{Key: "_id", Value: o.UserID}, {Key: "n", Value: o.Attempts}, {Key: "passed", Value: o.Passed}, {Key: "last_submitted", Value: *o.LastSubmitted}})
	}
	for i, ci := range in.Issued {
		certs = append(certs, bson.D{{Key: "_id", Value: ci.UserID + "-cert-" + string(rune('a'+i%26))}, {Key: "user_id", Value: ci.UserID}, {Key: "issued", Value: ci.Issued}})
	}
	insert("users", users)
	insert("progress", records)
	insert("exam_learners", outcomes)
	insert("certificates", certs)
	b.Logf("%d learners, %d progress records, %d exam records, %d certificates written in %s",
		len(users), len(records), len(outcomes), len(certs), time.Since(start).Round(time.Second))
	accounts := account.NewStore(db)
	progress := study.NewProgress(db)
	exams := exam.NewStore(db, nil)
	issued := cert.NewStore(db, nil, cert.Options{})
	org := account.Organisations[3]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, o := range []string{"", org} {
			learners, err := accounts.LearnerRows(ctx)
			if err != nil {
				b.Fatal(err)
			}
			recs, err := progress.RecordRows(ctx)
			if err != nil {
				b.Fatal(err)
			}
			outs, err := exams.OutcomeRows(ctx)
			if err != nil {
				b.Fatal(err)
			}
			iss, err := issued.IssuedRows(ctx)
			if err != nil {
				b.Fatal(err)
			}
			r := Build(Input{Course: c, Learners: learners, Records: recs, Outcomes: outs, Issued: iss}, Filter{Organisation: o})
			if o == "" && r.Learners != 10_000 {
				b.Fatalf("learners = %d", r.Learners)
			}
			b.ReportMetric(float64(r.Learners), "learners/"+map[bool]string{true: "all", false: "org"}[o == ""])
		}
	}
}
