package backup

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Scheduled backups: two instances ticking at once take one backup, none
// is taken before Every has passed, old archives beyond Keep go, and a
// failure is recorded, shown and not retried at once.
func TestScheduledBackups(t *testing.T) {
	ctx := context.Background()
	f := populate(t, 50)
	dir := filepath.Join(t.TempDir(), "backups")
	var mu sync.Mutex
	clock := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	scheduler := func(holder string, to Destination) *Scheduler {
		return &Scheduler{DB: f.db, Objects: f.store, To: to, Every: time.Hour, Keep: 2, AppVersion: "test-1",
			Source: SourceOptions{WorkDir: t.TempDir()}, Holder: holder, Log: log, Now: now}
	}
	a, b := scheduler("a", Dir(dir)), scheduler("b", Dir(dir))

	var wg sync.WaitGroup
	took := make([]bool, 2)
	for i, s := range []*Scheduler{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ran, err := s.Tick(ctx)
			if err != nil {
				t.Error(err)
			}
			took[i] = ran
		}()
	}
	wg.Wait()
	if took[0] == took[1] {
		t.Fatalf("two instances ticking at once: took %v, want exactly one backup", took)
	}
	names, _ := Dir(dir).Archives(ctx)
	if len(names) != 1 {
		t.Fatalf("archives after the first tick: %v", names)
	}
	if r := verifyFile(t, filepath.Join(dir, names[0])); r.Err() != nil {
		t.Fatalf("the scheduled archive does not verify: %v", r.Err())
	}

	// Not due again within Every, for either instance; both know when the
	// last one succeeded.
	advance(59 * time.Minute)
	for _, s := range []*Scheduler{a, b} {
		if ran, err := s.Tick(ctx); err != nil || ran {
			t.Fatalf("a tick before Every: ran %v, %v", ran, err)
		}
		if st := s.Status(); !st.LastSuccess.Equal(clock.Add(-59*time.Minute)) || st.LastArchive == "" || st.Target != dir {
			t.Fatalf("status %+v", st)
		}
	}
	// Two more, an hour apart: Keep 2 leaves the newest two.
	for range 2 {
		advance(time.Hour)
		if ran, err := b.Tick(ctx); err != nil || !ran {
			t.Fatalf("a due tick: ran %v, %v", ran, err)
		}
	}
	names, _ = Dir(dir).Archives(ctx)
	if len(names) != 2 || names[1] != ArchiveName(clock) || names[0] != ArchiveName(clock.Add(-time.Hour)) {
		t.Fatalf("archives kept: %v", names)
	}

	// A destination that cannot be written: the failure is recorded and
	// shown, no partial file is left, and it is not retried at once.
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c := scheduler("c", Dir(filepath.Join(blocked, "backups")))
	advance(2 * time.Hour)
	if ran, err := c.Tick(ctx); err == nil || !ran {
		t.Fatalf("a backup into a file's path: ran %v, err %v", ran, err)
	}
	if st := c.Status(); st.LastError == "" || !st.LastTry.Equal(clock) {
		t.Fatalf("status after a failure: %+v", st)
	}
	if n, _ := f.db.Collection(runsCollection).CountDocuments(ctx, map[string]any{"ok": false}); n != 1 {
		t.Fatalf("failed runs recorded: %d", n)
	}
	advance(time.Minute)
	if ran, err := c.Tick(ctx); ran || err != nil {
		t.Fatalf("retried a minute after a failure: ran %v, %v", ran, err)
	}
}
