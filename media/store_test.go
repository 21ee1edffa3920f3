package media_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/media"
)

var minio *testenv.MinIO

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tyokyky-media-")
	if err != nil {
		panic(err)
	}
	minio, err = testenv.StartMinIO(context.Background(), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	minio.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestBucketIsCreatedOnceAndPinged(t *testing.T) {
	ctx := context.Background()
	errors := 0
	s, err := media.NewStore(media.StoreOptions{
		Endpoint: minio.Endpoint(), Region: "us-east-1", Bucket: "kurssi-media",
		AccessKey: minio.Credentials.AccessKey, SecretKey: minio.Credentials.SecretKey,
		OnError: func(string) { errors++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatal("ping succeeded before the bucket exists")
	}
	for i := 0; i < 2; i++ {
		if err := s.EnsureBucket(ctx); err != nil {
			t.Fatalf("EnsureBucket #%d: %v", i+1, err)
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if s.PublicOrigin() != minio.Endpoint() {
		t.Fatalf("public origin %q", s.PublicOrigin())
	}
	if errors != 1 {
		t.Fatalf("%d storage errors counted, want 1 (the ping before creation)", errors)
	}
}

func TestWrongCredentialsAreRefused(t *testing.T) {
	s, err := media.NewStore(media.StoreOptions{Endpoint: minio.Endpoint(), Bucket: "x-bucket", AccessKey: "wrong", SecretKey: "wrongwrong", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.EnsureBucket(ctx); err == nil {
		t.Fatal("wrong credentials accepted")
	}
}

func TestPublicURL(t *testing.T) {
	s, err := media.NewStore(media.StoreOptions{Endpoint: "http://10.0.0.1:9000", PublicURL: "https://media.example.fi/x", Bucket: "b-b", AccessKey: "a", SecretKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if s.PublicOrigin() != "https://media.example.fi" {
		t.Fatalf("origin %q", s.PublicOrigin())
	}
	if _, err := media.NewStore(media.StoreOptions{Endpoint: "not a url"}); err == nil {
		t.Fatal("bad endpoint accepted")
	}
}
