// Package media keeps the course's videos, audio, images and captions in
// an S3-compatible object store (MinIO) and their metadata in the document
// store.
package media

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// ObjectStoreOptions locate the bucket.
type ObjectStoreOptions struct {
	Endpoint  string // http(s)://host:port
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string
	// PublicURL is where browsers reach the store; empty means Endpoint.
	PublicURL string
	// OnError, when set, is called for every failed storage operation.
	OnError func(op string)
	// Timeouts bound every call; zero values take DefaultTimeouts'.
	Timeouts Timeouts
}

// ObjectStore is the object store holding media objects.
type ObjectStore struct {
	client *minio.Client
	// presigner signs URLs for the public address; it never connects.
	presigner *minio.Client
	bucket    string
	public    *url.URL
	onError   func(op string)
}

// NewObjectStore creates the client; it does not contact the server.
func NewObjectStore(o ObjectStoreOptions) (*ObjectStore, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("media: endpoint %q is not a URL", o.Endpoint)
	}
	t := o.Timeouts
	if t.Connect == 0 {
		t.Connect = DefaultTimeouts.Connect
	}
	if t.FirstByte == 0 {
		t.FirstByte = DefaultTimeouts.FirstByte
	}
	if t.Idle == 0 {
		t.Idle = DefaultTimeouts.Idle
	}
	tr := transport(t)
	if u.Scheme == "https" {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:     credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:    u.Scheme == "https",
		Region:    o.Region,
		Transport: tr,
		// Fail fast: a readiness probe must not hang on retries.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	public := u
	if o.PublicURL != "" {
		if public, err = url.Parse(o.PublicURL); err != nil {
			return nil, fmt.Errorf("media: public URL: %w", err)
		}
	}
	region := o.Region
	if region == "" {
		region = "us-east-1"
	}
	// With the region given, presigning needs no request to the server.
	presigner, err := minio.New(public.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure: public.Scheme == "https",
		Region: region,
	})
	if err != nil {
		return nil, fmt.Errorf("media: public URL: %w", err)
	}
	onError := o.OnError
	if onError == nil {
		onError = func(string) {}
	}
	return &ObjectStore{client: client, presigner: presigner, bucket: o.Bucket, public: public, onError: onError}, nil
}

// EnsureBucket creates the bucket when it is missing.
func (s *ObjectStore) EnsureBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		s.onError("bucket_exists")
		return fmt.Errorf("media: bucket %s: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	if err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{}); err != nil {
		// Another instance may have created it meanwhile.
		if resp := minio.ToErrorResponse(err); resp.Code == "BucketAlreadyOwnedByYou" {
			return nil
		}
		s.onError("make_bucket")
		return fmt.Errorf("media: create bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Ping checks that the store answers and the bucket exists.
func (s *ObjectStore) Ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		s.onError("ping")
		return classify(err)
	}
	if !ok {
		s.onError("ping")
		return fmt.Errorf("bucket %s does not exist", s.bucket)
	}
	return nil
}

// Bucket is the bucket's name.
func (s *ObjectStore) Bucket() string { return s.bucket }

// PublicOrigin is the scheme://host browsers use for objects (for the CSP).
func (s *ObjectStore) PublicOrigin() string { return s.public.Scheme + "://" + s.public.Host }
