package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/minioproc"
	"github.com/tyokyky/tyokyky/internal/testenv"
)

// The test binary doubles as the tyokyky binary: started with
// TYOKYKY_TEST_AS_MAIN=1 it runs the command line it was given, so the
// end-to-end tests exercise the real process, its signals and its child.
func TestMain(m *testing.M) {
	if os.Getenv("TYOKYKY_TEST_AS_MAIN") == "1" {
		if spec := os.Getenv("TYOKYKY_TEST_TMPFS"); spec != "" {
			smallDisk(spec)
		}
		if at := os.Getenv("TYOKYKY_TEST_CRASH_AT"); at != "" {
			// The process dies at that step (internal/crashpoint).
			crashpoint.Set(func(step string) {
				if step == at {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
			})
		}
		if spec := os.Getenv("TYOKYKY_TEST_PAUSE_AT"); spec != "" {
			// STEP=DURATION: the process sleeps at that step.
			at, d, _ := strings.Cut(spec, "=")
			pause, _ := time.ParseDuration(d)
			crashpoint.Set(func(step string) {
				if step == at {
					time.Sleep(pause)
				}
			})
		}
		if d, err := time.ParseDuration(os.Getenv("TYOKYKY_TEST_MIGRATION_LEASE")); err == nil {
			migrationLease = d
		}
		code := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
		if dir := os.Getenv("TYOKYKY_TEST_LIST_AFTER"); dir != "" {
			// What the command left in a folder that vanishes with the
			// process (a small disk in its own mount namespace).
			entries, _ := os.ReadDir(dir)
			names := []string{}
			for _, e := range entries {
				names = append(names, e.Name())
			}
			fmt.Fprintf(os.Stderr, "test listing: [%s]\n", strings.Join(names, " "))
		}
		os.Exit(code)
	}
	code := m.Run()
	for _, f := range afterTests {
		f()
	}
	os.Exit(code)
}

// afterTests are run once every test of the process has finished (what
// several tests share, such as a load test's population).
var afterTests []func()

// smallDisk (in a server started by the disk-full test, inside its own
// user and mount namespace) mounts a small tmpfs on DIR from "DIR:SIZE";
// SIGUSR1 then fills it to the last byte and SIGUSR2 frees it again.
func smallDisk(spec string) {
	dir, size, _ := strings.Cut(spec, ":")
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		fmt.Fprintln(os.Stderr, "test: mounting a small disk:", err)
		os.Exit(1)
	}
	filler := filepath.Join(dir, "filler")
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for s := range sig {
			if s == syscall.SIGUSR2 {
				os.Remove(filler)
				fmt.Fprintln(os.Stderr, "test filler: removed")
				continue
			}
			f, err := os.OpenFile(filler, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				fmt.Fprintln(os.Stderr, "test filler:", err)
				continue
			}
			for _, chunk := range []int{1 << 20, 4096, 1} {
				b := make([]byte, chunk)
				for {
					if _, err := f.Write(b); err != nil {
						break
					}
				}
			}
			f.Close()
			fmt.Fprintln(os.Stderr, "test filler: disk full")
		}
	}()
}

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigErrorsExitWithCodeTwo(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"malformed MongoDB URI", []string{"--mongodb-uri", "mongodb://"}, "tyokyky: config: mongodb-uri: malformed MongoDB URI"},
		{"unwritable data directory", []string{"--data-dir", filepath.Join(file, "data")}, "tyokyky: config: data-dir: cannot create"},
		{"port in use", []string{"--listen", busy.Addr().String()}, "tyokyky: config: listen: " + busy.Addr().String() + " is already in use"},
		{"S3 endpoint without keys", []string{"--s3-endpoint", "http://127.0.0.1:9000"}, "tyokyky: config: s3-endpoint: is set, so s3-access-key and s3-secret-key are required"},
		{"base URL not absolute", []string{"--base-url", "localhost:8080"}, "tyokyky: config: base-url: \"localhost:8080\" is not an absolute http(s) URL"},
		{"unknown flag", []string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"serve", "--data-dir", t.TempDir()}, tc.args...)
			code := run(args, mapEnv(nil), &stdout, &stderr)
			if code != 2 {
				t.Fatalf("exit code = %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr = %q, want %q", stderr.String(), tc.want)
			}
		})
	}

	t.Run("one line per problem", func(t *testing.T) {
		var stderr bytes.Buffer
		code := run([]string{"--data-dir", t.TempDir()}, mapEnv(map[string]string{
			"TYOKYKY_BASE_URL":    "nowhere",
			"TYOKYKY_S3_ENDPOINT": "http://127.0.0.1:9",
			"TYOKYKY_MONGODB_URI": "mongo://x",
		}), &bytes.Buffer{}, &stderr)
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if code != 2 || len(lines) != 3 {
			t.Fatalf("exit %d, %d lines:\n%s", code, len(lines), stderr.String())
		}
	})
}

