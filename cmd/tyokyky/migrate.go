package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/migrate"
)

const migrateUsage = `Usage:
  tyokyky migrate status [flags]   list the schema migrations: applied (when, how long, by
                                   which version) and pending
  tyokyky migrate up [flags]       apply the pending migrations (one instance at a time: it
                                   waits while another applies them)

Both attach to a running server's embedded store, or open it for the
command's duration. The server applies pending migrations itself at start.
`

// migrationLease is how long the schema-migrations lease lasts unless
// renewed: after a crash during a migration, the next instance waits at
// most this long before it goes on (the crash test shortens it).
var migrationLease = 30 * time.Second

// migrateSchema brings the schema up to date at start: this instance
// applies the pending migrations under the lease, or waits while another
// does; starting tells /readyz why the instance is not ready meanwhile.
func migrateSchema(ctx context.Context, db *database.DB, starting *api.Starting, log *slog.Logger) error {
	done, err := migrate.Run(ctx, db, migrate.Options{Version: versionString(), Lease: migrationLease, Logger: log, Report: func(reason string) {
		if reason == "" {
			reason = "starting the stores"
		}
		starting.SetReason(reason)
	}})
	if len(done) > 0 {
		log.Info("schema migrated", "applied", len(done), "schema", done[len(done)-1].ID)
	}
	return err
}

func migrateCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "status" && args[0] != "up") {
		fmt.Fprint(stderr, migrateUsage)
		return exitUsage
	}
	sub := args[0]
	cfg, code := loadConfig("migrate "+sub, args[1:], getenv, stderr)
	if cfg == nil {
		return code
	}
	timeout := time.Minute
	if sub == "up" {
		timeout = 24 * time.Hour // migrations take as long as they take
	}
	ctx, db, done, ok := attach(cfg, timeout, stderr)
	if !ok {
		return exitFailure
	}
	defer done()
	ms := migrate.All()
	if sub == "up" {
		waiting := ""
		applied, err := migrate.Run(ctx, db, migrate.Options{Version: versionString(), Lease: migrationLease, Logger: slog.New(slog.DiscardHandler),
			Report: func(reason string) {
				if reason != waiting && reason != "" {
					fmt.Fprintln(stdout, reason)
				}
				waiting = reason
			}})
		for _, r := range applied {
			fmt.Fprintf(stdout, "applied %d %s (%s)\n", r.ID, r.Name, r.Duration())
		}
		if err != nil {
			fmt.Fprintf(stderr, "tyokyky: %v\n", err)
			return exitFailure
		}
		if len(applied) == 0 {
			fmt.Fprintf(stdout, "the schema is up to date (migration %d)\n", migrate.Latest(ms))
		}
		return exitOK
	}
	st, err := migrate.Read(ctx, db, ms)
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return exitFailure
	}
	for _, s := range st.Steps {
		if s.Applied == nil {
			fmt.Fprintf(stdout, "%4d  %-32s  pending\n", s.ID, s.Name)
			continue
		}
		fmt.Fprintf(stdout, "%4d  %-32s  applied %s in %s by version %s\n", s.ID, s.Name, s.Applied.AppliedAt.UTC().Format(time.RFC3339), s.Applied.Duration(), s.Applied.Version)
	}
	for _, r := range st.Unknown {
		fmt.Fprintf(stdout, "%4d  %-32s  applied %s by version %s, unknown to this binary\n", r.ID, r.Name, r.AppliedAt.UTC().Format(time.RFC3339), r.Version)
	}
	if holder, until, err := db.LeaseHolder(ctx, migrate.LeaseName); err == nil && holder != "" {
		fmt.Fprintf(stdout, "migrations are running: %s holds the lease until %s\n", holder, until.UTC().Format(time.RFC3339))
	}
	if err := st.Newer(); err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return exitFailure
	}
	pending := len(st.Pending())
	fmt.Fprintf(stdout, "%d of %d applied, %d pending", len(ms)-pending, len(ms), pending)
	if pending > 0 {
		fmt.Fprint(stdout, " (tyokyky migrate up applies them; so does the server when it starts)")
	}
	fmt.Fprintln(stdout)
	return exitOK
}
