package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
)

// The bucket as a whole, for backups and restores: every object under any
// key, read as one version, written as a stream, copied and removed.

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key         string
	Size        int64
	ETag        string
	ContentType string
	Modified    time.Time
}

var (
	// ErrObjectChanged: the object was replaced since it was listed.
	ErrObjectChanged = errors.New("media: the object changed since it was listed")
	// ErrObjectGone: there is no object under the key (any more).
	ErrObjectGone = errors.New("media: no such object")
)

// ListObjects lists every object of the bucket whose key starts with
// prefix, in key order.
func (s *ObjectStore) ListObjects(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	var out []ObjectInfo
	for o := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			s.onError("list")
			return nil, fmt.Errorf("media: listing the bucket %s: %w", s.bucket, classify(o.Err))
		}
		out = append(out, ObjectInfo{Key: o.Key, Size: o.Size, ETag: o.ETag, ContentType: o.ContentType, Modified: o.LastModified})
	}
	return out, nil
}

// StatObject describes the object under key (ErrObjectGone when none).
func (s *ObjectStore) StatObject(ctx context.Context, key string) (ObjectInfo, error) {
	o, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, s.objectError("stat", key, err)
	}
	return ObjectInfo{Key: o.Key, Size: o.Size, ETag: o.ETag, ContentType: o.ContentType, Modified: o.LastModified}, nil
}

// OpenVersion reads the object under key only while it is the version
// whose ETag is etag (the store checks it before it sends a byte): an
// object replaced since gives ErrObjectChanged and a deleted one
// ErrObjectGone, before anything is read. The info is of the version the
// reader streams.
func (s *ObjectStore) OpenVersion(ctx context.Context, key, etag string) (io.ReadCloser, ObjectInfo, error) {
	opts := minio.GetObjectOptions{}
	if err := opts.SetMatchETag(etag); err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("media: %w", err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return nil, ObjectInfo{}, s.objectError("get", key, err)
	}
	// The request is made by the first call on the object.
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, ObjectInfo{}, s.objectError("get", key, err)
	}
	return obj, ObjectInfo{Key: key, Size: st.Size, ETag: st.ETag, ContentType: st.ContentType, Modified: st.LastModified}, nil
}

func (s *ObjectStore) objectError(op, key string, err error) error {
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey":
		return fmt.Errorf("%w: %s", ErrObjectGone, key)
	case "PreconditionFailed":
		return fmt.Errorf("%w: %s", ErrObjectChanged, key)
	}
	s.onError(op)
	return fmt.Errorf("media: %s %s: %w", op, key, classify(err))
}

// PutStream stores r under key as it comes, in multipart parts of 16 MiB
// (the one buffer it holds); size is -1 when unknown. The store keeps
// nothing of an upload that fails.
func (s *ObjectStore) PutStream(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	_, err := s.client.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{
		ContentType: contentType, PartSize: partSize, DisableContentSha256: true,
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.onError("put")
		return fmt.Errorf("media: storing %s: %w", key, classify(err))
	}
	return nil
}

// CopyObject copies the object src to dst within the bucket, on the
// server (objects of any size).
func (s *ObjectStore) CopyObject(ctx context.Context, src, dst string) error {
	_, err := s.client.ComposeObject(ctx, minio.CopyDestOptions{Bucket: s.bucket, Object: dst},
		minio.CopySrcOptions{Bucket: s.bucket, Object: src})
	if err != nil {
		return s.objectError("copy", src, err)
	}
	return nil
}

// RemoveObject removes the object under key (none there is no error).
func (s *ObjectStore) RemoveObject(ctx context.Context, key string) error {
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		s.onError("remove")
		return fmt.Errorf("media: removing %s: %w", key, classify(err))
	}
	return nil
}
