package study

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/fault"
)

// What a learner did offline reaches the server later, from a queue on
// the device: each item carries an idempotency key the device made and
// the device's sequence number. The server accepts each key exactly once
// and merges:
//
//   - every key is claimed by inserting its receipt (sync_receipts, _id
//     user|key) before anything is applied, so the unique _id decides
//     which of two deliveries (a retry, two tabs, two instances) applies
//     it, never a conditional update;
//   - a completed section stays completed ($min of completed_at), scroll
//     and playback only grow, and time spent ($inc) is added by the one
//     delivery that inserted the receipt. A receipt left "claimed" (the
//     server stopped before applying) is applied again by the next
//     delivery without its time, so time is never counted twice (at worst
//     one heartbeat, 30 s, is not counted);
//   - an answer older (by the device's sequence) than one the device has
//     already had accepted for the same task is not applied (superseded);
//   - an answer whose server copy changed after the device last saw it
//     (its base) and says something else is not written over: the result
//     is a conflict carrying the server's copy, and the learner chooses
//     (sending the chosen text with the server copy's time as its base).

const receiptsCollection = "sync_receipts"

// headsCollection keeps, per learner, device and task (_id
// user|device|task), the device's accepted answer with the highest
// sequence number: whether a later answer of the device is in, and what
// the device itself last wrote, are one lookup by _id (a filter on the
// receipts would read every learner's receipts on FerretDB).
const headsCollection = "sync_answer_heads"

// head is a device's latest accepted answer to a task.
type head struct {
	ID     string    `bson:"_id"`
	UserID string    `bson:"user_id"`
	Seq    int64     `bson:"seq"`
	Text   string    `bson:"text"`
	At     time.Time `bson:"at"`
}

// ReceiptsKept is how long a delivered item's receipt is kept: an item
// delivered again within it is recognised; one that comes back later
// (a device offline for months) is applied again, where the merge rules
// make that harmless but for one heartbeat's time.
const ReceiptsKept = 90 * 24 * time.Hour

// Sync item types.
const (
	SyncProgress = "progress"
	SyncAnswer   = "answer"
)

// Sync outcomes.
const (
	SyncAccepted   = "accepted"   // applied now
	SyncDuplicate  = "duplicate"  // the key was accepted before; nothing added
	SyncSuperseded = "superseded" // a later answer of the device is already in
	SyncConflict   = "conflict"   // the server's answer changed meanwhile: the learner chooses
	SyncRejected   = "rejected"   // refused (Code says why); the device drops it
)

// MaxSyncItems bounds one delivery.
const MaxSyncItems = 500

// SyncItem is one queued thing a learner did on a device.
type SyncItem struct {
	Key string
	Seq int64
	// Type is SyncProgress or SyncAnswer; Section is the page it was
	// done on (resolved from the published course by the caller).
	Type    string
	Section *course.Section
	// Event is a progress event.
	Event Event
	// TaskID, Text and Base: an answer, and the updated_at of the server
	// copy the device last saw (nil: it saw none).
	TaskID string
	Text   string
	Base   *time.Time
}

// SyncResult is what became of an item.
type SyncResult struct {
	Key    string `json:"key"`
	Status string `json:"status"`
	// Code is the refusal's code (rejected).
	Code string `json:"code,omitempty"`
	// Server is the server's copy of the answer (conflict), for the
	// learner to compare with theirs.
	Server *Answer `json:"server,omitempty"`
}

// receipt is the record of a key: claimed before the item is applied,
// then marked with its outcome.
type receipt struct {
	ID       string    `bson:"_id"`
	UserID   string    `bson:"user_id"`
	Device   string    `bson:"device"`
	Seq      int64     `bson:"seq"`
	Type     string    `bson:"type"`
	Task     string    `bson:"task,omitempty"`
	State    string    `bson:"state"` // claimed | accepted | superseded | conflict | rejected
	Code     string    `bson:"code,omitempty"`
	Received time.Time `bson:"received"`
}

