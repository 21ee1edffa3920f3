package account

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/database"
)

const auditCollection = "audit_log"

// AuditEntry records one administrative action.
type AuditEntry struct {
	ID     string    `bson:"_id" json:"id"`
	At     time.Time `bson:"at" json:"at"`
	Actor  string    `bson:"actor" json:"actor"`   // user id of who acted
	Action string    `bson:"action" json:"action"` // e.g. role.change
	Target string    `bson:"target" json:"target"` // id of what was acted on
	Detail string    `bson:"detail,omitempty" json:"detail,omitempty"`
}

// Audit stores an entry; a failure to record is returned, so that callers
// can refuse to act unrecorded.
func (s *Store) Audit(ctx context.Context, actor, action, target, detail string) error {
	_, err := s.db.Collection(auditCollection).InsertOne(ctx, AuditEntry{
		ID: NewID(), At: s.now().UTC(), Actor: actor, Action: action, Target: target, Detail: detail,
	})
	return err
}

// AuditLog lists the newest entries first.
func (s *Store) AuditLog(ctx context.Context, limit int64) ([]AuditEntry, error) {
	cur, err := s.db.Collection(auditCollection).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "at", Value: -1}}).SetLimit(limit))
	if err != nil {
		return nil, err
	}
	out := []AuditEntry{}
	return out, cur.All(ctx, &out)
}

// AuditPage is a page of the audit log, newest first, after the cursor
// after ("" for the first page), at most size; next is the following
// page's cursor ("" after the last).
func (s *Store) AuditPage(ctx context.Context, after string, size int) (entries []AuditEntry, next string, err error) {
	ks := database.Keyset{Field: "at", Desc: true, Tie: "_id"}
	filter, err := ks.Filter(bson.D{}, after)
	if err != nil {
		return nil, "", err
	}
	cur, err := s.db.Collection(auditCollection).Find(ctx, filter, ks.Options(size))
	if err != nil {
		return nil, "", err
	}
	rows := []AuditEntry{}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, "", err
	}
	entries, next = database.Page(rows, size, func(e AuditEntry) string { return database.CursorOf(e.At, e.ID) })
	return entries, next, nil
}

// ForgetInAudit replaces a deleted user's id in the audit log with a
// neutral marker: the record of actions stays, the person does not.
func (s *Store) ForgetInAudit(ctx context.Context, userID string) error {
	for _, field := range []string{"actor", "target"} {
		if _, err := s.db.Collection(auditCollection).UpdateMany(ctx, bson.D{{Key: field, Value: userID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: "poistettu käyttäjä"}}}}); err != nil {
			return err
		}
	}
	return nil
}
