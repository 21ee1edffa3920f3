package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/backup"
	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/minioproc"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/studio"
	"github.com/tyokyky/tyokyky/study"
)

// cli runs a command line in this process (with the MinIO binary tests
// use).
func cli(args ...string) (int, string) {
	var out bytes.Buffer
	bin, _ := testenv.MinIOBin()
	code := run(args, mapEnv(map[string]string{"TYOKYKY_MINIO_BIN": bin}), &out, &out)
	return code, out.String()
}

// passExam registers a learner who completes the course, passes the
// exam over the API and so gets a certificate; it returns the learner's
// client and the certificate's id.
func passExam(t *testing.T, base string, db *database.DB, email string) (*learnerClient, string) {
	t.Helper()
	ctx := context.Background()
	c, problems := course.Load(content.Bundled())
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	accounts := account.NewStore(db)
	u, errs := accounts.Register(ctx, account.Registration{Email: email, Name: "Varma Varmuuskopio", Password: "varmuuskopion salalause",
		Organisation: account.Organisations[0]})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := completeCourse(ctx, study.NewProgress(db), c, u.ID); err != nil {
		t.Fatal(err)
	}
	token, _, err := accounts.StartSession(ctx, u, false, "backup test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	lc := &learnerClient{base: base, token: token, http: &http.Client{Timeout: 30 * time.Second}}
	code, body, err := lc.do("POST", "/api/v1/exam/attempts", "")
	if err != nil || code != 201 {
		t.Fatalf("starting the exam: %d %s %v", code, body, err)
	}
	var a struct{ ID string }
	json.Unmarshal([]byte(body), &a)
	full, err := exam.NewStore(db, nil).Get(ctx, u.ID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range full.Items {
		b, _ := json.Marshal(rightAnswer(d))
		if code, body, err := lc.do("PUT", "/api/v1/exam/attempts/"+a.ID+"/answers/"+d.ID, string(b)); err != nil || code != 200 {
			t.Fatalf("saving an exam answer: %d %s %v", code, body, err)
		}
	}
	if code, body, err := lc.do("POST", "/api/v1/exam/attempts/"+a.ID+"/submit", ""); err != nil || code != 200 {
		t.Fatalf("submitting: %d %s %v", code, body, err)
	}
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		_, body, _ := lc.do("GET", "/api/v1/certificates", "")
		var list struct{ Certificates []struct{ ID string } }
		json.Unmarshal([]byte(body), &list)
		if len(list.Certificates) == 1 {
			return lc, list.Certificates[0].ID
		}
	}
	t.Fatal("no certificate for the passed exam")
	return nil, ""
}

// archiveContents reads a backup: each collection's documents by _id,
// and the manifest.
func archiveContents(t *testing.T, path string) (map[string]map[string][]byte, *backup.Manifest) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	docs := map[string]map[string][]byte{}
	var m backup.Manifest
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case h.Name == backup.ManifestEntry:
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(h.Name, "db/"):
			coll := strings.TrimPrefix(filepath.Dir(h.Name), "db/")
			if docs[coll] == nil {
				docs[coll] = map[string][]byte{}
			}
			for len(data) > 0 {
				doc := bson.Raw(data[:int(uint32(data[0])|uint32(data[1])<<8|uint32(data[2])<<16|uint32(data[3])<<24)])
				docs[coll][doc.Lookup("_id").String()] = doc
				data = data[len(doc):]
			}
		}
	}
	return docs, &m
}