// Refusals of sync items.
var (
	ErrSyncKey  = fault.New(fault.Invalid, "sync_bad_key", "", "an item needs a key of 8 to 100 letters, digits, - or _, and a device id of the same form")
	ErrSyncType = fault.New(fault.Invalid, "sync_bad_type", "", "an item's type is progress or answer")
)

var syncKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{8,100}$`)

// ValidSyncKey reports whether s may be an idempotency key or device id.
func ValidSyncKey(s string) bool { return syncKeyRE.MatchString(s) }

// Sync applies a device's queued items for a learner, in the device's
// sequence order, each key once.
func (p *Progress) Sync(ctx context.Context, userID, device string, items []SyncItem) ([]SyncResult, error) {
	if !ValidSyncKey(device) {
		return nil, ErrSyncKey
	}
	order := slices.Clone(items)
	slices.SortStableFunc(order, func(a, b SyncItem) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	byKey := map[string]SyncResult{}
	for _, it := range order {
		if _, seen := byKey[it.Key]; seen {
			continue // the same key twice in one delivery: once
		}
		r, err := p.syncOne(ctx, userID, device, it)
		if err != nil {
			return nil, err
		}
		byKey[it.Key] = r
	}
	out := make([]SyncResult, 0, len(items))
	done := map[string]bool{}
	for _, it := range items {
		if !done[it.Key] {
			done[it.Key] = true
			out = append(out, byKey[it.Key])
		}
	}
	return out, nil
}

func (p *Progress) syncOne(ctx context.Context, userID, device string, it SyncItem) (SyncResult, error) {
	res := SyncResult{Key: it.Key}
	if !ValidSyncKey(it.Key) {
		res.Status, res.Code = SyncRejected, ErrSyncKey.Code
		return res, nil
	}
	if it.Type != SyncProgress && it.Type != SyncAnswer || it.Section == nil {
		res.Status, res.Code = SyncRejected, ErrSyncType.Code
		return res, nil
	}
	rc := receipt{ID: userID + "|" + it.Key, UserID: userID, Device: device, Seq: it.Seq, Type: it.Type, State: "claimed",
		Received: p.now().UTC().Truncate(time.Millisecond)}
	if it.Type == SyncAnswer {
		rc.Task = course.TaskKey(it.Section, it.TaskID)
	}
	coll := p.db.Collection(receiptsCollection)
	_, err := coll.InsertOne(ctx, rc)
	again := false
	if mongo.IsDuplicateKeyError(err) {
		var old receipt
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: rc.ID}}).Decode(&old); err != nil {
			return res, fmt.Errorf("study: sync receipt: %w", err)
		}
		if old.State != "claimed" {
			res.Status = SyncDuplicate
			if old.State == SyncConflict {
				// Still to be chosen: the device shows both again.
				res.Status = SyncConflict
				res.Server, err = p.currentAnswer(ctx, userID, old.Task)
				if err != nil {
					return res, err
				}
			}
			return res, nil
		}
		// Claimed but not applied (the server stopped): apply it again,
		// without the time, which the first claimer may have added.
		again = true
	} else if err != nil {
		return res, fmt.Errorf("study: sync receipt: %w", err)
	}
	state, code := SyncAccepted, ""
	switch it.Type {
	case SyncProgress:
		ev := it.Event
		if ev.Kind == "task-answered" {
			state, code = SyncRejected, ErrBadEvent.Code
			break
		}
		if again {
			ev.Seconds = 0
		}
		if _, err := p.Record(ctx, userID, it.Section, ev); err != nil {
			var f *fault.Error
			if !errors.As(err, &f) {
				return res, err
			}
			state, code = SyncRejected, f.Code
		}
	case SyncAnswer:
		var server *Answer
		state, server, err = p.syncAnswer(ctx, userID, device, it, rc.Task)
		if errors.Is(err, ErrNotRecorded) {
			err = nil // the answer stands; the next save records the task
		}
		if err != nil {
			var f *fault.Error
			if !errors.As(err, &f) {
				return res, err
			}
			state, code = SyncRejected, f.Code
		}
		res.Server = server
	}
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: rc.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: state}, {Key: "code", Value: code}}}}); err != nil {
		return res, fmt.Errorf("study: sync receipt: %w", err)
	}
	res.Status, res.Code = state, code
	if again && state == SyncAccepted {
		res.Status = SyncDuplicate
	}
	return res, nil
}

// syncAnswer applies an offline answer unless a later one of the device
// is in (superseded) or the server's copy changed since the device saw it
// and differs (conflict, with the server's copy).
func (p *Progress) syncAnswer(ctx context.Context, userID, device string, it SyncItem, key string) (string, *Answer, error) {
	if utf8.RuneCountInString(it.Text) > MaxAnswerLen || !utf8.ValidString(it.Text) {
		return "", nil, ErrAnswerTooLong
	}
	last, err := p.deviceHead(ctx, userID, device, key)
	if err != nil {
		return "", nil, err
	}
	if last != nil && last.Seq > it.Seq {
		return SyncSuperseded, nil, nil
	}
	unlock := p.locks.Lock(userID + "|" + key)
	cur, err := p.currentAnswer(ctx, userID, key)
	if err != nil {
		unlock()
		return "", nil, err
	}
	if cur != nil && cur.Text != it.Text && (it.Base == nil || !cur.UpdatedAt.Equal(it.Base.UTC().Truncate(time.Millisecond))) {
		// Changed since the device saw it: by someone else, unless it is
		// the device's own earlier offline answer.
		// (last is below it.Seq here: a later one was superseded above.)
		if last == nil || last.Text != cur.Text {
			unlock()
			return SyncConflict, cur, nil
		}
	}
	_, err = p.storeAnswer(ctx, userID, key, it.Text)
	unlock()
	if err != nil {
		return "", nil, err
	}
	if err := p.advanceHead(ctx, userID, device, key, it); err != nil {
		return "", nil, err
	}
	if strings.TrimSpace(it.Text) != "" {
		if _, err := p.Record(ctx, userID, it.Section, Event{Kind: "task-answered"}); err != nil {
			return SyncAccepted, nil, fmt.Errorf("%w: %w", ErrNotRecorded, err)
		}
	}
	return SyncAccepted, nil, nil
}

// deviceHead is the device's accepted answer to the task with the
// highest sequence number (nil: none).
func (p *Progress) deviceHead(ctx context.Context, userID, device, key string) (*head, error) {
	var h head
	err := p.db.Collection(headsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID + "|" + device + "|" + key}}).Decode(&h)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("study: sync: %w", err)
	}
	return &h, nil
}

// advanceHead makes an accepted answer the device's head for the task,
// unless one with a higher sequence number is there (the upsert of a
// document whose condition fails then finds the _id taken).
func (p *Progress) advanceHead(ctx context.Context, userID, device, key string, it SyncItem) error {
	id := userID + "|" + device + "|" + key
	_, err := p.db.Collection(headsCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: it.Seq}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "user_id", Value: userID}, {Key: "seq", Value: it.Seq}, {Key: "text", Value: it.Text},
			{Key: "at", Value: p.now().UTC().Truncate(time.Millisecond)}}}}, options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		return nil // a later answer of the device is the head
	}
	if err != nil {
		return fmt.Errorf("study: sync: %w", err)
	}
	return nil
}

// PurgeReceipts deletes the receipts of items delivered before `before`
// (ReceiptsKept ago); it returns how many.
func (p *Progress) PurgeReceipts(ctx context.Context, before time.Time) (int64, error) {
	r, err := p.db.Collection(receiptsCollection).DeleteMany(ctx, bson.D{{Key: "received", Value: bson.D{{Key: "$lt", Value: before.UTC()}}}})
	if err != nil {
		return 0, fmt.Errorf("study: sync receipts: %w", err)
	}
	return r.DeletedCount, nil
}

// currentAnswer reads a learner's answer from the store (not the cache).
func (p *Progress) currentAnswer(ctx context.Context, userID, key string) (*Answer, error) {
	var a Answer
	err := p.db.Collection(answersCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID + "|" + key}}).Decode(&a)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("study: answer: %w", err)
	}
	return &a, nil
}
