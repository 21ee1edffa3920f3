package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/erasure"
	"github.com/tyokyky/tyokyky/feedback"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/study"
)

func TestRetentionDeletesInactiveLearnersOnce(t *testing.T) {
	ctx := context.Background()
	env, err := testenv.StartDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	db := env.Database()
	accounts := account.NewStore(db)
	if err := account.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	reg := func(email, role string) *account.User {
		u, errs := accounts.Register(ctx, account.Registration{Email: email, Name: "Testi Henkilö", Password: "retention salalause", Organisation: account.Organisations[2], Role: role})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return u
	}
	old := reg("vanha@example.fi", account.RoleLearner)
	reg("uusi@example.fi", account.RoleLearner)
	reg("yllapitaja@example.fi", account.RoleAdmin)
	accounts.StartSession(ctx, old, false, "", "")

	// A year later: the old learner has not signed in; the new one has.
	later := time.Now().Add(365 * 24 * time.Hour)
	newUser, _ := accounts.UserByEmail(ctx, "uusi@example.fi")
	future := account.NewStore(db)
	future.SetClockForTest(later)
	future.StartSession(ctx, newUser, false, "", "")

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mk := func(holder string) *retention {
		erase := erasure.Stores{Accounts: future, Progress: study.NewProgress(db), Feedback: feedback.NewStore(db)}.Erase
		return &retention{accounts: future, erase: erase,
			after: 180 * 24 * time.Hour, holder: holder, log: log, now: func() time.Time { return later }}
	}
	a, b := mk("a"), mk("b")
	na, err := a.sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := b.sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if na != 1 || nb != 0 {
		t.Fatalf("sweeps deleted %d and %d, want 1 by the lease holder only", na, nb)
	}
	if _, err := accounts.UserByEmail(ctx, "vanha@example.fi"); err != account.ErrNotFound {
		t.Fatal("the inactive learner was kept")
	}
	for _, keep := range []string{"uusi@example.fi", "yllapitaja@example.fi"} {
		if _, err := accounts.UserByEmail(ctx, keep); err != nil {
			t.Fatalf("%s was deleted", keep)
		}
	}
}
