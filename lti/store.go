package lti

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/database"
)

// Collections: the platforms, started logins, the claims that use each
// login once, and the nonces of accepted ID tokens.
const (
	registrationsCollection = "lti_registrations"
	flowsCollection         = "lti_flows"
	usedCollection          = "lti_flows_used"
	noncesCollection        = "lti_nonces"
	deepLinksCollection     = "lti_deep_links"
	// KeysCollection keeps the tool's signing keys (exam/cert.Keys).
	KeysCollection = "lti_keys"
)

// EnsureIndexes creates the indexes: one registration per (issuer,
// client id), and the clean-up of old flows and nonces.
func EnsureIndexes(ctx context.Context, db *database.DB) error {
	if _, err := db.Collection(registrationsCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "issuer", Value: 1}, {Key: "client_id", Value: 1}},
		Options: options.Index().SetUnique(true).SetName("issuer_client_unique"),
	}); err != nil {
		return fmt.Errorf("lti: indexes: %w", err)
	}
	for coll, key := range map[string]string{flowsCollection: "created_at", usedCollection: "at", noncesCollection: "at", deepLinksCollection: "created_at"} {
		if _, err := db.Collection(coll).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: key, Value: 1}}, Options: options.Index().SetName(key)}); err != nil {
			return fmt.Errorf("lti: indexes: %w", err)
		}
	}
	return nil
}

// Registrations is every registered platform by name.
func (s *Service) Registrations(ctx context.Context) ([]Registration, error) {
	cur, err := s.o.DB.Collection(registrationsCollection).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "name", Value: 1}}))
	if err != nil {
		return nil, err
	}
	var out []Registration
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Registration is the registration id, or ErrRegNotFound.
func (s *Service) Registration(ctx context.Context, id string) (*Registration, error) {
	var r Registration
	err := s.o.DB.Collection(registrationsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrRegNotFound
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// byIssuer is the active registrations of an issuer (the collection is
// small: a scan).
func (s *Service) byIssuer(ctx context.Context, issuer string) ([]Registration, error) {
	cur, err := s.o.DB.Collection(registrationsCollection).Find(ctx, bson.D{{Key: "issuer", Value: issuer}, {Key: "active", Value: true}})
	if err != nil {
		return nil, err
	}
	var out []Registration
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) insertRegistration(ctx context.Context, r *Registration) error {
	_, err := s.o.DB.Collection(registrationsCollection).InsertOne(ctx, r)
	if mongo.IsDuplicateKeyError(err) {
		return ErrRegTaken
	}
	return err
}

// saveRegistration writes what may change of a registration: its name,
// endpoints, deployments, organisation and state.
func (s *Service) saveRegistration(ctx context.Context, r *Registration) error {
	res, err := s.o.DB.Collection(registrationsCollection).UpdateByID(ctx, r.ID, bson.D{{Key: "$set", Value: bson.D{
		{Key: "name", Value: r.Name}, {Key: "auth_url", Value: r.AuthURL}, {Key: "token_url", Value: r.TokenURL}, {Key: "jwks_url", Value: r.JWKSURL},
		{Key: "deployments", Value: r.Deployments}, {Key: "org", Value: r.Org}, {Key: "active", Value: r.Active}}}})
	if err != nil {
		return err
	}
	if res.MatchedCount == 0 {
		return ErrRegNotFound
	}
	return nil
}

// flow is a started login: its state, the registration, the nonce, the
// target, and the login's parameters (to start it again in a window of
// its own when the browser refused the state cookie in a frame).
type flow struct {
	State        string    `bson:"_id"`
	Registration string    `bson:"registration"`
	Nonce        string    `bson:"nonce"`
	Target       string    `bson:"target"`
	LoginHint    string    `bson:"login_hint"`
	MessageHint  string    `bson:"message_hint,omitempty"`
	Deployment   string    `bson:"deployment,omitempty"`
	CreatedAt    time.Time `bson:"created_at"`
}

func (s *Service) saveFlow(ctx context.Context, f flow) error {
	s.sweep(ctx, f.CreatedAt)
	_, err := s.o.DB.Collection(flowsCollection).InsertOne(ctx, f)
	return err
}

// sweep drops old flows, claims, nonces and deep linking requests, at
// most once a minute per process: a used claim and a nonce outlive
// their flow and their token's lifetime, so a replay after they are gone
// finds no flow either.
func (s *Service) sweep(ctx context.Context, now time.Time) {
	s.mu.Lock()
	due := now.Sub(s.sweptAt) > time.Minute
	if due {
		s.sweptAt = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	older := func(key string, d time.Duration) bson.D {
		return bson.D{{Key: key, Value: bson.D{{Key: "$lt", Value: now.Add(-d)}}}}
	}
	_, _ = s.o.DB.Collection(flowsCollection).DeleteMany(ctx, older("created_at", time.Hour))
	_, _ = s.o.DB.Collection(usedCollection).DeleteMany(ctx, older("at", 2*time.Hour))
	_, _ = s.o.DB.Collection(noncesCollection).DeleteMany(ctx, older("at", 2*time.Hour))
	_, _ = s.o.DB.Collection(deepLinksCollection).DeleteMany(ctx, older("created_at", 2*DeepLinkTTL))
}

// peekFlow reads a flow without using it (for the new-window fallback).
func (s *Service) peekFlow(ctx context.Context, state string) (*flow, error) {
	var f flow
	err := s.o.DB.Collection(flowsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: state}}).Decode(&f)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrState
	}
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// takeFlow reads a flow and uses it up: the insert of its claim under
// its state decides, so a launch replayed (also at the same moment)
// finds it used.
func (s *Service) takeFlow(ctx context.Context, state string) (*flow, error) {
	f, err := s.peekFlow(ctx, state)
	if err != nil {
		return nil, err
	}
	if err := s.claimOnce(ctx, state); err != nil {
		return nil, err
	}
	_, _ = s.o.DB.Collection(flowsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: state}})
	return f, nil
}

