package studio

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing/fstest"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/fault"
)

// The authoring studio's storage: drafts beside the published files, and
// publishing one file with optimistic locking on its revision number.

const draftsCollection = "content_drafts"

// Draft is an author's unpublished text of one file: what they are
// writing, on top of the published revision BaseRev.
type Draft struct {
	Path      string    `bson:"_id" json:"path"`
	Data      string    `bson:"data" json:"data"`
	BaseRev   int       `bson:"base_rev" json:"base_rev"`
	By        string    `bson:"by" json:"by"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// ErrNoFile means the content has no such file.
var ErrNoFile = fault.New(fault.NotFound, "content_no_file", "", "no such content file")

// ConflictError: the file was published by someone else since the author
// began; both texts are kept and handed back for merging.
type ConflictError struct {
	Path    string
	Rev     int    // the published revision now
	Current string // its text
	By      string // who published it
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s was published as revision %d by %s while you edited it: merge your text with it and publish again", e.Path, e.Rev, e.By)
}

// EditablePath says whether an author may edit path in the studio: the
// text files of the content tree, never a path outside it.
func EditablePath(p string) bool {
	if p == "" || len(p) > 200 || !fs.ValidPath(p) || strings.HasPrefix(p, ".") || strings.Contains(p, "/.") {
		return false
	}
	switch path.Ext(p) {
	case ".md", ".yaml":
		return true
	}
	return false
}

// File is the published text and revision of one content file.
func (s *Store) File(ctx context.Context, p string) (data []byte, rev int, err error) {
	d, ok, err := s.fileDoc(ctx, p)
	if err != nil {
		return nil, 0, err
	}
	if !ok || d.Deleted {
		return nil, 0, ErrNoFile
	}
	return d.Data, d.Rev, nil
}

// RevisionData is the text of one revision of a file.
func (s *Store) RevisionData(ctx context.Context, p string, rev int) (*Revision, []byte, error) {
	var d revisionDoc
	err := s.db.Collection(revisionsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("%s@%d", p, rev)}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil, ErrNoFile
	}
	if err != nil {
		return nil, nil, fmt.Errorf("studio: %w", err)
	}
	return &Revision{Rev: d.Rev, Hash: d.Hash, Deleted: d.Deleted, By: d.By, CreatedAt: d.CreatedAt}, d.Data, nil
}

// SaveDraft stores an author's draft of a file (the autosave).
func (s *Store) SaveDraft(ctx context.Context, d Draft) error {
	d.UpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
	_, err := s.db.Collection(draftsCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.Path}}, d, replaceUpsert)
	if mongo.IsDuplicateKeyError(err) { // two first saves at once: the second replaces
		_, err = s.db.Collection(draftsCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.Path}}, d)
	}
	if err != nil {
		return fmt.Errorf("studio: draft: %w", err)
	}
	return nil
}

// DraftOf is the draft of a file, or nil.
func (s *Store) DraftOf(ctx context.Context, p string) (*Draft, error) {
	var d Draft
	err := s.db.Collection(draftsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: p}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("studio: draft: %w", err)
	}
	return &d, nil
}

// DiscardDraft removes the draft of a file.
func (s *Store) DiscardDraft(ctx context.Context, p string) error {
	_, err := s.db.Collection(draftsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: p}})
	return err
}

// Drafts lists every draft.
func (s *Store) Drafts(ctx context.Context) (map[string]Draft, error) {
	cur, err := s.db.Collection(draftsCollection).Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("studio: drafts: %w", err)
	}
	var list []Draft
	if err := cur.All(ctx, &list); err != nil {
		return nil, fmt.Errorf("studio: drafts: %w", err)
	}
	out := map[string]Draft{}
	for _, d := range list {
		out[d.Path] = d
	}
	return out, nil
}

// Publish publishes a new text of one file, when the author began from
// the revision published now (baseRev; 0 for a new file): the whole course
// is checked with it first, and its problems refuse it. A stale baseRev
// answers a ConflictError with the published text; nothing is lost.
// Publishing removes the file's draft.
func (s *Store) Publish(ctx context.Context, p string, data []byte, baseRev int, by string) (course.Problems, error) {
	if !EditablePath(p) {
		return nil, ErrNoFile
	}
	problems, err := s.publishFile(ctx, p, data, by, baseRev)
	var stale *staleError
	if errors.As(err, &stale) { // published by someone else since the author began
		current, rev, err := s.File(ctx, p)
		if err != nil && !errors.Is(err, ErrNoFile) {
			return nil, err
		}
		who := ""
		if r, _, err := s.RevisionData(ctx, p, rev); err == nil {
			who = r.By
		}
		return nil, &ConflictError{Path: p, Rev: rev, Current: string(current), By: who}
	}
	if err != nil {
		return nil, err
	}
	if len(problems) == 0 {
		_ = s.DiscardDraft(ctx, p)
	}
	return problems, nil
}

// Restore publishes an earlier revision's text again, as a new revision.
func (s *Store) Restore(ctx context.Context, p string, rev int, by string) (course.Problems, error) {
	_, data, err := s.RevisionData(ctx, p, rev)
	if err != nil {
		return nil, err
	}
	return s.PublishFile(ctx, p, data, by)
}

// Export writes the published tree (with the drafts of its files over it
// when drafts is true) into dir in the layout of content/, and removes the
// content files of dir that the tree no longer has (a section archived or
// renamed since the last export), so that importing dir again changes
// nothing. Other files of dir (content.go, a README) are left. It returns
// how many files it wrote and removed.
func (s *Store) Export(ctx context.Context, dir string, drafts bool) (written, removed int, err error) {
	fsys, _, _, err := s.currentFiles(ctx)
	if err != nil {
		return 0, 0, err
	}
	if drafts {
		ds, err := s.Drafts(ctx)
		if err != nil {
			return 0, 0, err
		}
		for p, d := range ds {
			if _, ok := fsys[p]; ok { // a draft of a file removed since stays out
				fsys[p] = &fstest.MapFile{Data: []byte(d.Data)}
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(fsys)) {
		if !fs.ValidPath(p) {
			return written, removed, fmt.Errorf("studio: export: invalid path %q", p)
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return written, removed, err
		}
		if err := os.WriteFile(target, fsys[p].Data, 0o644); err != nil {
			return written, removed, err
		}
		written++
	}
	err = filepath.WalkDir(dir, func(file string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, file)
		if err != nil {
			return err
		}
		p := filepath.ToSlash(rel)
		if _, ok := fsys[p]; ok || !course.ContentFile(p) {
			return nil
		}
		removed++
		return os.Remove(file)
	})
	return written, removed, err
}

// ErrChanged: content was published by someone else between reading and
// writing (another instance); nothing of the change was kept — try again.
var ErrChanged = fault.New(fault.Conflict, "content_changed", "", "changed by someone else meanwhile")

// staleError: the file's revision changed between reading and writing.
type staleError struct{ path string }

func (e *staleError) Error() string {
	return fmt.Sprintf("studio: %s was changed by someone else meanwhile; try again", e.path)
}

func (e *staleError) Unwrap() error { return ErrChanged }

var replaceUpsert = options.Replace().SetUpsert(true)
