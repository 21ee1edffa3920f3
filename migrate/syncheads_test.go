package migrate

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Accepted answer receipts become one head per user, device and task
// (the highest sequence number), other receipts make none, and no
// receipt keeps its text; a crash after the heads resumes to the same
// end.
func TestSyncHeads(t *testing.T) {
	for _, step := range []string{"", "migrate/4/heads-written"} {
		t.Run("crash at "+step, func(t *testing.T) {
			ctx := t.Context()
			db := env.Database()
			at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
			receipt := func(key, device, task string, seq int64, state, text string) bson.D {
				return bson.D{{Key: "_id", Value: "u1|" + key}, {Key: "user_id", Value: "u1"}, {Key: "device", Value: device}, {Key: "seq", Value: seq},
					{Key: "type", Value: "answer"}, {Key: "task", Value: task}, {Key: "text", Value: text}, {Key: "state", Value: state}, {Key: "received", Value: at}}
			}
			if _, err := db.Collection("sync_receipts").InsertMany(ctx, []any{
				receipt("k1", "dev-a", "m.s.t", 1, "accepted", "ensimmäinen"),
				receipt("k2", "dev-a", "m.s.t", 3, "accepted", "kolmas"),
				receipt("k3", "dev-a", "m.s.t", 4, "conflict", "neljäs"),
				receipt("k4", "dev-b", "m.s.t", 2, "accepted", "toinen laite"),
				bson.D{{Key: "_id", Value: "u1|k5"}, {Key: "user_id", Value: "u1"}, {Key: "device", Value: "dev-a"}, {Key: "seq", Value: 5}, {Key: "type", Value: "progress"}, {Key: "state", Value: "accepted"}},
			}); err != nil {
				t.Fatal(err)
			}
			if step != "" {
				crashAt(t, step, 1, func() { syncHeads(ctx, db) })
			}
			if err := syncHeads(ctx, db); err != nil {
				t.Fatal(err)
			}
			cur, err := db.Collection("sync_answer_heads").Find(ctx, bson.D{})
			if err != nil {
				t.Fatal(err)
			}
			var heads []bson.M
			if err := cur.All(ctx, &heads); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, h := range heads {
				got[h["_id"].(string)] = h["text"].(string)
				if h["user_id"] != "u1" {
					t.Errorf("head %v", h)
				}
			}
			if len(got) != 2 || got["u1|dev-a|m.s.t"] != "kolmas" || got["u1|dev-b|m.s.t"] != "toinen laite" {
				t.Fatalf("heads %v", got)
			}
			if n, _ := db.Collection("sync_receipts").CountDocuments(ctx, bson.D{{Key: "text", Value: bson.D{{Key: "$exists", Value: true}}}}); n != 0 {
				t.Fatalf("%d receipts keep their text", n)
			}
			if n, _ := db.Collection("sync_receipts").CountDocuments(ctx, bson.D{}); n != 5 {
				t.Fatalf("%d receipts, want all 5", n)
			}
		})
	}
}
