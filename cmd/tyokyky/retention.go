package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/tyokyky/tyokyky/account"
)

// retention deletes learner accounts inactive for longer than the
// configured period, with everything kept of them; one instance at a time
// does it (a lease in the database).
type retention struct {
	accounts *account.Store
	erase    func(ctx context.Context, userID string) error // erasure.Stores.Erase
	after    time.Duration
	holder   string
	log      *slog.Logger
	now      func() time.Time
}

// sweep runs once: it returns how many accounts it deleted.
func (r *retention) sweep(ctx context.Context) (int, error) {
	ok, err := r.accounts.Lease(ctx, "retention", r.holder, 10*time.Minute)
	if err != nil || !ok {
		return 0, err
	}
	users, err := r.accounts.Inactive(ctx, r.now().Add(-r.after), 500)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range users {
		if err := r.erase(ctx, u.ID); err != nil {
			return n, err
		}
		n++
	}
	if n > 0 {
		r.log.Info("inactive accounts deleted", "count", n, "inactive_for", r.after)
	}
	return n, nil
}

// run sweeps every hour until ctx ends.
func (r *retention) run(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := r.sweep(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
