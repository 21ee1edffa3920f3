package media_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/media"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.Start) }

func TestBucketIsCreatedOnceAndPinged(t *testing.T) {
	ctx := context.Background()
	errors := 0
	s, err := media.NewObjectStore(media.ObjectStoreOptions{
		Endpoint: env.MinIO.Endpoint(), Region: "us-east-1", Bucket: "kurssi-media",
		AccessKey: env.MinIO.Credentials.AccessKey, SecretKey: env.MinIO.Credentials.SecretKey,
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
	if s.PublicOrigin() != env.MinIO.Endpoint() {
		t.Fatalf("public origin %q", s.PublicOrigin())
	}
	if errors != 1 {
		t.Fatalf("%d storage errors counted, want 1 (the ping before creation)", errors)
	}
}

func TestWrongCredentialsAreRefused(t *testing.T) {
	s, err := media.NewObjectStore(media.ObjectStoreOptions{Endpoint: env.MinIO.Endpoint(), Bucket: "x-bucket", AccessKey: "wrong", SecretKey: "wrongwrong", Region: "us-east-1"})
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
	s, err := media.NewObjectStore(media.ObjectStoreOptions{Endpoint: "http://10.0.0.1:9000", PublicURL: "https://media.example.fi/x", Bucket: "b-b", AccessKey: "a", SecretKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if s.PublicOrigin() != "https://media.example.fi" {
		t.Fatalf("origin %q", s.PublicOrigin())
	}
	// Presigned links name the public address, without asking the store.
	link, err := media.NewCatalog(nil, s, media.Options{}).PresignedURL(t.Context(), media.Object{Key: "media/x.mp4", ContentType: "video/mp4"}, time.Minute, "x.mp4")
	if err != nil || !strings.HasPrefix(link, "https://media.example.fi/b-b/media/x.mp4?") || !strings.Contains(link, "X-Amz-Expires=60") {
		t.Fatalf("presigned link %q %v", link, err)
	}
	if _, err := media.NewObjectStore(media.ObjectStoreOptions{Endpoint: "not a url"}); err == nil {
		t.Fatal("bad endpoint accepted")
	}
}
