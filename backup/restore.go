package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/media"
)

// Target is where a restore puts a backup.
type Target struct {
	DB *database.DB
	// Objects is the bucket to fill (nil: objects are not restored).
	Objects *media.ObjectStore
	// KeyDir receives the key files the backup holds.
	KeyDir string
}

// RestoreOptions say how to restore.
type RestoreOptions struct {
	// Force replaces what the target holds (after saying what) instead of
	// refusing a target that is not empty.
	Force bool
	// Out is told what is replaced and what is done.
	Out io.Writer
	// BatchDocs and BatchBytes bound one insert (defaults 1,000 and 8 MiB).
	BatchDocs  int
	BatchBytes int
}

// Restored sums up a restore.
type Restored struct {
	Manifest *Manifest
	// Bytes is how much was read from the archive (uncompressed).
	Bytes int64
}

// ErrNotEmpty is a target that holds data (without Force).
var ErrNotEmpty = errors.New("the target is not empty")

// Restore puts the archive that open opens into t. It first reads the
// whole archive and checks it (Verify), so that a damaged archive is
// refused before anything is written; then it checks that the target is
// empty (or, with Force, says what it replaces and removes it), and reads
// the archive again to restore it, checking every entry as it streams:
// collections with their indexes, documents inserted in batches, objects
// uploaded with their size and SHA-256 checked, key files written with
// mode 0600. At the end it compares each collection's count and the
// bucket's objects with the manifest; any difference is an error naming
// it.
func Restore(ctx context.Context, open func() (io.ReadCloser, error), t Target, o RestoreOptions) (*Restored, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.BatchDocs <= 0 {
		o.BatchDocs = 1000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 8 << 20
	}
	inv, err := inventory(ctx, t)
	if err != nil {
		return nil, err
	}
	if !inv.empty() && !o.Force {
		// Refused at once, before the archive is read.
		return nil, inv.refusal()
	}
	rc, err := open()
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(o.Out, "checking the archive")
	rep := Verify(rc)
	rc.Close()
	if err := rep.Err(); err != nil {
		return nil, err
	}
	m := rep.Manifest
	if err := inv.keyConflicts(t, m); err != nil {
		return nil, err
	}
	if !inv.empty() && !o.Force {
		return nil, inv.refusal()
	}
	if !inv.empty() {
		if err := inv.replace(ctx, t, o.Out); err != nil {
			return nil, err
		}
	}
	fmt.Fprintln(o.Out, "restoring")
	r := &restorer{t: t, o: o, m: m, byPart: map[string]string{}, byObject: map[string]Object{}, byKey: map[string]KeyFile{}}
	for _, c := range m.Collections {
		if err := t.DB.CreateCollection(ctx, c.Name); err != nil {
			return nil, err
		}
		for _, p := range c.Parts {
			r.byPart[p.Entry] = c.Name
		}
	}
	for _, obj := range m.Objects {
		r.byObject[obj.Entry] = obj
	}
	for _, k := range m.KeyFiles {
		r.byKey[k.Entry] = k
	}
	if t.Objects == nil && len(m.Objects) > 0 {
		fmt.Fprintf(o.Out, "warning: the backup's %d objects are not restored (no object store)\n", len(m.Objects))
	}

	rc, err = open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	res, err := walk(rc, visitor{
		doc:  func(entry string, doc bson.Raw) error { return r.doc(ctx, entry, doc) },
		body: func(entry string, size int64, body io.Reader) error { return r.body(ctx, entry, size, body) },
	})
	if err == nil {
		err = r.flush(ctx)
	}
	if err != nil {
		return nil, err
	}
	// The archive is read a second time: it must still be the one checked.
	if err := res.report().Err(); err != nil {
		return nil, fmt.Errorf("the archive changed while it was restored:\n%w", err)
	}
	for _, c := range m.Collections {
		specs, err := c.indexSpecs()
		if err != nil {
			return nil, err
		}
		if err := t.DB.CreateIndexSpecs(ctx, c.Name, specs); err != nil {
			return nil, err
		}
	}
	if err := compareTarget(ctx, t, m); err != nil {
		return nil, err
	}
	return &Restored{Manifest: m, Bytes: res.bytes}, nil
}

