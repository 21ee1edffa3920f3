package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/media"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.Start) }

// fixture is a populated database, bucket and key folder.
type fixture struct {
	db      *database.DB
	store   *media.ObjectStore
	keyDir  string
	objects map[string][]byte
}

func populate(t testing.TB, docs int) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: env.Database(), keyDir: t.TempDir(), objects: map[string][]byte{}}
	var err error
	if f.store, err = env.Store(ctx); err != nil {
		t.Fatal(err)
	}
	learners := f.db.Collection("learners")
	var batch []any
	for i := range docs {
		batch = append(batch, bson.D{{Key: "_id", Value: fmt.Sprintf("u%05d", i)}, {Key: "email", Value: fmt.Sprintf("l%d@example.fi", i)},
			{Key: "n", Value: int64(i)}, {Key: "small", Value: int32(i)}, {Key: "at", Value: time.UnixMilli(1700000000000 + int64(i)).UTC()},
			{Key: "progress", Value: bson.D{{Key: "sections", Value: bson.A{"a", "b", i % 7}}, {Key: "text", Value: strings.Repeat("työkyky ", 20)}}}})
		if len(batch) == 500 {
			if _, err := learners.InsertMany(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if _, err := learners.InsertMany(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.db.CreateIndexSpecs(ctx, "learners", []bson.D{{{Key: "key", Value: bson.D{{Key: "email", Value: 1}}}, {Key: "name", Value: "email_unique"}, {Key: "unique", Value: true}}}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateCollection(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 3, 2} {
		if _, err := f.db.Collection(SchemaCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: n}, {Key: "name", Value: fmt.Sprintf("m%d", n)}}); err != nil {
			t.Fatal(err)
		}
	}
	for key, size := range map[string]int{"media/video/abc.mp4": 3<<20 + 17, "media/a.vtt": 120, "figures/x.png": 0} {
		data := make([]byte, size)
		rand.Read(data)
		f.objects[key] = data
		if err := f.store.PutStream(ctx, key, bytes.NewReader(data), int64(size), "video/mp4"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(f.keyDir, "kid1.pem"), []byte("-----BEGIN PRIVATE KEY-----\nsecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// take writes a backup of f into a file and returns its path.
func (f *fixture) take(t testing.TB, o Options) (string, *Manifest) {
	t.Helper()
	ctx := context.Background()
	src, err := OpenSource(ctx, SourceOptions{Live: f.db, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out, err := CreateFile(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	o.Objects, o.AppVersion = f.store, "test-1"
	m, err := Write(ctx, out, src, o)
	if err != nil {
		out.Abort()
		t.Fatal(err)
	}
	if err := out.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return out.Name(), m
}

func opener(path string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return os.Open(path) }
}

func verifyFile(t testing.TB, path string) *Report {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	return Verify(file)
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := populate(t, 3000)
	path, m := f.take(t, Options{KeyDir: f.keyDir, PartSize: 64 << 10})
	if !strings.HasPrefix(filepath.Base(path), "tyokyky-backup-") || !strings.HasSuffix(path, ".tar.zst") {
		t.Fatalf("archive name %s", path)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	if m.SchemaVersion != 3 || m.Source != "embedded" || !m.Snapshot || m.Counts.Objects != 3 || m.Counts.KeyFiles != 1 {
		t.Fatalf("manifest: %+v", m)
	}
	var learners *Collection
	for i := range m.Collections {
		if m.Collections[i].Name == "learners" {
			learners = &m.Collections[i]
		}
	}
	if learners == nil || learners.Documents != 3000 || len(learners.Parts) < 3 {
		t.Fatalf("learners in the manifest: %+v", learners)
	}
	var indexes []string
	for _, j := range learners.Indexes {
		indexes = append(indexes, string(j))
	}
	if !strings.Contains(strings.Join(indexes, ","), `"email_unique"`) {
		t.Fatalf("indexes: %s", indexes)
	}
	rep := verifyFile(t, path)
	if err := rep.Err(); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rep.Manifest.Counts != m.Counts {
		t.Fatalf("verify counts %+v, written %+v", rep.Manifest.Counts, m.Counts)
	}

	// Restore into an empty database, bucket and key folder.
	store2, err := env.Store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	target := Target{DB: env.Database(), Objects: store2, KeyDir: filepath.Join(t.TempDir(), "keys")}
	if _, err := Restore(ctx, opener(path), target, RestoreOptions{BatchDocs: 700}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	sameDatabases(t, f.db, target.DB)
	for key, data := range f.objects {
		r, info, err := store2.OpenVersion(ctx, key, mustStat(t, store2, key).ETag)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r)
		r.Close()
		if !bytes.Equal(got, data) || info.ContentType != "video/mp4" {
			t.Errorf("object %s: %d bytes (%s), want %d", key, len(got), info.ContentType, len(data))
		}
	}
	st, err := os.Stat(filepath.Join(target.KeyDir, "kid1.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}

	// Not into a target that holds data, unless forced.
	_, err = Restore(ctx, opener(path), target, RestoreOptions{})
	if !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), "objects") {
		t.Fatalf("restore into a full target: %v", err)
	}
	if _, err := target.DB.Collection("learners").DeleteOne(ctx, bson.D{{Key: "_id", Value: "u00001"}}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := Restore(ctx, opener(path), target, RestoreOptions{Force: true, Out: &out}); err != nil {
		t.Fatalf("forced restore: %v", err)
	}
	if !strings.Contains(out.String(), "collection learners: 2999 documents") || !strings.Contains(out.String(), "3 objects") {
		t.Fatalf("the forced restore did not say what it replaced:\n%s", out.String())
	}
	sameDatabases(t, f.db, target.DB)
}

func mustStat(t testing.TB, s *media.ObjectStore, key string) media.ObjectInfo {
	t.Helper()
	info, err := s.StatObject(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// sameDatabases compares two databases: the same collections, each with
// the same documents byte for byte and the same indexes.
func sameDatabases(t testing.TB, a, b *database.DB) {
	t.Helper()
	ctx := context.Background()
	na, err := a.CollectionNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := b.CollectionNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(na, ",") != strings.Join(nb, ",") {
		t.Fatalf("collections %v, want %v", nb, na)
	}
	for _, name := range na {
		da, db := documents(t, a, name), documents(t, b, name)
		if len(da) != len(db) {
			t.Errorf("%s: %d documents, want %d", name, len(db), len(da))
		}
		for id, doc := range da {
			if !bytes.Equal(doc, db[id]) {
				t.Errorf("%s: document %s differs:\n%s\n%s", name, id, bson.Raw(doc), bson.Raw(db[id]))
				break
			}
		}
		ia, _ := a.IndexSpecs(ctx, name)
		ib, _ := b.IndexSpecs(ctx, name)
		ja, _ := json.Marshal(extJSON(ia))
		jb, _ := json.Marshal(extJSON(ib))
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s: indexes %s, want %s", name, jb, ja)
		}
	}
}

func extJSON(specs []bson.D) []string {
	var out []string
	for _, s := range specs {
		j, _ := bson.MarshalExtJSON(s, true, false)
		out = append(out, string(j))
	}
	return out
}

func documents(t testing.TB, db *database.DB, name string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := db.Scan(context.Background(), name, func(doc bson.Raw) error {
		out[doc.Lookup("_id").String()] = bytes.Clone(doc)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rewrite decompresses an archive, passes each entry to fn (which may
// change it, or drop it by returning a nil header) and compresses it
// again.
func rewrite(t testing.TB, archive []byte, fn func(h *tar.Header, data []byte) (*tar.Header, []byte)) []byte {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw, _ := zstd.NewWriter(&out)
	tw := tar.NewWriter(zw)
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
		h, data = fn(h, data)
		if h == nil {
			continue
		}
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	return out.Bytes()
}

func problemsOf(t testing.TB, archive []byte) string {
	t.Helper()
	rep := Verify(bytes.NewReader(archive))
	if rep.Err() == nil {
		t.Fatal("a damaged archive verified")
	}
	return rep.Err().Error()
}

func TestVerifyNamesTheDamagedEntry(t *testing.T) {
	f := populate(t, 300)
	path, _ := f.take(t, Options{PartSize: 16 << 10})
	archive, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const video = "objects/media/video/abc.mp4"

	t.Run("a flipped byte in an object's bytes", func(t *testing.T) {
		bad := rewrite(t, archive, func(h *tar.Header, data []byte) (*tar.Header, []byte) {
			if h.Name == video {
				data[len(data)/2] ^= 0x40
			}
			return h, data
		})
		if got := problemsOf(t, bad); got != video+": checksum mismatch" {
			t.Fatalf("problems:\n%s", got)
		}
	})
	t.Run("a flipped byte in the compressed file", func(t *testing.T) {
		// The video is random, so zstd stores it as it is: find a piece of
		// it in the file and flip a byte there.
		piece := f.objects["media/video/abc.mp4"][1<<20 : 1<<20+64]
		at := bytes.Index(archive, piece)
		if at < 0 {
			t.Fatal("the object's bytes are not in the compressed file")
		}
		bad := bytes.Clone(archive)
		bad[at+10] ^= 0x01
		got := problemsOf(t, bad)
		if !strings.HasPrefix(got, video+": ") {
			t.Fatalf("problems:\n%s", got)
		}
	})
	t.Run("a flipped byte in a documents entry", func(t *testing.T) {
		bad := rewrite(t, archive, func(h *tar.Header, data []byte) (*tar.Header, []byte) {
			if h.Name == "db/learners/000002.bson" {
				data[100] ^= 0x01
			}
			return h, data
		})
		if got := problemsOf(t, bad); !strings.HasPrefix(got, "db/learners/000002.bson: ") {
			t.Fatalf("problems:\n%s", got)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		// Cut inside the video: the video is named, and the manifest was
		// never reached.
		piece := f.objects["media/video/abc.mp4"][2<<20 : 2<<20+64]
		at := bytes.Index(archive, piece)
		got := problemsOf(t, archive[:at])
		if !strings.HasPrefix(got, video+": truncated") || !strings.Contains(got, "manifest.json: not reached") {
			t.Fatalf("problems:\n%s", got)
		}
		// Cut anywhere: always a problem.
		for _, n := range []int{0, 10, len(archive) / 3, len(archive) - 100, len(archive) - 1} {
			rep := Verify(bytes.NewReader(archive[:n]))
			if rep.Err() == nil {
				t.Fatalf("cut at %d of %d verified", n, len(archive))
			}
		}
	})
	t.Run("an entry removed", func(t *testing.T) {
		bad := rewrite(t, archive, func(h *tar.Header, data []byte) (*tar.Header, []byte) {
			if h.Name == "objects/media/a.vtt" {
				return nil, nil
			}
			return h, data
		})
		if got := problemsOf(t, bad); got != "objects/media/a.vtt: missing" {
			t.Fatalf("problems:\n%s", got)
		}
	})
	t.Run("an entry added", func(t *testing.T) {
		bad := rewrite(t, archive, func(h *tar.Header, data []byte) (*tar.Header, []byte) {
			if h.Name == "objects/media/a.vtt" {
				h.Name = "objects/media/b.vtt"
			}
			return h, data
		})
		got := problemsOf(t, bad)
		if !strings.Contains(got, "objects/media/b.vtt: is not in the manifest") || !strings.Contains(got, "objects/media/a.vtt: missing") {
			t.Fatalf("problems:\n%s", got)
		}
	})
	t.Run("a newer format", func(t *testing.T) {
		bad := rewrite(t, archive, func(h *tar.Header, data []byte) (*tar.Header, []byte) {
			if h.Name == ManifestEntry {
				data = bytes.Replace(data, []byte(`"format": 1,`), []byte(`"format": 3,`), 1)
			}
			return h, data
		})
		got := problemsOf(t, bad)
		if !strings.HasPrefix(got, "manifest: format 3 is newer than this binary knows (1)") {
			t.Fatalf("problems:\n%s", got)
		}
		// A restore refuses it before it touches the target.
		p := filepath.Join(t.TempDir(), "new.tar.zst")
		os.WriteFile(p, bad, 0o600)
		target := Target{DB: env.Database()}
		_, err := Restore(context.Background(), opener(p), target, RestoreOptions{})
		if err == nil || !strings.Contains(err.Error(), "newer than this binary knows") {
			t.Fatalf("restore of a newer format: %v", err)
		}
		if names, _ := target.DB.CollectionNames(context.Background()); len(names) != 0 {
			t.Fatalf("the refused restore created %v", names)
		}
	})
	t.Run("not an archive", func(t *testing.T) {
		if got := problemsOf(t, []byte("hello, world")); !strings.HasPrefix(got, "archive: ") {
			t.Fatalf("problems:\n%s", got)
		}
	})
}

// A restore checks every object's bytes as it uploads them.
func TestRestoreChecksTheBytesItUploads(t *testing.T) {
	ctx := context.Background()
	f := populate(t, 10)
	path, _ := f.take(t, Options{})
	// A damaged archive is refused before the target is touched.
	archive, _ := os.ReadFile(path)
	bad := rewrite(t, archive, func(h *tar.Header, data []byte) (*tar.Header, []byte) {
		if h.Name == "objects/media/video/abc.mp4" {
			data[0] ^= 1
		}
		return h, data
	})
	p := filepath.Join(t.TempDir(), "bad.tar.zst")
	os.WriteFile(p, bad, 0o600)
	store, _ := env.Store(ctx)
	target := Target{DB: env.Database(), Objects: store, KeyDir: t.TempDir()}
	_, err := Restore(ctx, opener(p), target, RestoreOptions{})
	if err == nil || !strings.Contains(err.Error(), "objects/media/video/abc.mp4: checksum mismatch") {
		t.Fatalf("restore of a damaged archive: %v", err)
	}
	if names, _ := target.DB.CollectionNames(ctx); len(names) != 0 {
		t.Fatalf("the refused restore created %v", names)
	}
	// An archive that changes between the check and the restore: the
	// object is uploaded, found wrong and removed, and the restore fails
	// naming it.
	reads := 0
	swap := func() (io.ReadCloser, error) {
		reads++
		if reads == 1 {
			return os.Open(path)
		}
		return os.Open(p)
	}
	_, err = Restore(ctx, swap, target, RestoreOptions{})
	if err == nil || !strings.Contains(err.Error(), "objects/media/video/abc.mp4: checksum mismatch") {
		t.Fatalf("restore of an archive changed after its check: %v", err)
	}
	if _, err := store.StatObject(ctx, "media/video/abc.mp4"); !errors.Is(err, media.ErrObjectGone) {
		t.Fatalf("the wrong object stayed: %v", err)
	}
}

// An object replaced after it was listed is read whole in its new
// version (the listed ETag is a precondition of the read, so never half
// of each); one deleted after it was listed is left out with a warning.
func TestObjectsChangedDuringTheBackup(t *testing.T) {
	ctx := context.Background()
	store, err := env.Store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := bytes.Repeat([]byte("vanha "), 200000)
	young := bytes.Repeat([]byte("uusi! "), 300000)
	for _, k := range []string{"replaced", "deleted"} {
		if err := store.PutStream(ctx, k, bytes.NewReader(old), int64(len(old)), "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	listed, err := store.ListObjects(ctx, "")
	if err != nil || len(listed) != 2 {
		t.Fatalf("listed %v %v", listed, err)
	}
	// After the listing: one is replaced, the other deleted.
	if err := store.PutStream(ctx, "replaced", bytes.NewReader(young), int64(len(young)), "text/plain"); err != nil {
		t.Fatal(err)
	}
	if err := store.RemoveObject(ctx, "deleted"); err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	var warnings []string
	bw := &writer{tw: tar.NewWriter(&archive), m: &Manifest{}, o: Options{Objects: store, Warn: func(m string) { warnings = append(warnings, m) }}}
	for _, info := range listed {
		if err := bw.object(ctx, info); err != nil {
			t.Fatal(err)
		}
	}
	bw.tw.Close()
	if len(bw.m.Objects) != 1 || bw.m.Objects[0].Key != "replaced" || bw.m.Objects[0].Size != int64(len(young)) {
		t.Fatalf("objects in the backup: %+v", bw.m.Objects)
	}
	tr := tar.NewReader(&archive)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(tr)
	if h.Name != "objects/replaced" || !bytes.Equal(got, young) {
		t.Fatalf("the entry %s holds %d bytes, not the new version", h.Name, len(got))
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "deleted was deleted while the backup ran") {
		t.Fatalf("warnings: %q", warnings)
	}
}
