package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tyokyky/tyokyky/media"
)

// Output is where an archive is written. Nothing half-written looks like
// a backup: a file is written under a temporary name and appears under
// its own only when Commit succeeds; an S3 upload goes to a .partial key
// that Commit copies to the final key. Abort removes what was written.
type Output interface {
	io.Writer
	// Commit finishes the archive under its final name.
	Commit(ctx context.Context) error
	// Abort removes what was written (after a failure).
	Abort()
	// Name is the final location, for messages.
	Name() string
}

// partialSuffix marks an archive being written.
const partialSuffix = ".partial"

// CreateFile starts an archive at path: a new file, or in an existing
// folder a file named ArchiveName(now). An existing file is refused.
func CreateFile(path string, now time.Time) (Output, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, ArchiveName(now))
	} else if err == nil {
		return nil, fmt.Errorf("%s exists already; a backup never replaces a file", path)
	}
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%s exists already; a backup never replaces a file", path)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+partialSuffix+"-*")
	if err != nil {
		return nil, fmt.Errorf("cannot write in %s: %w", dir, unwrapPath(err))
	}
	return &fileOutput{f: f, path: path}, nil
}

type fileOutput struct {
	f    *os.File
	path string
}

func (o *fileOutput) Write(p []byte) (int, error) { return o.f.Write(p) }
func (o *fileOutput) Name() string                { return o.path }

func (o *fileOutput) Commit(context.Context) error {
	err := o.f.Sync()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// A link, not a rename: it fails rather than replace a file that
		// appeared meanwhile.
		err = os.Link(o.f.Name(), o.path)
	}
	os.Remove(o.f.Name())
	if err != nil {
		return fmt.Errorf("finishing %s: %w", o.path, err)
	}
	if d, err := os.Open(filepath.Dir(o.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (o *fileOutput) Abort() {
	o.f.Close()
	os.Remove(o.f.Name())
}

// ParseS3 splits s3://bucket/prefix (ok false for anything else). A
// prefix ending in .tar.zst is the archive's key itself.
func ParseS3(spec string) (bucket, prefix string, ok bool, err error) {
	if !strings.HasPrefix(spec, "s3://") {
		return "", "", false, nil
	}
	u, err := url.Parse(spec)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", "", true, fmt.Errorf("%q is not s3://bucket/prefix", spec)
	}
	return u.Host, strings.Trim(u.Path, "/"), true, nil
}

// S3Key is the key of an archive taken at now under prefix.
func S3Key(prefix string, now time.Time) string {
	if strings.HasSuffix(prefix, ".tar.zst") {
		return prefix
	}
	if prefix == "" {
		return ArchiveName(now)
	}
	return prefix + "/" + ArchiveName(now)
}

// CreateS3 starts an archive uploaded to key in store's bucket as a
// streaming multipart upload (16 MiB parts) to key.partial. An existing
// key is refused.
func CreateS3(ctx context.Context, store *media.ObjectStore, key string) (Output, error) {
	if _, err := store.StatObject(ctx, key); err == nil {
		return nil, fmt.Errorf("s3://%s/%s exists already; a backup never replaces one", store.Bucket(), key)
	} else if !errors.Is(err, media.ErrObjectGone) {
		return nil, err
	}
	pr, pw := io.Pipe()
	o := &s3Output{store: store, key: key, pw: pw, done: make(chan error, 1)}
	go func() {
		err := store.PutStream(ctx, key+partialSuffix, pr, -1, "application/zstd")
		pr.CloseWithError(err) // a writer waiting on a failed upload learns why
		o.done <- err
	}()
	return o, nil
}

type s3Output struct {
	store *media.ObjectStore
	key   string
	pw    *io.PipeWriter
	done  chan error
}

func (o *s3Output) Write(p []byte) (int, error) { return o.pw.Write(p) }
func (o *s3Output) Name() string                { return "s3://" + o.store.Bucket() + "/" + o.key }

func (o *s3Output) Commit(ctx context.Context) error {
	o.pw.Close()
	if err := <-o.done; err != nil {
		o.store.RemoveObject(context.WithoutCancel(ctx), o.key+partialSuffix)
		return fmt.Errorf("uploading %s: %w", o.Name(), err)
	}
	if err := o.store.CopyObject(ctx, o.key+partialSuffix, o.key); err != nil {
		o.store.RemoveObject(context.WithoutCancel(ctx), o.key+partialSuffix)
		return fmt.Errorf("finishing %s: %w", o.Name(), err)
	}
	return o.store.RemoveObject(ctx, o.key+partialSuffix)
}

func (o *s3Output) Abort() {
	o.pw.CloseWithError(errors.New("backup: aborted"))
	<-o.done
	o.store.RemoveObject(context.Background(), o.key+partialSuffix)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