// databaseContents reads every collection of a database by _id, with its
// index specifications.
func databaseContents(t *testing.T, db *database.DB) (map[string]map[string][]byte, map[string]string) {
	t.Helper()
	ctx := context.Background()
	names, err := db.CollectionNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	docs, indexes := map[string]map[string][]byte{}, map[string]string{}
	for _, n := range names {
		docs[n] = map[string][]byte{}
		err := db.Scan(ctx, n, func(doc bson.Raw) error {
			docs[n][doc.Lookup("_id").String()] = bytes.Clone(doc)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		specs, err := db.IndexSpecs(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		var js []string
		for _, s := range specs {
			j, _ := bson.MarshalExtJSON(s, true, false)
			js = append(js, string(j))
		}
		indexes[n] = strings.Join(js, ",")
	}
	return docs, indexes
}

// sameAsArchive compares a database with a backup: the same collections,
// each document byte for byte, the same indexes.
func sameAsArchive(t *testing.T, what string, db *database.DB, docs map[string]map[string][]byte, m *backup.Manifest) {
	t.Helper()
	got, indexes := databaseContents(t, db)
	if len(got) != len(m.Collections) {
		t.Errorf("%s: %d collections, the backup has %d", what, len(got), len(m.Collections))
	}
	for _, c := range m.Collections {
		if len(got[c.Name]) != int(c.Documents) || len(docs[c.Name]) != int(c.Documents) {
			t.Errorf("%s: %s has %d documents, the backup %d (manifest %d)", what, c.Name, len(got[c.Name]), len(docs[c.Name]), c.Documents)
		}
		for id, doc := range docs[c.Name] {
			if !bytes.Equal(doc, got[c.Name][id]) {
				t.Errorf("%s: %s %s differs from the backup:\n%s\n%s", what, c.Name, id, bson.Raw(got[c.Name][id]), bson.Raw(doc))
				break
			}
		}
		var want []string
		for _, j := range c.Indexes {
			var b bytes.Buffer
			json.Compact(&b, j)
			want = append(want, b.String())
		}
		if indexes[c.Name] != strings.Join(want, ",") {
			t.Errorf("%s: %s has indexes %s, the backup %s", what, c.Name, indexes[c.Name], strings.Join(want, ","))
		}
	}
}

// bucketContents lists a bucket's objects with their SHA-256.
func bucketContents(t *testing.T, store *media.ObjectStore) map[string]string {
	t.Helper()
	ctx := context.Background()
	list, err := store.ListObjects(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range list {
		r, _, err := store.OpenVersion(ctx, o.Key, o.ETag)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[o.Key] = fmt.Sprintf("%d %s", n, hex.EncodeToString(h.Sum(nil)))
	}
	return out
}

func attachedBucket(t *testing.T, data string) *media.ObjectStore {
	t.Helper()
	endpoint, creds, ok := minioproc.Attach(filepath.Join(data, "minio"))
	if !ok {
		t.Fatalf("no MinIO runs on %s", data)
	}
	s, err := media.NewObjectStore(media.ObjectStoreOptions{Endpoint: endpoint, Region: "us-east-1", AccessKey: creds.AccessKey, SecretKey: creds.SecretKey, Bucket: "tyokyky"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pageNonce and the like differ between any two answers.
var volatile = regexp.MustCompile(`(nonce|csrf|request-id)="[^"]*"`)

// TestBackupRoundTrip: a populated platform (learners with progress, a
// passed exam with its certificate, a draft, media) is backed up while
// learners keep saving; the backup verifies, restores into a new data
// folder and into a database reached by URI with an S3 endpoint, and
// both equal the backup; every save acknowledged before the backup began
// is in it; a fresh instance on the restored data answers the same pages
// and APIs as the original, and the certificate still verifies there.
func TestBackupRoundTrip(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	env := []string{"TYOKYKY_REQUIRE_VERIFIED_EMAIL=false", "TYOKYKY_LOG_LEVEL=warn"}
	s := startServer(t, data, env...)
	base := "http://" + s.addr
	tasks := courseTasks(t, base, 3)

	// The platform's data: a media item, a certificate, a draft, learners
	// with progress.
	dir := t.TempDir()
	video, err := testenv.SampleMedia(dir, "video", 2)
	if err != nil {
		t.Fatal(err)
	}
	if code, out := cli("media", "upload", video, "--title", "Varmuuskopion video", "--id", "m-varmuus", "--data-dir", data); code != 0 {
		t.Fatalf("media upload = %d:\n%s", code, out)
	}
	db, err := database.Open(ctx, database.Options{Database: "tyokyky", Dir: filepath.Join(data, "db"), Attach: true})
	if err != nil {
		t.Fatal(err)
	}
	passer, certID := passExam(t, base, db, "todistus@example.fi")
	if err := studio.NewStore(db).SaveDraft(ctx, studio.Draft{Path: "modules/01-tyokyvyn-tuki/02-palvelupolku.md", Data: "# Luonnos\n\nKesken.\n", BaseRev: 1, By: "kirjoittaja", UpdatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	db.Close(ctx)
	const learners = 6
	clients := make([]*learnerClient, learners)
	for i := range clients {
		clients[i] = newLearner(t, base, fmt.Sprintf("varmuus%d@example.fi", i))
	}

	// Learners save answers all along; the backup runs in the middle.
	type key struct{ learner, task int }
	var mu sync.Mutex
	sent := map[key]int{}
	acks := 0
	var backupStarted time.Time
	ackedBefore := map[key]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				k := key{i, n % len(tasks)}
				mu.Lock()
				sent[k] = n
				mu.Unlock()
				code, _, err := c.do("PUT", "/api/v1/tasks/"+tasks[k.task]+"/answer", fmt.Sprintf(`{"text":"vastaus %d"}`, n))
				if err == nil && code == 200 {
					mu.Lock()
					acks++
					if backupStarted.IsZero() {
						ackedBefore[k] = n
					}
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(time.Second)
	out := t.TempDir()
	mu.Lock()
	backupStarted = time.Now()
	mu.Unlock()
	code, msg := cli("backup", "--out", out, "--include-key-files", "--data-dir", data)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("backup = %d:\n%s", code, msg)
	}
	t.Logf("backup:\n%s", msg)
	archives, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(archives) != 1 || !regexp.MustCompile(`/tyokyky-backup-\d{8}T\d{6}Z\.tar\.zst$`).MatchString(archives[0]) {
		t.Fatalf("the backup folder holds %v", archives)
	}
	archive := archives[0]
	if code, msg := cli("backup", "verify", archive); code != 0 || !strings.HasPrefix(msg, "ok: ") {
		t.Fatalf("backup verify = %d:\n%s", code, msg)
	}
	docs, m := archiveContents(t, archive)
	if m.Source != "embedded" || !m.Snapshot || m.Counts.Objects < 1 || m.Counts.KeyFiles != 2 || // the certificates' and the LTI tool's signing keys
		len(docs["certificates"]) != 1 || len(docs["content_drafts"]) != 1 {
		t.Fatalf("the backup lacks what the platform holds: %+v; collections %v", m.Counts, func() []string {
			var n []string
			for c := range docs {
				n = append(n, c)
			}
			sort.Strings(n)
			return n
		}())
	}
	original := bucketContents(t, attachedBucket(t, data))

	// Restore into a new data folder, then check it while nothing runs
	// on it.
	data2 := t.TempDir()
	if code, msg := cli("restore", archive, "--data-dir", data2); code != 0 {
		t.Fatalf("restore = %d:\n%s", code, msg)
	}
	restored, err := database.Open(ctx, database.Options{Database: "tyokyky", Dir: filepath.Join(data2, "db"), NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	sameAsArchive(t, "the restored data folder", restored, docs, m)
	restored.Close(ctx)
	if st, err := os.Stat(filepath.Join(data2, "keys")); err != nil || !st.IsDir() {
		t.Fatalf("no key folder restored: %v", err)
	}

	// Restore into a database reached by URI and a bucket at an S3
	// endpoint (the way to move to MongoDB): equal too.
	other, err := database.Open(ctx, database.Options{Database: "elsewhere", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	other.Collection("health").Drop(ctx) // the probe write of Open
	minio, err := testenv.StartMinIO(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer minio.Close()
	if code, msg := cli("restore", archive, "--mongodb-uri", other.Embedded.URI(), "--mongodb-database", "elsewhere", "--data-dir", t.TempDir(),
		"--s3-endpoint", minio.Endpoint(), "--s3-access-key", minio.Credentials.AccessKey, "--s3-secret-key", minio.Credentials.SecretKey, "--s3-bucket", "siirretty"); code != 0 {
		t.Fatalf("restore by URI = %d:\n%s", code, msg)
	}
	sameAsArchive(t, "the database restored by URI", other, docs, m)
	moved, err := minio.Store(ctx, "siirretty")
	if err != nil {
		t.Fatal(err)
	}
	if got := bucketContents(t, moved); fmt.Sprint(got) != fmt.Sprint(original) {
		t.Errorf("the bucket restored at an S3 endpoint:\n%v\nthe original:\n%v", got, original)
	}

	// A fresh instance on the restored folder, with the original's
	// address for certificates.
	s2 := startServer(t, data2, append(env, "TYOKYKY_BASE_URL="+base)...)
	base2 := "http://" + s2.addr
	if got := bucketContents(t, attachedBucket(t, data2)); fmt.Sprint(got) != fmt.Sprint(original) {
		t.Errorf("the restored bucket:\n%v\nthe original:\n%v", got, original)
	}
	for k, want := range ackedBefore {
		c := &learnerClient{base: base2, token: clients[k.learner].token, http: clients[k.learner].http}
		code, body, err := c.do("GET", "/api/v1/tasks/"+tasks[k.task]+"/answer", "")
		var a struct{ Text string }
		json.Unmarshal([]byte(body), &a)
		var got int
		fmt.Sscanf(a.Text, "vastaus %d", &got)
		if err != nil || code != 200 || got < want || got > sent[k] {
			t.Errorf("learner %d, task %d: the restored answer is %q (%d), acknowledged before the backup %d, last sent %d", k.learner, k.task, a.Text, code, want, sent[k])
		}
	}
	t.Logf("%d saves acknowledged in all; the last before the backup of %d answers checked", acks, len(ackedBefore))
	if len(ackedBefore) == 0 {
		t.Fatal("no answer was acknowledged before the backup: the load did not run")
	}

	// The same pages and APIs from both instances.
	restoredPasser := &learnerClient{base: base2, token: passer.token, http: passer.http}
	for _, path := range []string{"/osiot/tyokyvyn-tuki", "/api/v1/course", "/todistus/" + certID, "/sanasto/tyokyky", "/api/v1/media"} {
		_, a := get(base + path)
		_, b := get(base2 + path)
		if path == "/api/v1/media" { // presigned links name each store
			link := regexp.MustCompile(`"(url|poster)":"[^"]*"`)
			a, b = link.ReplaceAllString(a, ""), link.ReplaceAllString(b, "")
		}
		if volatile.ReplaceAllString(a, "") != volatile.ReplaceAllString(b, "") {
			t.Errorf("%s differs between the original and the restored instance:\n%s\n----\n%s", path, a, b)
		}
	}
	for _, path := range []string{"/api/v1/progress", "/api/v1/certificates"} {
		ca, a, _ := passer.do("GET", path, "")
		cb, b, _ := restoredPasser.do("GET", path, "")
		if ca != cb || a != b {
			t.Errorf("%s (the passer's token) differs: %d %s\n----\n%d %s", path, ca, a, cb, b)
		}
	}
	if !strings.Contains(httpGet(t, base2+"/todistus/"+certID), "Varma Varmuuskopio") {
		t.Error("the restored certificate page does not name its holder")
	}
	_, body, _ := restoredPasser.do("GET", "/api/v1/certificates", "")
	var list struct{ Certificates []struct{ Token string } }
	json.Unmarshal([]byte(body), &list)
	if len(list.Certificates) != 1 {
		t.Fatalf("certificates on the restored instance: %s", body)
	}
	resp, err := http.Post(base2+"/api/v1/certificates/verify", "application/json", strings.NewReader(fmt.Sprintf(`{"token":%q}`, list.Certificates[0].Token)))
	if err != nil {
		t.Fatal(err)
	}
	verdict, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(verdict), `"valid":true`) {
		t.Fatalf("the certificate does not verify on the restored instance: %s", verdict)
	}
}

// storedPlatform makes a data folder with an embedded store holding a few
// documents and a bucket holding a random object of size bytes, with
// nothing running on it.
func storedPlatform(t *testing.T, size int) string {
	t.Helper()
	ctx := context.Background()
	data := t.TempDir()
	db, err := database.Open(ctx, database.Options{Database: "tyokyky", Dir: filepath.Join(data, "db")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := db.Collection("progress").InsertOne(ctx, bson.D{{Key: "_id", Value: i}, {Key: "section", Value: "palvelupolku"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Collection("users").InsertOne(ctx, bson.D{{Key: "_id", Value: "u1"}, {Key: "email", Value: "a@example.fi"}}); err != nil {
		t.Fatal(err)
	}
	db.Close(ctx)
	bin, _ := testenv.MinIOBin()
	p, err := minioproc.Start(ctx, minioproc.Options{Bin: bin, Dir: filepath.Join(data, "minio")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(10 * time.Second)
	store, err := media.NewObjectStore(media.ObjectStoreOptions{Endpoint: p.Endpoint(), Region: "us-east-1", AccessKey: p.Credentials.AccessKey, SecretKey: p.Credentials.SecretKey, Bucket: "tyokyky"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, size)
	rand.Read(body) // does not compress
	if err := store.PutStream(ctx, "media/iso.mp4", bytes.NewReader(body), int64(size), "video/mp4"); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestBackupAndRestoreRefusals: every bad input is a clear error with a
// non-zero exit, and no partial archive stays behind.
func TestBackupAndRestoreRefusals(t *testing.T) {
	ctx := context.Background()
	data := storedPlatform(t, 1<<20)
	out := t.TempDir()
	if code, msg := cli("backup", "--data-dir", t.TempDir()); code != 1 || !strings.Contains(msg, "no embedded store") {
		t.Fatalf("backup of nothing = %d:\n%s", code, msg)
	}
	code, msg := cli("backup", "--out", out, "--data-dir", data)
	if code != 0 {
		t.Fatalf("backup = %d:\n%s", code, msg)
	}
	archives, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(archives) != 1 {
		t.Fatalf("the backup folder holds %v", archives)
	}
	archive := archives[0]
	if code, msg := cli("backup", "--out", archive, "--data-dir", data); code != 1 || !strings.Contains(msg, "exists already") {
		t.Fatalf("backup over a file = %d:\n%s", code, msg)
	}
	if code, msg := cli("backup", "--out", "/no/such/folder/b.tar.zst", "--data-dir", data); code != 1 || !strings.Contains(msg, "cannot write in /no/such/folder") {
		t.Fatalf("backup into a missing folder = %d:\n%s", code, msg)
	}
	if code, _ := cli("backup", "verify"); code != 2 {
		t.Fatalf("verify without a file = %d", code)
	}
	if code, msg := cli("backup", "verify", filepath.Join(out, "none.tar.zst")); code != 1 || !strings.Contains(msg, "no such file") {
		t.Fatalf("verify of a missing file = %d:\n%s", code, msg)
	}
	whole, _ := os.ReadFile(archive)
	cut := filepath.Join(t.TempDir(), "cut.tar.zst")
	os.WriteFile(cut, whole[:len(whole)/2], 0o600)
	if code, msg := cli("backup", "verify", cut); code != 1 || !strings.Contains(msg, "objects/media/iso.mp4: truncated") {
		t.Fatalf("verify of a truncated archive = %d:\n%s", code, msg)
	}
	if code, msg := cli("restore", cut, "--data-dir", t.TempDir()); code != 1 || !strings.Contains(msg, "objects/media/iso.mp4: truncated") {
		t.Fatalf("restore of a truncated archive = %d:\n%s", code, msg)
	}

	// Restore into a target that holds data: refused, then --force says
	// what it replaces.
	if code, msg := cli("restore", archive, "--data-dir", data); code != 1 || !strings.Contains(msg, "the target is not empty: the database tyokyky has 3 collections, the bucket tyokyky has 1 objects") ||
		!strings.Contains(msg, "--force") {
		t.Fatalf("restore into a full target = %d:\n%s", code, msg)
	}
	if code, msg := cli("restore", archive, "--data-dir", data, "--force"); code != 0 || !strings.Contains(msg, "collection progress: 50 documents") ||
		!strings.Contains(msg, "bucket tyokyky: 1 objects") {
		t.Fatalf("forced restore = %d:\n%s", code, msg)
	}
	if code, msg := cli("restore", archive, "--mongodb-uri", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500", "--data-dir", t.TempDir()); code != 1 || !strings.Contains(msg, "cannot reach") {
		t.Fatalf("restore into an unreachable database = %d:\n%s", code, msg)
	}
	if code, msg := cli("backup", "--out", "s3://elsewhere/x", "--data-dir", data, "--s3-endpoint", "http://127.0.0.1:1", "--s3-access-key", "a", "--s3-secret-key", "b"); code != 1 {
		t.Fatalf("backup to an unreachable store = %d:\n%s", code, msg)
	}

	// A store behind a URI that cannot give a snapshot (FerretDB) is
	// refused, unless --no-snapshot, which says so and records it.
	ferret, err := database.Open(ctx, database.Options{Database: "tyokyky", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ferret.Close(ctx)
	if code, msg := cli("backup", "--out", t.TempDir(), "--data-dir", data, "--mongodb-uri", ferret.Embedded.URI()); code != 1 ||
		!strings.Contains(msg, "cannot give a snapshot") || !strings.Contains(msg, "FerretDB") || !strings.Contains(msg, "--no-snapshot") {
		t.Fatalf("backup without a snapshot = %d:\n%s", code, msg)
	}
	loose := t.TempDir()
	if code, msg := cli("backup", "--out", loose, "--data-dir", data, "--mongodb-uri", ferret.Embedded.URI(), "--no-snapshot"); code != 0 || !strings.Contains(msg, "warning: no snapshot") {
		t.Fatalf("backup --no-snapshot = %d:\n%s", code, msg)
	}
	looseArchive, _ := filepath.Glob(filepath.Join(loose, "*"))
	_, m := archiveContents(t, looseArchive[0])
	if m.Snapshot || m.Source != "mongodb" {
		t.Fatalf("the manifest of a backup without a snapshot: snapshot %v, source %s", m.Snapshot, m.Source)
	}

	// To S3: a streaming upload to a .partial key, copied to its name.
	if code, msg := cli("backup", "--out", "s3://tyokyky/x", "--data-dir", data); code != 1 || !strings.Contains(msg, "the bucket it backs up") {
		t.Fatalf("backup into its own bucket = %d:\n%s", code, msg)
	}
	code, msg = cli("backup", "--out", "s3://backups/nightly", "--data-dir", data)
	if code != 0 || !regexp.MustCompile(`s3://backups/nightly/tyokyky-backup-\d{8}T\d{6}Z\.tar\.zst`).MatchString(msg) {
		t.Fatalf("backup to S3 = %d:\n%s", code, msg)
	}
	bin, _ := testenv.MinIOBin()
	p, err := minioproc.Start(ctx, minioproc.Options{Bin: bin, Dir: filepath.Join(data, "minio")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(10 * time.Second)
	backups, err := media.NewObjectStore(media.ObjectStoreOptions{Endpoint: p.Endpoint(), Region: "us-east-1", AccessKey: p.Credentials.AccessKey, SecretKey: p.Credentials.SecretKey, Bucket: "backups"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := backups.ListObjects(ctx, "")
	if err != nil || len(list) != 1 || !strings.HasPrefix(list[0].Key, "nightly/tyokyky-backup-") || !strings.HasSuffix(list[0].Key, ".tar.zst") {
		t.Fatalf("the backups bucket holds %+v (%v)", list, err)
	}
	r, _, err := backups.OpenVersion(ctx, list[0].Key, list[0].ETag)
	if err != nil {
		t.Fatal(err)
	}
	rep := backup.Verify(r)
	r.Close()
	if rep.Err() != nil || rep.Manifest.Counts.Objects != 1 {
		t.Fatalf("the backup stored in S3 does not verify: %v", rep.Err())
	}
}

// TestBackupOnAFullDisk: a backup whose folder fills up fails with a
// clear error and leaves no partial archive. It runs in its own user and
// mount namespace with a 2 MB tmpfs as the backup folder.
func TestBackupOnAFullDisk(t *testing.T) {
	data := storedPlatform(t, 6<<20) // more than the disk
	vol := filepath.Join(t.TempDir(), "vol")
	if err := os.Mkdir(vol, 0o700); err != nil {
		t.Fatal(err)
	}
	bin, _ := testenv.MinIOBin()
	cmd := exec.Command(os.Args[0], "backup", "--out", vol, "--data-dir", data)
	cmd.Env = append(os.Environ(), "TYOKYKY_TEST_AS_MAIN=1", "TYOKYKY_TEST_TMPFS="+vol+":2m", "TYOKYKY_TEST_LIST_AFTER="+vol, "TYOKYKY_MINIO_BIN="+bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}}
	out, err := cmd.CombinedOutput()
	code := cmd.ProcessState.ExitCode()
	if err == nil || code != 1 || !strings.Contains(string(out), "writing the archive: write") || !strings.Contains(string(out), "no space left on device") {
		t.Fatalf("backup on a full disk = %d (%v):\n%s", code, err, out)
	}
	if !strings.Contains(string(out), "test listing: []") {
		t.Fatalf("the full disk kept a partial archive:\n%s", out)
	}
}

// TestScheduledBackupsInTheServer (issue 25): with TYOKYKY_BACKUP_DIR the
// server takes backups on its schedule, keeps TYOKYKY_BACKUP_KEEP of
// them, each one verifies, and /readyz and /metrics tell the last
// success.
func TestScheduledBackupsInTheServer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backups")
	s := startServer(t, t.TempDir(), "TYOKYKY_BACKUP_DIR="+dir, "TYOKYKY_BACKUP_EVERY=2s", "TYOKYKY_BACKUP_KEEP=2")
	base := "http://" + s.addr
	deadline := time.Now().Add(90 * time.Second)
	for strings.Count(s.stderr.String(), "scheduled backup taken") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than three scheduled backups in 90 s:\n%s", s.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the third one's pruning
	names, err := filepath.Glob(filepath.Join(dir, "tyokyky-backup-*.tar.zst"))
	if err != nil || len(names) != 2 {
		t.Fatalf("archives kept: %v %v", names, err)
	}
	for _, n := range names {
		if code, msg := cli("backup", "verify", n); code != 0 {
			t.Errorf("%s does not verify: %s", n, msg)
		}
	}
	code, body := get(base + "/readyz")
	var ready struct {
		Status string
		Backup struct {
			Target      string    `json:"target"`
			LastSuccess time.Time `json:"last_success"`
			LastArchive string    `json:"last_archive"`
			LastError   string    `json:"last_error"`
		}
	}
	if err := json.Unmarshal([]byte(body), &ready); err != nil || code != 200 || ready.Backup.LastSuccess.IsZero() ||
		ready.Backup.Target != dir || !strings.HasPrefix(ready.Backup.LastArchive, dir) || ready.Backup.LastError != "" {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	_, metrics := get(base + "/metrics")
	if !regexp.MustCompile(`(?m)^tyokyky_backup_last_success_timestamp_seconds [1-9]`).MatchString(metrics) {
		t.Error("/metrics lacks the last backup's time")
	}
}