// indexSpecs decodes a collection's index specifications.
func (c Collection) indexSpecs() ([]bson.D, error) {
	var out []bson.D
	for _, j := range c.Indexes {
		var d bson.D
		if err := bson.UnmarshalExtJSON(j, true, &d); err != nil {
			return nil, fmt.Errorf("manifest: an index of %s: %w", c.Name, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// contents is what a target holds before a restore.
type contents struct {
	db      string
	bucket  string
	keyDir  string
	names   []string
	counts  map[string]int64
	objects []media.ObjectInfo
	keys    []string // key files the backup would overwrite with other bytes
}

func inventory(ctx context.Context, t Target) (*contents, error) {
	inv := &contents{db: t.DB.Name(), keyDir: t.KeyDir, counts: map[string]int64{}}
	var err error
	if inv.names, err = t.DB.CollectionNames(ctx); err != nil {
		return nil, err
	}
	for _, n := range inv.names {
		if inv.counts[n], err = t.DB.Collection(n).CountDocuments(ctx, bson.D{}); err != nil {
			return nil, fmt.Errorf("counting %s: %w", n, err)
		}
	}
	if t.Objects != nil {
		inv.bucket = t.Objects.Bucket()
		if inv.objects, err = t.Objects.ListObjects(ctx, ""); err != nil {
			return nil, err
		}
	}
	return inv, nil
}

func (inv *contents) empty() bool {
	return len(inv.names) == 0 && len(inv.objects) == 0 && len(inv.keys) == 0
}

// keyConflicts finds the key files the backup would overwrite with other
// bytes.
func (inv *contents) keyConflicts(t Target, m *Manifest) error {
	for _, k := range m.KeyFiles {
		have, err := os.ReadFile(filepath.Join(t.KeyDir, k.Name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("key file: %w", err)
		}
		sum := sha256.Sum256(have)
		if hex.EncodeToString(sum[:]) != k.SHA256 {
			inv.keys = append(inv.keys, k.Name)
		}
	}
	return nil
}

func (inv *contents) refusal() error {
	var what []string
	if len(inv.names) > 0 {
		what = append(what, fmt.Sprintf("the database %s has %d collections", inv.db, len(inv.names)))
	}
	if len(inv.objects) > 0 {
		what = append(what, fmt.Sprintf("the bucket %s has %d objects", inv.bucket, len(inv.objects)))
	}
	if len(inv.keys) > 0 {
		what = append(what, fmt.Sprintf("the key folder %s has other files named %s", inv.keyDir, strings.Join(inv.keys, ", ")))
	}
	return fmt.Errorf("%w: %s; restore into an empty one, or give --force to replace what it holds", ErrNotEmpty, strings.Join(what, ", "))
}

// replace says what the target holds and removes it (--force).
func (inv *contents) replace(ctx context.Context, t Target, out io.Writer) error {
	fmt.Fprintf(out, "--force: replacing what the target holds:\n")
	for _, n := range inv.names {
		fmt.Fprintf(out, "  collection %s: %d documents\n", n, inv.counts[n])
	}
	if len(inv.objects) > 0 {
		var size int64
		for _, obj := range inv.objects {
			size += obj.Size
		}
		fmt.Fprintf(out, "  bucket %s: %d objects (%s)\n", inv.bucket, len(inv.objects), media.FormatSize(size))
	}
	for _, k := range inv.keys {
		fmt.Fprintf(out, "  key file %s\n", filepath.Join(inv.keyDir, k))
	}
	for _, n := range inv.names {
		if err := t.DB.Collection(n).Drop(ctx); err != nil {
			return fmt.Errorf("dropping %s: %w", n, err)
		}
	}
	for _, obj := range inv.objects {
		if err := t.Objects.RemoveObject(ctx, obj.Key); err != nil {
			return err
		}
	}
	return nil
}

type restorer struct {
	t        Target
	o        RestoreOptions
	m        *Manifest
	byPart   map[string]string // entry → collection
	byObject map[string]Object
	byKey    map[string]KeyFile

	batchOf    string
	batch      []any
	batchBytes int
}

func (r *restorer) doc(ctx context.Context, entry string, doc bson.Raw) error {
	coll, ok := r.byPart[entry]
	if !ok {
		return nil // not in the manifest: the check at the end names it
	}
	if coll != r.batchOf || len(r.batch) >= r.o.BatchDocs || r.batchBytes+len(doc) > r.o.BatchBytes {
		if err := r.flush(ctx); err != nil {
			return err
		}
		r.batchOf = coll
	}
	r.batch = append(r.batch, bson.Raw(bytes.Clone(doc)))
	r.batchBytes += len(doc)
	return nil
}

func (r *restorer) flush(ctx context.Context) error {
	if len(r.batch) == 0 {
		return nil
	}
	if _, err := r.t.DB.Collection(r.batchOf).InsertMany(ctx, r.batch); err != nil {
		return fmt.Errorf("inserting into %s: %w", r.batchOf, err)
	}
	r.batch, r.batchBytes = r.batch[:0], 0
	return nil
}

func (r *restorer) body(ctx context.Context, entry string, size int64, body io.Reader) error {
	if obj, ok := r.byObject[entry]; ok && r.t.Objects != nil {
		return r.object(ctx, obj, size, body)
	}
	if k, ok := r.byKey[entry]; ok {
		return r.keyFile(k, body)
	}
	return nil
}

// object uploads one object as it streams from the archive, and removes
// it again when its bytes are not the manifest's.
func (r *restorer) object(ctx context.Context, obj Object, size int64, body io.Reader) error {
	if size != obj.Size {
		return fmt.Errorf("%s: size %d, the manifest says %d", obj.Entry, size, obj.Size)
	}
	h := sha256.New()
	if err := r.t.Objects.PutStream(ctx, obj.Key, io.TeeReader(body, h), size, obj.ContentType); err != nil {
		return fmt.Errorf("%s: %w", obj.Entry, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != obj.SHA256 {
		r.t.Objects.RemoveObject(context.WithoutCancel(ctx), obj.Key)
		return fmt.Errorf("%s: checksum mismatch", obj.Entry)
	}
	return nil
}

// keyFile writes a key file (mode 0600) under a temporary name and
// renames it once its checksum is right.
func (r *restorer) keyFile(k KeyFile, body io.Reader) error {
	if err := os.MkdirAll(r.t.KeyDir, 0o700); err != nil {
		return fmt.Errorf("key folder: %w", err)
	}
	f, err := os.CreateTemp(r.t.KeyDir, "."+k.Name+".partial-*")
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), body)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("key file %s: %w", k.Name, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != k.SHA256 {
		return fmt.Errorf("%s: checksum mismatch", k.Entry)
	}
	return os.Rename(f.Name(), filepath.Join(r.t.KeyDir, k.Name))
}

// compareTarget checks the restored target against the manifest: every
// collection with its count and no other, every object with its size and
// no other.
func compareTarget(ctx context.Context, t Target, m *Manifest) error {
	var diffs []string
	names, err := t.DB.CollectionNames(ctx)
	if err != nil {
		return err
	}
	want := map[string]int64{}
	for _, c := range m.Collections {
		want[c.Name] = c.Documents
	}
	for _, n := range names {
		if _, ok := want[n]; !ok {
			diffs = append(diffs, fmt.Sprintf("collection %s: not in the backup", n))
		}
	}
	for _, c := range m.Collections {
		n, err := t.DB.Collection(c.Name).CountDocuments(ctx, bson.D{})
		if err != nil {
			return fmt.Errorf("counting %s: %w", c.Name, err)
		}
		if n != c.Documents {
			diffs = append(diffs, fmt.Sprintf("collection %s: %d documents, the backup has %d", c.Name, n, c.Documents))
		}
	}
	if t.Objects != nil {
		list, err := t.Objects.ListObjects(ctx, "")
		if err != nil {
			return err
		}
		have := map[string]int64{}
		for _, o := range list {
			have[o.Key] = o.Size
		}
		for _, o := range m.Objects {
			size, ok := have[o.Key]
			switch {
			case !ok:
				diffs = append(diffs, fmt.Sprintf("object %s: missing", o.Key))
			case size != o.Size:
				diffs = append(diffs, fmt.Sprintf("object %s: %d bytes, the backup has %d", o.Key, size, o.Size))
			}
			delete(have, o.Key)
		}
		extra := make([]string, 0, len(have))
		for k := range have {
			extra = append(extra, k)
		}
		sort.Strings(extra)
		for _, k := range extra {
			diffs = append(diffs, fmt.Sprintf("object %s: not in the backup", k))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("the restored target differs from the backup:\n%s", strings.Join(diffs, "\n"))
	}
	return nil
}
