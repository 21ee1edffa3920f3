package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/media"
)

// Options of a backup.
type Options struct {
	// Objects is the bucket whose objects the backup holds (nil: none).
	Objects *media.ObjectStore
	// KeyDir, when set, is the folder of private key files to include.
	KeyDir string
	// KeyFilesLeftOut is how many key files exist but are not included
	// (recorded in the manifest, so a restore can say so).
	KeyFilesLeftOut int
	// AppVersion is recorded in the manifest.
	AppVersion string
	// Warn is told what the operator should know (an object deleted while
	// the backup ran, and so left out).
	Warn func(msg string)
	// PartSize bounds a documents entry (default 8 MiB): the one buffer of
	// documents the backup holds.
	PartSize int
	// Now is the clock (tests).
	Now func() time.Time
}

// SchemaCollection is the collection of applied migrations.
const SchemaCollection = "schema_migrations"

// objectTries bounds how often an object replaced during the backup is
// read again.
const objectTries = 5

// Write streams a backup of src and o.Objects into w: a tar archive
// compressed with zstd, entry by entry, never holding more than one
// documents part or one object part in memory. It returns the manifest,
// which is also the archive's last entry. On error w holds a partial
// archive, which the caller removes.
func Write(ctx context.Context, w io.Writer, src *Source, o Options) (*Manifest, error) {
	if o.PartSize <= 0 {
		o.PartSize = 8 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
	sink := &sinkWriter{w: w}
	zw, err := zstd.NewWriter(sink, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	bw := &writer{tw: tar.NewWriter(zw), o: o}
	m := &Manifest{Format: Format, AppVersion: o.AppVersion, Source: src.Kind, Snapshot: src.Snapshot,
		Database: src.DatabaseName(), Started: o.Now().UTC(), KeyFilesLeftOut: o.KeyFilesLeftOut,
		Collections: []Collection{}, Objects: []Object{}, KeyFiles: []KeyFile{}}
	bw.m = m

	err = bw.all(ctx, src)
	if err == nil {
		m.Ended = o.Now().UTC()
		err = bw.manifest()
	}
	if err == nil {
		err = bw.tw.Close()
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if sink.err != nil {
		// The archive could not be written (a full disk, a store that
		// went away): say so rather than what it did to the encoder.
		return nil, fmt.Errorf("writing the archive: %w", sink.err)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// CompressedSize is how many bytes Write has written to w so far.
type sinkWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (s *sinkWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.n += int64(n)
	if err != nil {
		s.err = err
	}
	return n, err
}

type writer struct {
	tw *tar.Writer
	m  *Manifest
	o  Options
}

func (bw *writer) all(ctx context.Context, src *Source) error {
	if err := src.read(ctx, func(ctx context.Context) error { return bw.collections(ctx, src) }); err != nil {
		return err
	}
	if bw.o.Objects != nil {
		bw.m.Bucket = bw.o.Objects.Bucket()
		if err := bw.objects(ctx); err != nil {
			return err
		}
	}
	if bw.o.KeyDir != "" {
		if err := bw.keyFiles(); err != nil {
			return err
		}
	}
	return nil
}

func (bw *writer) collections(ctx context.Context, src *Source) error {
	names, err := src.db.CollectionNames(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := Collection{Name: name, Indexes: []json.RawMessage{}, Parts: []Part{}}
		specs, err := src.db.IndexSpecs(ctx, name)
		if err != nil {
			return err
		}
		for _, s := range specs {
			j, err := bson.MarshalExtJSON(s, true, false)
			if err != nil {
				return fmt.Errorf("backup: an index of %s: %w", name, err)
			}
			c.Indexes = append(c.Indexes, j)
		}
		var buf bytes.Buffer
		var docs int64
		flush := func() error {
			if docs == 0 {
				return nil
			}
			p := Part{Entry: partEntry(name, len(c.Parts)+1), Documents: docs, Size: int64(buf.Len())}
			sum := sha256.Sum256(buf.Bytes())
			p.SHA256 = hex.EncodeToString(sum[:])
			if err := bw.entry(p.Entry, p.Size, 0o644, bw.m.Started, &buf); err != nil {
				return err
			}
			c.Parts = append(c.Parts, p)
			c.Documents += docs
			buf.Reset()
			docs = 0
			return nil
		}
		var schema int64
		err = src.db.Scan(ctx, name, func(doc bson.Raw) error {
			if buf.Len() > 0 && buf.Len()+len(doc) > bw.o.PartSize {
				if err := flush(); err != nil {
					return err
				}
			}
			buf.Write(doc)
			docs++
			if name == SchemaCollection {
				schema = max(schema, migrationNumber(doc))
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return err
		}
		if name == SchemaCollection {
			bw.m.SchemaVersion = schema
		}
		bw.m.Collections = append(bw.m.Collections, c)
		bw.m.Counts.Collections++
		bw.m.Counts.Documents += c.Documents
	}
	return nil
}

// migrationNumber is a schema_migrations document's number: its _id when
// that is a whole number (0 otherwise).
func migrationNumber(doc bson.Raw) int64 {
	v := doc.Lookup("_id")
	switch v.Type {
	case bson.TypeInt32:
		return int64(v.Int32())
	case bson.TypeInt64:
		return v.Int64()
	case bson.TypeDouble:
		if f := v.Double(); f == math.Trunc(f) && f >= 0 && f < 1<<53 {
			return int64(f)
		}
	}
	return 0
}

func (bw *writer) objects(ctx context.Context) error {
	list, err := bw.o.Objects.ListObjects(ctx, "")
	if err != nil {
		return err
	}
	for _, info := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := bw.object(ctx, info); err != nil {
			return err
		}
	}
	return nil
}

// object copies one object into the archive as the version listed, or
// (replaced meanwhile) as a later whole version; an object deleted
// meanwhile is left out.
func (bw *writer) object(ctx context.Context, info media.ObjectInfo) error {
	store := bw.o.Objects
	etag := info.ETag
	for try := 1; ; try++ {
		r, got, err := store.OpenVersion(ctx, info.Key, etag)
		if errors.Is(err, media.ErrObjectGone) {
			bw.o.Warn(fmt.Sprintf("%s was deleted while the backup ran; it is not in the backup", info.Key))
			return nil
		}
		if errors.Is(err, media.ErrObjectChanged) {
			if try == objectTries {
				return fmt.Errorf("backup: %s was replaced %d times while the backup read it", info.Key, try)
			}
			now, err := store.StatObject(ctx, info.Key)
			if errors.Is(err, media.ErrObjectGone) {
				bw.o.Warn(fmt.Sprintf("%s was deleted while the backup ran; it is not in the backup", info.Key))
				return nil
			}
			if err != nil {
				return err
			}
			etag = now.ETag
			continue
		}
		if err != nil {
			return err
		}
		obj := Object{Key: info.Key, Entry: objectEntry(info.Key), Size: got.Size, ContentType: got.ContentType}
		h := sha256.New()
		err = bw.entry(obj.Entry, obj.Size, 0o644, got.Modified, io.TeeReader(r, h))
		r.Close()
		if err != nil {
			return fmt.Errorf("backup: %s: %w", info.Key, err)
		}
		obj.SHA256 = hex.EncodeToString(h.Sum(nil))
		bw.m.Objects = append(bw.m.Objects, obj)
		bw.m.Counts.Objects++
		bw.m.Counts.ObjectBytes += obj.Size
		return nil
	}
}

func (bw *writer) keyFiles() error {
	files, err := KeyFiles(bw.o.KeyDir)
	if err != nil {
		return err
	}
	for _, name := range files {
		f, err := os.Open(filepath.Join(bw.o.KeyDir, name))
		if err != nil {
			return fmt.Errorf("backup: key file: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("backup: key file: %w", err)
		}
		k := KeyFile{Name: name, Entry: keyFileEntry(name), Size: st.Size()}
		h := sha256.New()
		err = bw.entry(k.Entry, k.Size, 0o600, st.ModTime(), io.TeeReader(f, h))
		f.Close()
		if err != nil {
			return fmt.Errorf("backup: key file %s: %w", name, err)
		}
		k.SHA256 = hex.EncodeToString(h.Sum(nil))
		bw.m.KeyFiles = append(bw.m.KeyFiles, k)
		bw.m.Counts.KeyFiles++
	}
	return nil
}

// KeyFiles lists the regular files of a key folder, sorted (none when the
// folder does not exist).
func KeyFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup: key folder: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && validKeyFileName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

func (bw *writer) manifest() error {
	data, err := json.MarshalIndent(bw.m, "", " ")
	if err != nil {
		return fmt.Errorf("backup: manifest: %w", err)
	}
	return bw.entry(ManifestEntry, int64(len(data)), 0o644, bw.m.Ended, bytes.NewReader(data))
}

// entry writes one tar entry of exactly size bytes from r.
func (bw *writer) entry(name string, size int64, mode int64, mod time.Time, r io.Reader) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: mode, ModTime: mod.UTC().Truncate(time.Second)}
	if err := bw.tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(bw.tw, r)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s: %d bytes read, %d expected", name, n, size)
	}
	return nil
}

// hashingReader counts and hashes what is read through it, and keeps the
// first read error.
type hashingReader struct {
	r   io.Reader
	h   hash.Hash
	n   int64
	err error
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	if err != nil && err != io.EOF && h.err == nil {
		h.err = err
	}
	return n, err
}

func (h *hashingReader) sum() string { return hex.EncodeToString(h.h.Sum(nil)) }
