package media_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/media"
)

// TestFrozenStoreFailsWithinTheDeadlines (issue 19, failure 3): with the
// MinIO process stopped (SIGSTOP: connections are accepted, nothing is
// answered) every call ends within its deadline as ErrUnavailable, an
// upload stores nothing, and everything works again once it runs.
func TestFrozenStoreFailsWithinTheDeadlines(t *testing.T) {
	ctx := t.Context()
	m, err := testenv.StartMinIO(ctx, t.TempDir()) // its own: freezing the shared one would stall other tests
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	store, err := media.NewObjectStore(media.ObjectStoreOptions{Endpoint: m.Endpoint(), Region: "us-east-1", Bucket: "jaatynyt",
		AccessKey: m.Credentials.AccessKey, SecretKey: m.Credentials.SecretKey,
		Timeouts: media.Timeouts{Connect: time.Second, FirstByte: 2 * time.Second, Idle: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	lib := media.NewCatalog(env.Database(), store, media.Options{})
	if err := lib.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	data := sample(t, "audio", 2)
	it, err := lib.Put(ctx, media.Upload{Title: "Ennen", Body: bytes.NewReader(data), Uploader: "u1"})
	if err != nil {
		t.Fatal(err)
	}

	if err := syscall.Kill(m.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// kill returns before the process has stopped (on a busy machine a
	// request could still be answered): wait until the kernel says "T".
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.PID()))
		if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 0 && f[0] == "T" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("MinIO (%d) did not stop: %s", m.PID(), stat)
		}
	}
	frozen := true
	defer func() {
		if frozen {
			syscall.Kill(m.PID(), syscall.SIGCONT)
		}
	}()
	timed := func(what string, limit time.Duration, f func() error) {
		t.Helper()
		start := time.Now()
		err := f()
		took := time.Since(start)
		if !errors.Is(err, media.ErrUnavailable) {
			t.Errorf("%s on a frozen store: %v, want ErrUnavailable", what, err)
		}
		if took > limit {
			t.Errorf("%s took %v, more than %v", what, took, limit)
		}
		t.Logf("%s failed after %v: %v", what, took.Round(10*time.Millisecond), err)
	}
	timed("ping", 5*time.Second, func() error { return store.Ping(ctx) })
	timed("open", 5*time.Second, func() error {
		r, err := lib.Open(ctx, it.Key, 0, -1)
		if err == nil {
			_, err = io.ReadAll(r)
			r.Close()
		}
		return err
	})
	timed("upload", 10*time.Second, func() error {
		_, err := lib.Put(ctx, media.Upload{Title: "Jäätyneenä", Body: bytes.NewReader(data), Uploader: "u1"})
		return err
	})
	items, err := lib.List(ctx)
	if err != nil || len(items) != 1 {
		t.Fatalf("after a failed upload the library has %d items (%v), want the one stored before", len(items), err)
	}

	syscall.Kill(m.PID(), syscall.SIGCONT)
	frozen = false
	r, err := lib.Open(ctx, it.Key, 0, -1)
	if err != nil {
		t.Fatalf("after the store runs again: %v", err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("the object stored before the freeze differs")
	}
}
