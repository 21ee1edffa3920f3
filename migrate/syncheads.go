package migrate

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/database"
)

// syncHeads (4): a receipt of an offline answer (sync_receipts) kept the
// answer's text, and whether a later answer of the device was in, or
// what the device itself last wrote, was found with a filter on the
// receipts, which FerretDB answers by reading every learner's receipts.
// Each device's latest accepted answer to a task is now a head
// (sync_answer_heads, _id user|device|task: user_id, seq, text, at), and
// receipts keep no text.
//
// The heads are made from the accepted answer receipts (the highest
// sequence number of each user, device and task; inserted, a head there
// already kept), then the receipts' texts are removed. Rerun after a
// crash anywhere: the inserts find their heads, and removing a removed
// text does nothing.
func syncHeads(ctx context.Context, db *database.DB) error {
	receipts := db.Collection("sync_receipts")
	cur, err := receipts.Find(ctx, bson.D{{Key: "type", Value: "answer"}, {Key: "state", Value: "accepted"}})
	if err != nil {
		return err
	}
	var list []struct {
		UserID   string        `bson:"user_id"`
		Device   string        `bson:"device"`
		Task     string        `bson:"task"`
		Seq      int64         `bson:"seq"`
		Text     string        `bson:"text"`
		Received bson.DateTime `bson:"received"`
	}
	if err := cur.All(ctx, &list); err != nil {
		return err
	}
	type head struct {
		seq int64
		doc bson.D
	}
	heads := map[string]head{}
	for _, r := range list {
		if r.UserID == "" || r.Device == "" || r.Task == "" {
			continue
		}
		id := r.UserID + "|" + r.Device + "|" + r.Task
		if h, ok := heads[id]; ok && h.seq >= r.Seq {
			continue
		}
		heads[id] = head{r.Seq, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: r.UserID}, {Key: "seq", Value: r.Seq},
			{Key: "text", Value: r.Text}, {Key: "at", Value: r.Received}}}
	}
	for id, h := range heads {
		if _, err := db.Collection("sync_answer_heads").InsertOne(ctx, h.doc); err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("head %s: %w", id, err)
		}
	}
	crashpoint.Reach("migrate/4/heads-written")
	if _, err := receipts.UpdateMany(ctx, bson.D{{Key: "text", Value: bson.D{{Key: "$exists", Value: true}}}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "text", Value: ""}}}}); err != nil {
		return fmt.Errorf("receipts' texts: %w", err)
	}
	return nil
}
