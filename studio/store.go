// Package studio keeps the course content as authors edit it: every
// file's revisions, the published version, drafts, and structure
// changes (sections and modules added, renamed, moved, archived) published
// as one step. The published course itself is package course's.
package studio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"sync"
	"testing/fstest"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/database"
)

// Collections of the content store.
const (
	filesCollection     = "content_files"
	revisionsCollection = "content_revisions"
	stateCollection     = "content_state"
	publishedID         = "published"
)

// fileDoc is the current revision of one content file.
type fileDoc struct {
	Path      string    `bson:"_id"`
	Rev       int       `bson:"rev"`
	Hash      string    `bson:"hash"`
	Data      []byte    `bson:"data"`
	Deleted   bool      `bson:"deleted,omitempty"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// revisionDoc is one revision of a content file, kept for history.
type revisionDoc struct {
	ID        string    `bson:"_id"` // path@rev
	Path      string    `bson:"path"`
	Rev       int       `bson:"rev"`
	Hash      string    `bson:"hash"`
	Data      []byte    `bson:"data,omitempty"`
	Deleted   bool      `bson:"deleted,omitempty"`
	By        string    `bson:"by"`
	CreatedAt time.Time `bson:"created_at"`
}

// stateDoc says which content is published: every import that changes the
// tree increments Version; TreeHash identifies the tree.
type stateDoc struct {
	ID        string    `bson:"_id"`
	Version   int64     `bson:"version"`
	TreeHash  string    `bson:"tree_hash"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// Store keeps the content tree in the document store as revisioned files.
type Store struct {
	db *database.DB
	// writes makes this process's publications one at a time.
	writes sync.Mutex
}

// NewStore uses db.
func NewStore(db *database.DB) *Store { return &Store{db: db} }

// EnsureIndexes creates the content collections' indexes (idempotent).
func EnsureIndexes(ctx context.Context, db *database.DB) error {
	_, err := db.Collection(revisionsCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "path", Value: 1}, {Key: "rev", Value: 1}},
		Options: options.Index().SetUnique(true).SetName("path_rev"),
	})
	if err != nil {
		return fmt.Errorf("studio: indexes: %w", err)
	}
	return nil
}

// ImportResult tells what an import changed.
type ImportResult struct {
	Changed   []string // new or changed files
	Deleted   []string
	Unchanged int
	Version   int64 // published version after the import
}

// treeHash identifies a set of files by their paths and hashes.
func treeHash(files map[string]string) string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%s\x00%s\n", p, files[p])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Import checks the content tree and, if it has no problems, stores every
// new or changed file as a new revision and publishes the tree. Importing
// an unchanged tree changes nothing. It is safe to run while servers read,
// and to re-run after a crash: the published version moves only when the
// files in the store match the tree.
func (s *Store) Import(ctx context.Context, fsys fs.FS, by string) (*ImportResult, *course.Course, error) {
	s.writes.Lock()
	defer s.writes.Unlock()
	c, problems := course.Load(fsys)
	if len(problems) > 0 {
		return nil, c, fmt.Errorf("%w:\n%s", course.ErrInvalid, problems.Error())
	}
	res := &ImportResult{}
	hashes := map[string]string{}
	for p, f := range c.Files {
		hashes[p] = f.Hash
	}
	files := s.db.Collection(filesCollection)
	current := map[string]fileDoc{}
	cur, err := files.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "data", Value: 0}}))
	if err != nil {
		return nil, c, fmt.Errorf("studio: import: %w", err)
	}
	var docs []fileDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, c, fmt.Errorf("studio: import: %w", err)
	}
	for _, d := range docs {
		current[d.Path] = d
	}
	paths := make([]string, 0, len(c.Files))
	for p := range c.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		f := c.Files[p]
		old, exists := current[p]
		if exists && !old.Deleted && old.Hash == f.Hash {
			res.Unchanged++
			continue
		}
		if err := s.writeRevision(ctx, old, exists, p, f.Hash, f.Data, false, by); err != nil {
			return nil, c, err
		}
		res.Changed = append(res.Changed, p)
	}
	for p, old := range current {
		if _, ok := c.Files[p]; ok || old.Deleted {
			continue
		}
		if err := s.writeRevision(ctx, old, true, p, "", nil, true, by); err != nil {
			return nil, c, err
		}
		res.Deleted = append(res.Deleted, p)
	}
	sort.Strings(res.Deleted)

	th := treeHash(hashes)
	state := s.db.Collection(stateCollection)
	var st stateDoc
	err = state.FindOne(ctx, bson.D{{Key: "_id", Value: publishedID}}).Decode(&st)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, c, fmt.Errorf("studio: import: %w", err)
	}
	if st.TreeHash == th {
		res.Version = st.Version
		return res, c, nil
	}
	err = state.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: publishedID}},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}},
			{Key: "$set", Value: bson.D{{Key: "tree_hash", Value: th}, {Key: "updated_at", Value: time.Now().UTC()}}},
		},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&st)
	if err != nil {
		return nil, c, fmt.Errorf("studio: publish: %w", err)
	}
	res.Version = st.Version
	return res, c, nil
}

