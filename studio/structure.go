package studio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing/fstest"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tyokyky/tyokyky/course"
)

// fileDoc is the stored document of a path, deleted or not.
func (s *Store) fileDoc(ctx context.Context, p string) (fileDoc, bool, error) {
	var d fileDoc
	err := s.db.Collection(filesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: p}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return d, false, nil
	}
	if err != nil {
		return d, false, fmt.Errorf("studio: %w", err)
	}
	return d, true, nil
}

// RefusedError is a change that cannot be made as asked (no such
// section, an address already taken): the author's to correct.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// PublishChanges works out changes on the stored content tree with plan,
// checks the course with them and, without problems, stores each changed
// file as a new revision and publishes the tree once. Plan sees the files
// as stored now (not a cached view), and changes of one process are made
// one at a time, so a structure change never undoes an edit published
// just before it. The store has no transactions: when another instance
// wrote one of the files meanwhile, the files this change already wrote
// are put back as they were (as new revisions) and the change answers a
// stale error; a crash in between leaves files that the next publication
// completes. A refusal by plan comes back as a *RefusedError.
func (s *Store) PublishChanges(ctx context.Context, by string, plan func(fstest.MapFS) ([]course.FileChange, error)) (course.Problems, error) {
	s.writes.Lock()
	defer s.writes.Unlock()
	fsys, hashes, docs, err := s.currentFiles(ctx)
	if err != nil {
		return nil, err
	}
	changes, err := plan(fsys)
	if err != nil {
		return nil, &RefusedError{err}
	}
	next := course.Apply(fsys, changes)
	if _, problems := course.Load(next); len(problems) > 0 {
		return problems, nil
	}
	// written: what this change wrote, to put back if a later write fails.
	type write struct {
		old    fileDoc
		exists bool
	}
	var written []write
	undo := func(cause error) error {
		for i := len(written) - 1; i >= 0; i-- {
			w := written[i]
			rev := 1
			if w.exists {
				rev = w.old.Rev + 1
			}
			gone := !w.exists || w.old.Deleted
			var data []byte
			if !gone {
				data = w.old.Data
			}
			if err := s.writeRevision(ctx, fileDoc{Path: w.old.Path, Rev: rev}, true, w.old.Path, w.old.Hash, data, gone, by); err != nil {
				// Not ErrChanged: part of the change stays, and trying
				// again is not the answer.
				return fmt.Errorf("studio: the change was interrupted (%v) and putting %s back failed: %v", cause, w.old.Path, err)
			}
		}
		return cause
	}
	for _, ch := range changes {
		old, exists := docs[ch.Path]
		if !exists && !ch.Delete {
			// A path removed earlier comes back: its document is there,
			// marked deleted, and the new revision follows its last one.
			if old, exists, err = s.fileDoc(ctx, ch.Path); err != nil {
				return nil, undo(err)
			}
		}
		old.Path = ch.Path
		if ch.Delete {
			if !exists {
				continue
			}
			if err := s.writeRevision(ctx, old, true, ch.Path, old.Hash, nil, true, by); err != nil {
				return nil, undo(err)
			}
			written = append(written, write{old, exists})
			delete(hashes, ch.Path)
			continue
		}
		digest := sha256.Sum256(ch.Data)
		sum := hex.EncodeToString(digest[:])
		if exists && old.Hash == sum && !old.Deleted {
			continue
		}
		if err := s.writeRevision(ctx, old, exists, ch.Path, sum, ch.Data, false, by); err != nil {
			return nil, undo(err)
		}
		written = append(written, write{old, exists})
		hashes[ch.Path] = sum
	}
	_, err = s.db.Collection(stateCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: publishedID}}, bson.D{
		{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}},
		{Key: "$set", Value: bson.D{{Key: "tree_hash", Value: treeHash(hashes)}, {Key: "updated_at", Value: time.Now().UTC()}}},
	})
	if err != nil {
		return nil, err
	}
	for _, ch := range changes {
		if ch.From != "" && !ch.Delete {
			if err := s.moveDraft(ctx, ch.From, ch.Path, docs[ch.From].Rev); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

// moveDraft moves the draft of a file that moved from → to. A draft
// written on the file's last text (revision rev at from) goes on from the
// new file's revision; one written on an older text keeps no base, so
// publishing it shows the merge view.
func (s *Store) moveDraft(ctx context.Context, from, to string, rev int) error {
	d, err := s.DraftOf(ctx, from)
	if err != nil || d == nil {
		return err
	}
	base := 0
	if d.BaseRev == rev {
		if doc, ok, err := s.fileDoc(ctx, to); err != nil {
			return err
		} else if ok {
			base = doc.Rev
		}
	}
	if existing, err := s.DraftOf(ctx, to); err != nil {
		return err
	} else if existing != nil {
		return nil // the new path has a draft of its own: both stay
	}
	d.Path, d.BaseRev = to, base
	if err := s.SaveDraft(ctx, *d); err != nil {
		return err
	}
	return s.DiscardDraft(ctx, from)
}