func TestCommands(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"version"}, mapEnv(nil), &out, &out); code != 0 || !strings.HasPrefix(out.String(), "tyokyky ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"frobnicate"}, mapEnv(nil), &out, &out); code != 2 || !strings.Contains(out.String(), "unknown command") {
		t.Fatalf("unknown command: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"help"}, mapEnv(nil), &out, &out); code != 0 || !strings.Contains(out.String(), "healthcheck") {
		t.Fatalf("help: %d %q", code, out.String())
	}
}

func TestContentCheck(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"content", "check", "../../course/testdata/broken"}, mapEnv(nil), &out, &errb); code != 1 {
		t.Fatalf("check of broken content = %d", code)
	}
	if !strings.Contains(out.String(), "../../course/testdata/broken/modules/01-osio/01-eka.md:8:40: unknown law 1/1999") {
		t.Fatalf("check output lacks file:line:col:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"content", "check", "../../content"}, mapEnv(nil), &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "ok: 4 modules") {
		t.Fatalf("check of the course = %d: %s", code, out.String())
	}
	if code := run([]string{"content", "check", "/no/such/dir"}, mapEnv(nil), &out, &errb); code != 2 {
		t.Fatalf("check of a missing folder = %d", code)
	}
	if code := run([]string{"content"}, mapEnv(nil), &out, &errb); code != 2 {
		t.Fatalf("content without a subcommand = %d", code)
	}
}

func TestServeRefusesInvalidContent(t *testing.T) {
	var out bytes.Buffer
	bin, err := testenv.MinIOBin()
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := minioproc.FreeAddr()
	code := run([]string{"serve", "--listen", addr, "--data-dir", t.TempDir(), "--minio-bin", bin, "--content-dir", "../../course/testdata/broken"}, mapEnv(nil), &out, &out)
	if code != 1 || !strings.Contains(out.String(), "course content has problems") || !strings.Contains(out.String(), "01-eka.md:8:40: unknown law 1/1999") {
		t.Fatalf("serve with broken content = %d:\n%s", code, out.String())
	}
}

func TestHealthcheckFailsWithoutServer(t *testing.T) {
	addr, _ := minioproc.FreeAddr()
	var out bytes.Buffer
	if code := run([]string{"healthcheck", "--listen", addr, "--data-dir", t.TempDir()}, mapEnv(nil), &out, &out); code != 1 {
		t.Fatalf("healthcheck with nothing listening = %d, want 1: %s", code, out.String())
	}
}