// writeRevision records a new revision of one file: first the history
// entry (unique on path and revision), then the current document, guarded
// by the revision it replaces so that concurrent writers cannot both win.
func (s *Store) writeRevision(ctx context.Context, old fileDoc, exists bool, path, hash string, data []byte, deleted bool, by string) error {
	rev := 1
	if exists {
		rev = old.Rev + 1
	}
	now := time.Now().UTC()
	_, err := s.db.Collection(revisionsCollection).InsertOne(ctx, revisionDoc{
		ID: fmt.Sprintf("%s@%d", path, rev), Path: path, Rev: rev, Hash: hash, Data: data,
		Deleted: deleted, By: by, CreatedAt: now,
	})
	if mongo.IsDuplicateKeyError(err) {
		return &staleError{path}
	}
	if err != nil {
		return fmt.Errorf("studio: %s: %w", path, err)
	}
	doc := fileDoc{Path: path, Rev: rev, Hash: hash, Data: data, Deleted: deleted, UpdatedAt: now}
	files := s.db.Collection(filesCollection)
	if !exists {
		_, err = files.InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return &staleError{path}
		}
	} else {
		var r *mongo.UpdateResult
		r, err = files.ReplaceOne(ctx, bson.D{{Key: "_id", Value: path}, {Key: "rev", Value: old.Rev}}, doc)
		if err == nil && r.MatchedCount == 0 {
			return &staleError{path}
		}
	}
	if err != nil {
		return fmt.Errorf("studio: %s: %w", path, err)
	}
	return nil
}

// Revision is one entry of a file's history.
type Revision struct {
	Rev       int
	Hash      string
	Deleted   bool
	By        string
	CreatedAt time.Time
}

// History lists the revisions of a file, newest first.
func (s *Store) History(ctx context.Context, path string) ([]Revision, error) {
	cur, err := s.db.Collection(revisionsCollection).Find(ctx, bson.D{{Key: "path", Value: path}},
		options.Find().SetSort(bson.D{{Key: "rev", Value: -1}}).SetProjection(bson.D{{Key: "data", Value: 0}}))
	if err != nil {
		return nil, err
	}
	var docs []revisionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]Revision, len(docs))
	for i, d := range docs {
		out[i] = Revision{Rev: d.Rev, Hash: d.Hash, Deleted: d.Deleted, By: d.By, CreatedAt: d.CreatedAt}
	}
	return out, nil
}

