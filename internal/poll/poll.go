// Package poll runs a background job at a fixed interval until its
// context ends: following published content and the media catalog,
// sweeping overdue exams, removing ended sessions.
package poll

import (
	"context"
	"log/slog"
	"time"
)

// Every calls job every interval until ctx ends; a failure is logged as
// a warning with what (unless the context ended) and the next tick tries
// again.
func Every(ctx context.Context, interval time.Duration, log *slog.Logger, what string, job func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := job(ctx); err != nil && ctx.Err() == nil {
				log.Warn(what, "err", err)
			}
		}
	}
}
