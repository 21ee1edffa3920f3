package course

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tyokyky/tyokyky/internal/poll"
)

// Published is the course as published at one version, rendered.
type Published struct {
	Version int64
	Course  *Course
}

// ErrNothingPublished means no content has been imported yet.
var ErrNothingPublished = errors.New("course: no content has been published")

// Library holds the published course in memory for the server and follows
// new versions, so that every instance serves the same revision without a
// database round trip per request.
type Library struct {
	src     Source
	log     *slog.Logger
	current atomic.Pointer[Published]
}

// Source is where the published course is kept (the studio's store).
type Source interface {
	// LoadPublished reads and renders the published course.
	LoadPublished(ctx context.Context) (*Published, error)
	// PublishedVersion is the published version (one small read).
	PublishedVersion(ctx context.Context) (int64, error)
}

// NewLibrary loads the published course from src.
func NewLibrary(ctx context.Context, src Source, log *slog.Logger) (*Library, error) {
	p, err := src.LoadPublished(ctx)
	if err != nil {
		return nil, err
	}
	l := &Library{src: src, log: log}
	l.current.Store(p)
	return l, nil
}

// NewStaticLibrary serves a fixed course (tests and benchmarks).
func NewStaticLibrary(p *Published) *Library {
	l := &Library{log: slog.Default()}
	l.current.Store(p)
	return l
}

// Current is the published course being served.
func (l *Library) Current() *Published { return l.current.Load() }

// Refresh loads a newer published version, if there is one.
func (l *Library) Refresh(ctx context.Context) error {
	v, err := l.src.PublishedVersion(ctx)
	if err != nil {
		return err
	}
	if v == l.Current().Version {
		return nil
	}
	p, err := l.src.LoadPublished(ctx)
	if err != nil {
		return err
	}
	l.current.Store(p)
	l.log.Info("content updated", "version", p.Version, "course", p.Course.Summary())
	return nil
}

// Follow refreshes every interval until ctx ends.
func (l *Library) Follow(ctx context.Context, interval time.Duration) {
	poll.Every(ctx, interval, l.log, "content refresh failed", l.Refresh)
}