// server is the tyokyky binary running as a child process.
type server struct {
	cmd    *exec.Cmd
	addr   string
	data   string
	stderr *lockedBuffer
	exited chan error
	done   chan struct{} // closed when the process has exited
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startServer(t *testing.T, data string, extraEnv ...string) *server {
	t.Helper()
	s := launchServer(t, data, extraEnv...)
	s.waitReady(t)
	return s
}

// launchServer starts the server process and returns at once (waitReady
// waits until /readyz answers 200).
func launchServer(t *testing.T, data string, extraEnv ...string) *server {
	t.Helper()
	bin, err := testenv.MinIOBin()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := minioproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: addr, data: data, stderr: &lockedBuffer{}, exited: make(chan error, 1), done: make(chan struct{})}
	s.cmd = exec.Command(os.Args[0], "serve")
	s.cmd.Env = append(os.Environ(),
		"TYOKYKY_TEST_AS_MAIN=1",
		"TYOKYKY_LISTEN="+addr,
		"TYOKYKY_BASE_URL=http://"+addr,
		"TYOKYKY_DATA_DIR="+data,
		"TYOKYKY_MINIO_BIN="+bin,
		"TYOKYKY_MONGODB_URI=",
		"TYOKYKY_S3_ENDPOINT=",
	)
	s.cmd.Env = append(s.cmd.Env, extraEnv...)
	for _, e := range extraEnv {
		if strings.HasPrefix(e, "TYOKYKY_TEST_TMPFS=") {
			// Its own user and mount namespace, where it may mount.
			s.cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
				GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}}
		}
	}
	s.cmd.Stdout = s.stderr
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := s.cmd.Wait()
		s.exited <- err
		close(s.done)
	}()
	t.Cleanup(func() {
		// A clean stop, so that MinIO has let go of the data folder
		// before the test's temporary folder is removed; killed if it
		// does not stop in time.
		select {
		case <-s.done:
		default:
			s.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-s.done:
			case <-time.After(20 * time.Second):
				s.cmd.Process.Kill()
				<-s.done
			}
		}
		if t.Failed() {
			t.Logf("server output:\n%s", s.stderr.String())
		}
	})
	return s
}

func (s *server) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-s.exited:
			t.Fatalf("server exited during start-up: %v\n%s", err, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after 90 s:\n%s", s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signIn reports whether the API accepts the credentials.
func signIn(t *testing.T, addr, email, password string) bool {
	t.Helper()
	body := fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)
	resp, err := http.Post("http://"+addr+"/api/v1/auth/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s = %d", url, resp.StatusCode)
	}
	return string(b)
}

// children lists the process ids whose parent is pid.
func children(pid int) []int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	// Children may be started from other threads of the Go process.
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		if task.Name() == strconv.Itoa(pid) {
			continue
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie (state Z) has exited.
	fields := strings.Fields(string(b))
	return len(fields) > 2 && fields[2] != "Z"
}

