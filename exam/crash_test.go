package exam

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A submission cut short at any step (the process dying there) is
// completed from its result document: after a restart the learner who
// passed cannot start again and is found for the certificate, the one who
// failed waits the rules' hours, and Repair sets the learner record right
// (idempotently).
func TestSubmissionCutShortAtEveryStep(t *testing.T) {
	ctx := context.Background()
	pub := published(t)
	for _, step := range []string{"after-result", "after-release", "after-deadline"} {
		for _, pass := range []bool{true, false} {
			name := step + map[bool]string{true: "/passed", false: "/failed"}[pass]
			t.Run(name, func(t *testing.T) {
				s := newStore(t)
				now := time.Now()
				s.SetClock(func() time.Time { return now })
				user := "u-" + token("")
				a, _, err := s.Start(ctx, user, pub, completed(pub))
				if err != nil {
					t.Fatal(err)
				}
				if pass {
					for i := range a.Items {
						ans := correctAnswer(&a.Items[i])
						ans.Seq = 1
						if _, err := s.SaveAnswer(ctx, user, a.ID, a.Items[i].ID, ans); err != nil {
							t.Fatal(err)
						}
					}
				}
				s.crashAt = func(at string) bool { return at == step }
				if _, err := s.Submit(ctx, user, a.ID); !errors.Is(err, errCrashed) {
					t.Fatalf("submit = %v", err)
				}
				// A new process: another store on the same database.
				after := restarted(s)
				after.SetClock(func() time.Time { return now })
				passed, err := after.PassedAttempts(ctx)
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, p := range passed {
					found = found || p.Attempt == a.ID
				}
				if found != pass {
					t.Fatalf("passed attempts %v: found %v, want %v", passed, found, pass)
				}
				if step == "after-result" {
					if n, err := after.Repair(ctx); err != nil || n != 1 {
						t.Fatalf("repair = %d %v", n, err)
					}
				}
				if n, err := after.Repair(ctx); err != nil || n != 0 {
					t.Fatalf("a second repair = %d %v", n, err)
				}
				ld, _ := after.learner(ctx, user)
				if ld.Open != "" || ld.Passed != pass || ld.LastSubmitted == nil {
					t.Fatalf("learner record %+v", ld)
				}
				_, _, err = after.Start(ctx, user, pub, completed(pub))
				if pass && !errors.Is(err, ErrPassed) {
					t.Fatalf("a passer started again: %v", err)
				}
				if !pass && !errors.As(err, new(*WaitError)) {
					t.Fatalf("a failer skipped the wait: %v", err)
				}
			})
		}
	}
}

// Start alone (no Repair yet) records the cut-short submission before it
// applies the rules.
func TestStartCompletesACutShortSubmission(t *testing.T) {
	ctx := context.Background()
	pub := published(t)
	s := newStore(t)
	a, _, err := s.Start(ctx, "u-start", pub, completed(pub))
	if err != nil {
		t.Fatal(err)
	}
	s.crashAt = func(at string) bool { return at == "after-result" }
	if _, err := s.Submit(ctx, "u-start", a.ID); !errors.Is(err, errCrashed) {
		t.Fatal(err)
	}
	after := restarted(s)
	if _, _, err := after.Start(ctx, "u-start", pub, completed(pub)); !errors.As(err, new(*WaitError)) {
		t.Fatalf("start after the cut-short submission: %v", err)
	}
}

// restarted is a new store on s's database, with nothing in memory, as
// after a restart.
func restarted(s *Store) *Store {
	after := NewStore(s.db, nil)
	after.filterConditions = s.filterConditions
	return after
}
