package minioproc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tyokyky/tyokyky/internal/minioproc"
	"github.com/tyokyky/tyokyky/internal/testenv"
)

func TestCredentialsAreGeneratedOnceAndPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials.json")
	a, err := minioproc.LoadOrCreateCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := minioproc.LoadOrCreateCredentials(path)
	if err != nil || a != b {
		t.Fatalf("second load %+v %v, want %+v", b, err, a)
	}
	if len(a.SecretKey) < 30 || !strings.HasPrefix(a.AccessKey, "tyokyky-") {
		t.Fatalf("weak credentials %+v", a)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	os.WriteFile(path, []byte("{"), 0o600)
	if _, err := minioproc.LoadOrCreateCredentials(path); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged file: %v", err)
	}
}

func TestMissingBinaryIsExplained(t *testing.T) {
	_, err := minioproc.Start(context.Background(), minioproc.Options{Bin: "/no/such/minio", Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make minio") {
		t.Fatalf("err = %v", err)
	}
}

// An erasure-coded MinIO (four drive folders in one process) keeps serving
// objects after one drive folder is lost.
func TestErasureCodedMinIOSurvivesALostDrive(t *testing.T) {
	bin, err := testenv.MinIOBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx := context.Background()
	p, err := minioproc.Start(ctx, minioproc.Options{Bin: bin, Dir: dir, Drives: 4, StartTimeout: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(10 * time.Second)
	c, err := minio.New(p.Addr, &minio.Options{Creds: credentials.NewStaticV4(p.Credentials.AccessKey, p.Credentials.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(ctx, "kesto", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("työkyky "), 200_000) // 1.8 MB, spread over all drives
	if _, err := c.PutObject(ctx, "kesto", "video.mp4", bytes.NewReader(payload), int64(len(payload)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "data", "d2")); err != nil {
		t.Fatal(err)
	}
	obj, err := c.GetObject(ctx, "kesto", "video.mp4", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("reading after a lost drive: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("read %d bytes, want the %d written", len(got), len(payload))
	}
}

// A second Start on a folder in use starts nothing and leaves the first
// one's endpoint file alone; Stop gives the folder up.
func TestSecondStartOnOneFolderIsRefused(t *testing.T) {
	bin, err := testenv.MinIOBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx := context.Background()
	p, err := minioproc.Start(ctx, minioproc.Options{Bin: bin, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(10 * time.Second)
	endpoint, _ := os.ReadFile(filepath.Join(dir, "endpoint"))
	if _, err := minioproc.Start(ctx, minioproc.Options{Bin: bin, Dir: dir}); !errors.Is(err, minioproc.ErrLocked) {
		t.Fatalf("second start: %v, want ErrLocked", err)
	}
	if !minioproc.Locked(dir) {
		t.Fatal("the folder should be locked")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "endpoint")); string(got) != string(endpoint) {
		t.Fatalf("endpoint file %q, want the first server's %q", got, endpoint)
	}
	if got, _, ok := minioproc.Attach(dir); !ok || got != p.Endpoint() {
		t.Fatalf("attach: %q %v", got, ok)
	}
	p.Stop(10 * time.Second)
	if minioproc.Locked(dir) {
		t.Fatal("the folder is still locked after Stop")
	}
	if _, err := os.Stat(filepath.Join(dir, "endpoint")); !os.IsNotExist(err) {
		t.Fatalf("endpoint file after Stop: %v", err)
	}
}

// A supervised MinIO killed with SIGKILL comes back on the same address;
// killed too often in the window, the supervisor gives up.
func TestSupervisedMinIORestartsAndGivesUp(t *testing.T) {
	bin, err := testenv.MinIOBin()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := minioproc.Start(ctx, minioproc.Options{Bin: bin, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(10 * time.Second)
	var mu sync.Mutex
	var changes []bool
	p.Supervise(ctx, minioproc.Supervision{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second, StableAfter: time.Minute,
		MaxRestarts: 2, Window: time.Minute, OnChange: func(up bool) { mu.Lock(); changes = append(changes, up); mu.Unlock() }})
	live := func() bool {
		resp, err := (&http.Client{Timeout: time.Second}).Get(p.Endpoint() + "/minio/health/live")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	for round := 1; round <= 2; round++ {
		pid := p.PID()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for (p.PID() == pid || p.Down() || !live()) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if !live() || p.Restarts() != int64(round) {
			t.Fatalf("round %d: live %v, restarts %d", round, live(), p.Restarts())
		}
	}
	mu.Lock()
	if fmt.Sprint(changes) != "[false true false true]" {
		t.Errorf("changes %v", changes)
	}
	mu.Unlock()
	if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.GaveUp():
	case <-time.After(30 * time.Second):
		t.Fatal("the supervisor did not give up after the third kill in the window")
	}
	if p.Restarts() != 2 || live() {
		t.Fatalf("after giving up: restarts %d, live %v", p.Restarts(), live())
	}
}
