package migrate

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/database"
)

// userEmails (5): an account was found by its address with a filter on
// users.email, which FerretDB answers by reading every account (100,000
// of them at each sign-in of a large organisation). Each address now has
// a key read by _id (user_emails, _id address: user_id), written before
// its account takes the address.
//
// A key is made for every account that has an address, in batches, a key
// there already kept (a rerun after a crash finds the keys it wrote).
func userEmails(ctx context.Context, db *database.DB) error {
	cur, err := db.Collection("users").Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "email", Value: 1}}))
	if err != nil {
		return err
	}
	defer cur.Close(ctx)
	keys := db.Collection("user_emails")
	batch := make([]any, 0, 1000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := keys.InsertMany(ctx, batch, options.InsertMany().SetOrdered(false))
		batch = batch[:0]
		if err != nil && !onlyDuplicates(err) {
			return fmt.Errorf("writing e-mail keys: %w", err)
		}
		crashpoint.Reach("migrate/5/batch-written")
		return nil
	}
	for cur.Next(ctx) {
		var u struct {
			ID    string `bson:"_id"`
			Email string `bson:"email"`
		}
		if err := cur.Decode(&u); err != nil {
			return err
		}
		if u.ID == "" || u.Email == "" {
			continue
		}
		batch = append(batch, bson.D{{Key: "_id", Value: u.Email}, {Key: "user_id", Value: u.ID}})
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := cur.Err(); err != nil {
		return err
	}
	return flush()
}

// onlyDuplicates reports whether every error of an unordered bulk insert
// is a duplicate key (the documents were there already).
func onlyDuplicates(err error) bool {
	var bw mongo.BulkWriteException
	if !errors.As(err, &bw) || bw.WriteConcernError != nil || len(bw.WriteErrors) == 0 {
		return false
	}
	for _, we := range bw.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return true
}