// LoadPublished reads the published files and renders them.
func (s *Store) LoadPublished(ctx context.Context) (*course.Published, error) {
	for attempt := 0; ; attempt++ {
		var st stateDoc
		err := s.db.Collection(stateCollection).FindOne(ctx, bson.D{{Key: "_id", Value: publishedID}}).Decode(&st)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, course.ErrNothingPublished
		}
		if err != nil {
			return nil, err
		}
		fsys, hashes, _, err := s.currentFiles(ctx)
		if err != nil {
			return nil, err
		}
		if treeHash(hashes) != st.TreeHash {
			// An import is under way; its files and the version do not match yet.
			if attempt >= 20 {
				return nil, fmt.Errorf("studio: the stored files do not match published version %d", st.Version)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		c, problems := course.Load(fsys)
		if len(problems) > 0 {
			return nil, fmt.Errorf("%w (published version %d):\n%s", course.ErrInvalid, st.Version, problems.Error())
		}
		return &course.Published{Version: st.Version, Course: c}, nil
	}
}

// PublishedVersion is the current published version (one small read).
func (s *Store) PublishedVersion(ctx context.Context) (int64, error) {
	var st stateDoc
	err := s.db.Collection(stateCollection).FindOne(ctx, bson.D{{Key: "_id", Value: publishedID}},
		options.FindOne().SetProjection(bson.D{{Key: "version", Value: 1}})).Decode(&st)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	return st.Version, err
}

// currentFiles reads the stored files (not deleted) as a file system, with
// their hashes and documents by path.
func (s *Store) currentFiles(ctx context.Context) (fstest.MapFS, map[string]string, map[string]fileDoc, error) {
	cur, err := s.db.Collection(filesCollection).Find(ctx, bson.D{{Key: "deleted", Value: bson.D{{Key: "$ne", Value: true}}}})
	if err != nil {
		return nil, nil, nil, err
	}
	var list []fileDoc
	if err := cur.All(ctx, &list); err != nil {
		return nil, nil, nil, err
	}
	fsys := fstest.MapFS{}
	hashes := map[string]string{}
	docs := map[string]fileDoc{}
	for _, d := range list {
		fsys[d.Path] = &fstest.MapFile{Data: d.Data, Mode: 0o444}
		hashes[d.Path] = d.Hash
		docs[d.Path] = d
	}
	return fsys, hashes, docs, nil
}

// PublishFile replaces one file of the published tree (an edit made in the
// platform): the whole course is checked with the new file, and only if it
// has no problems is the file stored as a new revision and the tree
// published. The library of this process is refreshed at once; other
// instances follow within their polling interval.
func (s *Store) PublishFile(ctx context.Context, path string, data []byte, by string) (course.Problems, error) {
	return s.publishFile(ctx, path, data, by, -1)
}

// publishFile is PublishFile; with base ≥ 0 the file's published revision
// must still be base (0: no such file), else it answers a stale error.
func (s *Store) publishFile(ctx context.Context, path string, data []byte, by string, base int) (course.Problems, error) {
	s.writes.Lock()
	defer s.writes.Unlock()
	var st stateDoc
	if err := s.db.Collection(stateCollection).FindOne(ctx, bson.D{{Key: "_id", Value: publishedID}}).Decode(&st); err != nil {
		return nil, fmt.Errorf("studio: publish: %w", err)
	}
	fsys, hashes, docs, err := s.currentFiles(ctx)
	if err != nil {
		return nil, err
	}
	old, exists := docs[path]
	if base >= 0 && ((exists && old.Rev != base) || (!exists && base != 0)) {
		return nil, &staleError{path}
	}
	fsys[path] = &fstest.MapFile{Data: data}
	if _, problems := course.Load(fsys); len(problems) > 0 {
		return problems, nil
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	if exists && old.Hash == hash {
		return nil, nil
	}
	if !exists {
		// A path removed earlier comes back: the new revision follows
		// the deleted document's last one.
		if old, exists, err = s.fileDoc(ctx, path); err != nil {
			return nil, err
		}
	}
	if err := s.writeRevision(ctx, old, exists, path, hash, data, false, by); err != nil {
		return nil, err
	}
	hashes[path] = hash
	_, err = s.db.Collection(stateCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: publishedID}}, bson.D{
		{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}},
		{Key: "$set", Value: bson.D{{Key: "tree_hash", Value: treeHash(hashes)}, {Key: "updated_at", Value: time.Now().UTC()}}},
	})
	return nil, err
}
