package minioproc_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
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
