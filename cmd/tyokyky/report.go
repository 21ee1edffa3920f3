package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/report"
	"github.com/tyokyky/tyokyky/studio"
	"github.com/tyokyky/tyokyky/study"
)

const reportUsage = `Usage:
  tyokyky report rebuild     recompute every account's report summary from its records (progress,
                             exam, certificates, account); delete the summaries of accounts that
                             are gone; print the counts. Safe while the platform serves.
`

func reportCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rebuild" {
		fmt.Fprint(stderr, reportUsage)
		return exitUsage
	}
	cfg, code := loadConfig("report rebuild", args[1:], getenv, stderr)
	if cfg == nil {
		return code
	}
	ctx, db, done, ok := attach(cfg, time.Hour, stderr)
	if !ok {
		return exitFailure
	}
	defer done()
	pub, err := studio.NewStore(db).LoadPublished(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return exitFailure
	}
	if pub == nil {
		fmt.Fprintln(stderr, "tyokyky: report rebuild: no course is published yet (start the platform or run content import first)")
		return exitFailure
	}
	sums := newSummaries(db, pub.Course, cfg.Logger(stderr))
	start := time.Now()
	n, err := sums.Rebuild(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: report rebuild: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "report summaries: %d accounts, %d written, %d unchanged, %d deleted (%s)\n",
		n.Learners, n.Written, n.Unchanged, n.Deleted, time.Since(start).Round(time.Millisecond))
	return exitOK
}

// newSummaries are the report summaries of db for an administrative
// command (the published course given; no store follows them).
func newSummaries(db *database.DB, c *course.Course, log *slog.Logger) *report.Summaries {
	return report.NewSummaries(db, report.Sources{Accounts: account.NewStore(db), Progress: study.NewProgress(db), Exam: exam.NewStore(db, log),
		Certs: cert.NewStore(db, nil, cert.Options{Logger: log}), Course: func() *course.Course { return c }}, log)
}

// recomputeSummary brings an account's report summary up to date after a
// command changed the account (no running server follows a command's
// writes). Without a published course there is nothing to count yet:
// the server's first sweep makes it.
func recomputeSummary(ctx context.Context, db *database.DB, userID string, stderr io.Writer) {
	pub, err := studio.NewStore(db).LoadPublished(ctx)
	if err != nil || pub == nil {
		return
	}
	if err := newSummaries(db, pub.Course, nil).Recompute(ctx, userID); err != nil {
		fmt.Fprintf(stderr, "tyokyky: the account's report summary was not updated (tyokyky report rebuild does it): %v\n", err)
	}
}

// The summaries' sweep: a rebuild (report.Summaries.Rebuild) a day
// across instances, which corrects any summary whose change was not
// recomputed (a process that stopped between a write and its recompute).
// The first runs a minute after start, at once when there are accounts
// but no summaries (an upgrade from a version without them); a lease of
// sweepLease makes it one instance's, and at most one a sweepLease.
const (
	sweepEvery = 24 * time.Hour
	sweepLease = 20 * time.Hour
)

func sweepSummaries(ctx context.Context, sums *report.Summaries, accounts *account.Store, holder string, log *slog.Logger) {
	first := time.Minute
	if some, err := sums.Any(ctx); err == nil && !some {
		if some, err := accounts.Any(ctx); err == nil && some {
			first = 0
		}
	}
	sweep := func() {
		ok, err := accounts.Lease(ctx, "report-summaries", holder, sweepLease)
		if err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				log.Warn("report summaries sweep", "err", err)
			}
			return
		}
		start := time.Now()
		n, err := sums.Rebuild(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("report summaries sweep", "err", err)
			}
			return
		}
		log.Info("report summaries swept", "accounts", n.Learners, "written", n.Written, "deleted", n.Deleted, "took", time.Since(start).Round(time.Millisecond))
	}
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sweep()
			t.Reset(sweepEvery)
		}
	}
}