func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still running", what, pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeRunsTheWholeStackAndStopsCleanly(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)

	kids := children(s.cmd.Process.Pid)
	if len(kids) != 1 {
		t.Fatalf("server has %d child processes, want 1 (MinIO)", len(kids))
	}
	minioPID := kids[0]
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", minioPID)); !strings.Contains(string(b), "minio") {
		t.Fatalf("child is not MinIO: %q", b)
	}
	if _, err := os.Stat(filepath.Join(data, "db", "uri")); err != nil {
		t.Fatalf("embedded store address not published: %v", err)
	}
	credFile := filepath.Join(data, "minio", "credentials.json")
	st, err := os.Stat(credFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("MinIO credentials: %v %v", st, err)
	}
	creds1, _ := os.ReadFile(credFile)
	// Without an SMTP relay the server says where the e-mails are kept.
	if !strings.Contains(s.stderr.String(), "no SMTP relay configured") || !strings.Contains(s.stderr.String(), "/yllapito/posti") {
		t.Error("the start-up log does not say that e-mails stay in the outbox")
	}

	var out bytes.Buffer
	if code := run([]string{"healthcheck", "--listen", s.addr, "--data-dir", t.TempDir()}, mapEnv(nil), &out, &out); code != 0 {
		t.Fatalf("healthcheck = %d: %s", code, out.String())
	}
	if body := httpGet(t, "http://"+s.addr+"/"); !strings.Contains(body, "Työkyvyn tuen johtaminen sosiaali- ja terveydenhuollossa</h1>") {
		t.Fatalf("home page does not show the bundled course:\n%s", body)
	}
	if body := httpGet(t, "http://"+s.addr+"/osiot/tyokyvyn-tuki"); !strings.Contains(body, "Työkyvyn tuki sote-keskuksessa") {
		t.Fatal("module page of the bundled course missing")
	}

	// The first start created an administrator and printed it once.
	if !strings.Contains(s.stderr.String(), "First administrator created") || !strings.Contains(s.stderr.String(), "email:    admin@localhost") {
		t.Fatalf("no first administrator printed:\n%s", s.stderr.String())
	}
	pw := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(s.stderr.String())
	if pw == nil || !signIn(t, s.addr, "admin@localhost", pw[1]) {
		t.Fatal("the printed administrator cannot sign in")
	}

	// User commands work while the server runs.
	out.Reset()
	if code := run([]string{"user", "create", "--email", "kirjoittaja@example.fi", "--name", "Kirsi Kirjoittaja", "--role", "author", "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 {
		t.Fatalf("user create = %d: %s", code, out.String())
	}
	created := regexp.MustCompile(`password \(shown once\): (\S+)`).FindStringSubmatch(out.String())
	if created == nil || !signIn(t, s.addr, "kirjoittaja@example.fi", created[1]) {
		t.Fatalf("created user cannot sign in: %s", out.String())
	}
	out.Reset()
	if code := run([]string{"user", "role", "kirjoittaja@example.fi", "admin", "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 || !strings.Contains(out.String(), "is now admin") {
		t.Fatalf("user role = %d: %s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"user", "role", "kirjoittaja@example.fi", "king", "--data-dir", data}, mapEnv(nil), &out, &out); code != 1 || !strings.Contains(out.String(), "learner, author, reporter or admin") {
		t.Fatalf("bad role = %d: %s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"user", "reset-link", "kirjoittaja@example.fi", "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 || !strings.Contains(out.String(), "/salasana/uusi?token=") {
		t.Fatalf("reset-link = %d: %s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"user", "reset-link", "ei@example.fi", "--data-dir", data}, mapEnv(nil), &out, &out); code != 1 || !strings.Contains(out.String(), "no such account") {
		t.Fatalf("reset-link for nobody = %d: %s", code, out.String())
	}

	// An administrative command reaches the running server's embedded
	// store; importing the same content changes nothing.
	out.Reset()
	if code := run([]string{"content", "import", "../../content", "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 || !strings.Contains(out.String(), "0 changed, 0 deleted") {
		t.Fatalf("content import of the bundled course = %d:\n%s", code, out.String())
	}
	// Importing other content publishes it, and the running server follows.
	out.Reset()
	if code := run([]string{"content", "import", "../../course/testdata/course", "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 || !strings.Contains(out.String(), "published version 2") {
		t.Fatalf("content import of the test course = %d:\n%s", code, out.String())
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(httpGet(t, "http://"+s.addr+"/"), "Testikurssi") {
		if time.Now().After(deadline) {
			t.Fatal("the server did not follow the newly published content")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Ctrl-C stops everything.
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-s.exited:
		if err != nil {
			t.Fatalf("server exit after SIGINT: %v\n%s", err, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop within 30 s of SIGINT")
	}
	waitGone(t, minioPID, "MinIO after SIGINT")
	if _, err := os.Stat(filepath.Join(data, "db", "uri")); !os.IsNotExist(err) {
		t.Fatalf("uri file left after shutdown: %v", err)
	}

	// A second start reuses the same data and credentials.
	s2 := startServer(t, data)
	creds2, _ := os.ReadFile(credFile)
	if !bytes.Equal(creds1, creds2) {
		t.Fatal("second start generated new MinIO credentials")
	}
	kids = children(s2.cmd.Process.Pid)
	if len(kids) != 1 {
		t.Fatalf("second server has %d children", len(kids))
	}
	// Even when the server is killed outright, MinIO is not orphaned.
	s2.cmd.Process.Kill()
	<-s2.exited
	waitGone(t, kids[0], "MinIO after the server was killed")
}

// BenchmarkColdStart measures a start from an empty data directory to the
// first 200 from /readyz (embedded store, MinIO already built).
func BenchmarkColdStart(b *testing.B) {
	bin, err := testenv.MinIOBin()
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		data := b.TempDir()
		addr, _ := minioproc.FreeAddr()
		cmd := exec.Command(os.Args[0], "serve")
		cmd.Env = append(os.Environ(), "TYOKYKY_TEST_AS_MAIN=1", "TYOKYKY_LISTEN="+addr, "TYOKYKY_DATA_DIR="+data, "TYOKYKY_MINIO_BIN="+bin, "TYOKYKY_LOG_LEVEL=warn", "TYOKYKY_DRAIN_DELAY=0")
		b.StartTimer()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
}

// TestTwoInstancesShareOneDataLayer runs two server processes against one
// document store (the first instance's embedded store, by its published
// URI) and one MinIO: both serve the same pages and follow the same
// published content.
func TestTwoInstancesShareOneDataLayer(t *testing.T) {
	ctx := context.Background()
	minio, err := testenv.StartMinIO(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer minio.Close()
	s3 := []string{
		"TYOKYKY_S3_ENDPOINT=" + minio.Endpoint(),
		"TYOKYKY_S3_ACCESS_KEY=" + minio.Credentials.AccessKey,
		"TYOKYKY_S3_SECRET_KEY=" + minio.Credentials.SecretKey,
	}
	dataA := t.TempDir()
	a := startServer(t, dataA, s3...)
	uri, err := os.ReadFile(filepath.Join(dataA, "db", "uri"))
	if err != nil {
		t.Fatal(err)
	}
	dataB := t.TempDir()
	b := startServer(t, dataB, append(s3, "TYOKYKY_MONGODB_URI="+strings.TrimSpace(string(uri)))...)
	if _, err := os.Stat(filepath.Join(dataB, "db")); !os.IsNotExist(err) {
		t.Fatal("the second instance started an embedded store although a MongoDB URI was configured")
	}
	if len(children(a.cmd.Process.Pid)) != 0 || len(children(b.cmd.Process.Pid)) != 0 {
		t.Fatal("an instance started its own MinIO although an S3 endpoint was configured")
	}
	for _, path := range []string{"/", "/osiot/tyokyvyn-tuki/palvelupolku", "/api/v1/course", "/sanasto/tyokyky"} {
		pa, pb := httpGet(t, "http://"+a.addr+path), httpGet(t, "http://"+b.addr+path)
		if pa != pb {
			t.Errorf("%s differs between the instances", path)
		}
	}
	// Content published through one data layer reaches both instances.
	var out bytes.Buffer
	if code := run([]string{"content", "import", "../../course/testdata/course", "--mongodb-uri", strings.TrimSpace(string(uri))}, mapEnv(nil), &out, &out); code != 0 {
		t.Fatalf("import = %d: %s", code, out.String())
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, s := range []*server{a, b} {
		for !strings.Contains(httpGet(t, "http://"+s.addr+"/"), "Testikurssi") {
			if time.Now().After(deadline) {
				t.Fatalf("instance %s did not follow the published content", s.addr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// The media commands attach to a running server's stores; the server's
// pages follow the catalog.
func TestMediaCommands(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	dir := t.TempDir()
	video, err := testenv.SampleMedia(dir, "video", 2)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "fi.vtt")
	os.WriteFile(good, []byte("WEBVTT\n\n00:00.000 --> 00:01.000\n<v Jari>Hei.\n"), 0o600)
	bad := filepath.Join(dir, "bad.vtt")
	os.WriteFile(bad, []byte("WEBVTT\n\n00:00.000 --> 00:01.000\nHei\n00:01.000 --> 00:02.000\nMoi\n"), 0o600)
	cmd := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(append(args, "--data-dir", data), mapEnv(nil), &out, &out)
		return code, out.String()
	}
	if code, out := cmd("media", "upload", video, "--title", "Jarin polku", "--id", "m1-tyokyvyn-tuen-polku", "--captions", "fi="+good); code != 0 ||
		!strings.Contains(out, "stored m1-tyokyvyn-tuen-polku: video, video/mp4") || !strings.Contains(out, "captions fi for m1-tyokyvyn-tuen-polku: 1 cues") {
		t.Fatalf("media upload = %d:\n%s", code, out)
	}
	if code, out := cmd("media", "upload", filepath.Join(dir, "fi.vtt"), "--title", "x"); code != 1 || !strings.Contains(out, "captions file") {
		t.Fatalf("uploading captions as media = %d:\n%s", code, out)
	}
	if code, out := cmd("media", "captions", "m1-tyokyvyn-tuen-polku", "sv", bad); code != 1 || !strings.Contains(out, bad+":5: ") {
		t.Fatalf("bad captions = %d:\n%s", code, out)
	}
	if code, out := cmd("media", "list"); code != 0 || !strings.Contains(out, "m1-tyokyvyn-tuen-polku") || !strings.Contains(out, "captions [fi]") {
		t.Fatalf("media list = %d:\n%s", code, out)
	}
	// The running server shows the player on the page that uses the video.
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(httpGet(t, "http://"+s.addr+"/osiot/tyokyvyn-tuki/tyokykyohjelma"), `<video id="player-m1-tyokyvyn-tuen-polku"`) {
		if time.Now().After(deadline) {
			t.Fatal("the server did not show the uploaded video")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, out := cmd("media", "delete", "m1-tyokyvyn-tuen-polku"); code != 1 || !strings.Contains(out, "/osiot/tyokyvyn-tuki/tyokykyohjelma") {
		t.Fatalf("deleting used media = %d:\n%s", code, out)
	}
	// Generating the test course's video from its script, then again
	// (unchanged: skipped).
	if code, out := cmd("media", "generate", "--content-dir", "../../course/testdata/course"); code != 0 || !strings.Contains(out, "m-testivideo: made and stored") {
		t.Fatalf("media generate = %d:\n%s", code, out)
	}
	if code, out := cmd("media", "generate", "--content-dir", "../../course/testdata/course"); code != 0 || !strings.Contains(out, "m-testivideo: up to date") {
		t.Fatalf("media generate again = %d:\n%s", code, out)
	}
	if code, out := cmd("media", "delete", "m-testivideo"); code != 0 || !strings.Contains(out, "deleted m-testivideo") {
		t.Fatalf("media delete = %d:\n%s", code, out)
	}
	if code, out := cmd("media", "gc", "--grace", "0s"); code != 0 || !strings.Contains(out, "0 objects removed") {
		t.Fatalf("media gc = %d:\n%s", code, out)
	}
	if code, _ := cmd("media", "frobnicate"); code != 2 {
		t.Fatalf("unknown media command = %d", code)
	}
	// Stop the server (and with it MinIO) before the data folder goes.
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop")
	}
}

func TestExamImportGIFT(t *testing.T) {
	var out, errb bytes.Buffer
	dest := filepath.Join(t.TempDir(), "01-ensimmainen.yaml")
	code := run([]string{"exam", "import-gift", "../../exam/testdata/gift/sample.gift", "--module", "01-ensimmainen", "--prefix", "e-", "--out", dest}, mapEnv(nil), &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "sample.gift:27: short-answer questions") || !strings.Contains(errb.String(), "5 questions imported, 6 not imported") {
		t.Fatalf("import = %d:\n%s", code, errb.String())
	}
	data, err := os.ReadFile(dest)
	if err != nil || !strings.Contains(string(data), "id: e-osatyokykyisyys") {
		t.Fatalf("bank file: %v\n%s", err, data)
	}
	if code := run([]string{"exam", "import-gift"}, mapEnv(nil), &out, &errb); code != 2 {
		t.Fatalf("no file = %d", code)
	}
}

// After SIGTERM the server drains: /readyz answers 503 at once while new
// connections are still served for the drain delay; then it stops
// cleanly.
func TestSIGTERMDrainsBeforeStopping(t *testing.T) {
	s := startServer(t, t.TempDir(), "TYOKYKY_DRAIN_DELAY=3s")
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	signalled := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	var ready, page int
	for time.Since(signalled) < 2*time.Second {
		if resp, err := fresh.Get("http://" + s.addr + "/readyz"); err == nil {
			ready = resp.StatusCode
			resp.Body.Close()
		}
		if resp, err := fresh.Get("http://" + s.addr + "/"); err == nil {
			page = resp.StatusCode
			resp.Body.Close()
		}
		if ready == 503 && page == 200 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ready != 503 || page != 200 {
		t.Fatalf("while draining: /readyz %d (want 503), a new request %d (want 200)", ready, page)
	}
	select {
	case err := <-s.exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
		if waited := time.Since(signalled); waited < 3*time.Second {
			t.Fatalf("stopped after %v, before the drain delay", waited)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop within 30 s of SIGTERM")
	}
}
