package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/internal/minioproc"
	"github.com/tyokyky/tyokyky/internal/testenv"
)

// get returns a URL's status and body (0 when the request failed).
func get(url string) (int, string) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// minioProcesses lists the MinIO processes that serve dataDir.
func minioProcesses(dataDir string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !alive(pid) {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, "minio") && strings.Contains(cmd, " server ") && strings.Contains(cmd, filepath.Join(dataDir, "minio", "data")) {
			out = append(out, pid)
		}
	}
	return out
}

// TestKilledMinIOIsRestartedWhilePagesStayUp (issue 19, failure 2): the
// MinIO child killed outright is restarted on the same address; while it
// is down /readyz answers 503 naming the storage and pages that need no
// object store are served.
func TestKilledMinIOIsRestartedWhilePagesStayUp(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	before := minioProcesses(data)
	if len(before) != 1 {
		t.Fatalf("%d MinIO processes, want 1", len(before))
	}
	if err := syscall.Kill(before[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	sawDown := false
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		code, body := get("http://" + s.addr + "/readyz")
		if code == 503 {
			if !strings.Contains(body, `"storage"`) || strings.Contains(body, `"down":["database"`) {
				t.Fatalf("/readyz while MinIO is down: %s", body)
			}
			if page, _ := get("http://" + s.addr + "/osiot/tyokyvyn-tuki"); page != 200 {
				t.Fatalf("a module page while MinIO is down = %d", page)
			}
			sawDown = true
		}
		if code == 200 && sawDown {
			break
		}
		select {
		case err := <-s.exited:
			t.Fatalf("the server exited when MinIO was killed: %v", err)
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawDown {
		t.Fatal("/readyz never reported the storage down")
	}
	if code, body := get("http://" + s.addr + "/readyz"); code != 200 {
		t.Fatalf("/readyz after the restart = %d %s", code, body)
	}
	after := minioProcesses(data)
	if len(after) != 1 || after[0] == before[0] {
		t.Fatalf("MinIO processes after the restart: %v (before %v)", after, before)
	}
	counted := false
	for end := time.Now().Add(5 * time.Second); !counted && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		_, body := get("http://" + s.addr + "/metrics")
		counted = strings.Contains(body, "tyokyky_minio_restarts_total 1")
	}
	if !counted {
		t.Error("/metrics does not count the restart")
	}
	if !strings.Contains(s.stderr.String(), "restarting") {
		t.Error("the log does not say MinIO is restarted")
	}
}

// TestSecondServerOnOneFolderStartsNothing (issue 19, failure 6): a second
// server on a data folder in use refuses before starting a MinIO and
// leaves the first one's files alone; the media commands attach to the
// running server's MinIO and never start one beside it.
func TestSecondServerOnOneFolderStartsNothing(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	endpointFile := filepath.Join(data, "minio", "endpoint")
	endpoint, err := os.ReadFile(endpointFile)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := testenv.MinIOBin()
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := minioproc.FreeAddr()
	var out bytes.Buffer
	code := run([]string{"serve", "--listen", addr, "--data-dir", data, "--minio-bin", bin}, mapEnv(nil), &out, &out)
	if code == 0 || !strings.Contains(out.String(), "in use by another process") {
		t.Fatalf("second server = %d:\n%s", code, out.String())
	}
	if got, _ := os.ReadFile(endpointFile); !bytes.Equal(got, endpoint) {
		t.Fatalf("endpoint file %q after the second server, want %q", got, endpoint)
	}
	if n := minioProcesses(data); len(n) != 1 {
		t.Fatalf("MinIO processes on the folder: %v, want one", n)
	}
	cli := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(append(args, "--data-dir", data, "--minio-bin", bin), mapEnv(nil), &out, &out)
		return code, out.String()
	}
	if code, out := cli("media", "list"); code != 0 {
		t.Fatalf("media list beside the server = %d:\n%s", code, out)
	}
	// Without the endpoint file the CLI cannot find the server's MinIO;
	// it says so instead of starting a second one on the same data.
	os.Remove(endpointFile)
	if code, out := cli("media", "list"); code == 0 || !strings.Contains(out, "a running server owns") {
		t.Fatalf("media list without the endpoint file = %d:\n%s", code, out)
	}
	if n := minioProcesses(data); len(n) != 1 {
		t.Fatalf("MinIO processes on the folder: %v, want one", n)
	}
	if code, _ := get("http://" + s.addr + "/readyz"); code != 200 {
		t.Fatalf("the first server's /readyz = %d", code)
	}
}
