package migrate

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Every account with an address gets its address's key; a crash after
// the keys were written resumes to the same end.
func TestUserEmails(t *testing.T) {
	for _, step := range []string{"", "migrate/5/batch-written"} {
		t.Run("crash at "+step, func(t *testing.T) {
			ctx := t.Context()
			db := env.Database()
			var users []any
			for _, id := range []string{"u1", "u2", "u3"} {
				users = append(users, bson.D{{Key: "_id", Value: id}, {Key: "email", Value: id + "@example.fi"}, {Key: "name", Value: "Nimi"}})
			}
			users = append(users, bson.D{{Key: "_id", Value: "u4"}, {Key: "name", Value: "Ei osoitetta"}})
			if _, err := db.Collection("users").InsertMany(ctx, users); err != nil {
				t.Fatal(err)
			}
			if step != "" {
				crashAt(t, step, 1, func() { userEmails(ctx, db) })
			}
			if err := userEmails(ctx, db); err != nil {
				t.Fatal(err)
			}
			cur, err := db.Collection("user_emails").Find(ctx, bson.D{})
			if err != nil {
				t.Fatal(err)
			}
			var keys []struct {
				ID     string `bson:"_id"`
				UserID string `bson:"user_id"`
			}
			if err := cur.All(ctx, &keys); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, k := range keys {
				got[k.ID] = k.UserID
			}
			if len(got) != 3 || got["u1@example.fi"] != "u1" || got["u2@example.fi"] != "u2" || got["u3@example.fi"] != "u3" {
				t.Fatalf("keys %v", got)
			}
		})
	}
}
