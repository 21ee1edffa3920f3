package sso

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/database"
)

// Collections: started sign-ins, and the claims that use each once.
const (
	flowsCollection = "oidc_flows"
	usedCollection  = "oidc_flows_used"
)

// flow is a started sign-in: its state, the provider, the nonce and the
// PKCE verifier, and where to go afterwards.
type flow struct {
	State     string    `bson:"_id"`
	Provider  string    `bson:"provider"`
	Nonce     string    `bson:"nonce"`
	Verifier  string    `bson:"verifier"`
	Next      string    `bson:"next"`
	CreatedAt time.Time `bson:"created_at"`
}

// EnsureIndexes creates the indexes the clean-up of old flows reads by.
func EnsureIndexes(ctx context.Context, db *database.DB) error {
	for coll, key := range map[string]string{flowsCollection: "created_at", usedCollection: "at"} {
		if _, err := db.Collection(coll).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: key, Value: 1}}, Options: options.Index().SetName(key)}); err != nil {
			return fmt.Errorf("sso: indexes: %w", err)
		}
	}
	return nil
}

func (s *Service) saveFlow(ctx context.Context, f flow) error {
	// Old flows nobody finished are of no use: drop them now and then.
	_, _ = s.o.DB.Collection(flowsCollection).DeleteMany(ctx, bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: f.CreatedAt.Add(-time.Hour)}}}})
	// A used claim outlives its flow by long enough: a replay after it is
	// gone finds no flow either.
	_, _ = s.o.DB.Collection(usedCollection).DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: f.CreatedAt.Add(-2 * time.Hour)}}}})
	_, err := s.o.DB.Collection(flowsCollection).InsertOne(ctx, f)
	return err
}

// takeFlow reads a flow and uses it up: the insert of its claim under its
// state decides, so a callback replayed (also at the same moment) finds
// it used.
func (s *Service) takeFlow(ctx context.Context, state string) (*flow, error) {
	var f flow
	err := s.o.DB.Collection(flowsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: state}}).Decode(&f)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrState
	}
	if err != nil {
		return nil, err
	}
	_, err = s.o.DB.Collection(usedCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: state}, {Key: "at", Value: s.now().UTC()}})
	if mongo.IsDuplicateKeyError(err) {
		return nil, ErrState
	}
	if err != nil {
		return nil, err
	}
	_, _ = s.o.DB.Collection(flowsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: state}})
	return &f, nil
}