// useNonce records an accepted ID token's nonce: the insert under the
// unique _id refuses the same (issuer, nonce) a second time, whichever
// instance sees it.
func (s *Service) useNonce(ctx context.Context, issuer, nonce string) error {
	_, err := s.o.DB.Collection(noncesCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: issuer + " " + nonce}, {Key: "at", Value: s.now().UTC()}})
	if mongo.IsDuplicateKeyError(err) {
		return ErrReplay
	}
	return err
}

// learnOrigin adds an origin the platform's pages were seen at to the
// registration (at most 20 are kept).
func (s *Service) learnOrigin(ctx context.Context, r *Registration, o string) error {
	if o == "" || slices.Contains(r.Origins(), o) || len(r.FrameOrigins) >= 20 {
		return nil
	}
	_, err := s.o.DB.Collection(registrationsCollection).UpdateByID(ctx, r.ID, bson.D{{Key: "$addToSet", Value: bson.D{{Key: "frame_origins", Value: o}}}})
	return err
}

func (s *Service) saveDeepLink(ctx context.Context, r DeepLinkRequest) error {
	_, err := s.o.DB.Collection(deepLinksCollection).InsertOne(ctx, r)
	return err
}

func (s *Service) findDeepLink(ctx context.Context, id string) (*DeepLinkRequest, error) {
	var r DeepLinkRequest
	err := s.o.DB.Collection(deepLinksCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrDeepLinkGone
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// claimOnce claims a single-use thing by inserting its key: the second
// claim, from any instance, is ErrState.
func (s *Service) claimOnce(ctx context.Context, key string) error {
	_, err := s.o.DB.Collection(usedCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "at", Value: s.now().UTC()}})
	if mongo.IsDuplicateKeyError(err) {
		return ErrState
	}
	return err
}
