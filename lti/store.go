package lti

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/retry"
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
		{Key: "deployments", Value: r.Deployments}, {Key: "org", Value: r.Org}, {Key: "active", Value: r.Active}, {Key: "roster", Value: r.Roster}}}})
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
	State        string `bson:"_id"`
	Registration string `bson:"registration"`
	Nonce        string `bson:"nonce"`
	Target       string `bson:"target"`
	LoginHint    string `bson:"login_hint"`
	MessageHint  string `bson:"message_hint,omitempty"`
	Deployment   string `bson:"deployment,omitempty"`
	// StorageTarget and StorageOrigin: the platform's postMessage
	// storage the login named, and its origin.
	StorageTarget string    `bson:"storage_target,omitempty"`
	StorageOrigin string    `bson:"storage_origin,omitempty"`
	CreatedAt     time.Time `bson:"created_at"`
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

// Collections of the scores: the grade links, the score outbox and its
// claims.
const (
	gradeLinksCollection  = "lti_grade_links"
	scoresCollection      = "lti_scores"
	scoreClaimsCollection = "lti_score_claims"
)

// saveGradeLink makes or refreshes a grade link (an upsert of one
// document by its _id, tried again when two launches race to insert it);
// the score queued last stays.
func (s *Service) saveGradeLink(ctx context.Context, l *GradeLink) error {
	l.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "user_id", Value: l.UserID}, {Key: "registration", Value: l.Registration}, {Key: "sub", Value: l.Sub},
		{Key: "resource", Value: l.Resource}, {Key: "lineitem", Value: l.LineItem}, {Key: "scopes", Value: l.Scopes}, {Key: "updated_at", Value: l.UpdatedAt}}}}
	var err error
	for range 3 {
		_, err = s.o.DB.Collection(gradeLinksCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: l.ID}}, update, options.UpdateOne().SetUpsert(true))
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	return err
}

// gradeLinks are the grade links of a user's resource ("" "": all).
func (s *Service) gradeLinks(ctx context.Context, userID, resource string) ([]GradeLink, error) {
	filter := bson.D{}
	if userID != "" {
		filter = bson.D{{Key: "user_id", Value: userID}, {Key: "resource", Value: resource}}
	}
	cur, err := s.o.DB.Collection(gradeLinksCollection).Find(ctx, filter)
	if err != nil {
		return nil, err
	}
	var out []GradeLink
	return out, cur.All(ctx, &out)
}

// GradeLinks are a user's grade links (tests, erasure).
func (s *Service) GradeLinks(ctx context.Context, userID string) ([]GradeLink, error) {
	cur, err := s.o.DB.Collection(gradeLinksCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		return nil, err
	}
	var out []GradeLink
	return out, cur.All(ctx, &out)
}

// Score outbox states.
const (
	ScorePending = "pending"
	ScoreSent    = "sent"
	ScoreFailed  = "failed"
)

// scoreMessage is a score in the outbox.
type scoreMessage struct {
	ID           string         `bson:"_id"`
	Link         string         `bson:"link"`
	UserID       string         `bson:"user_id"`
	Registration string         `bson:"registration"`
	LineItem     string         `bson:"lineitem"`
	Body         map[string]any `bson:"body"`
	State        string         `bson:"state"`
	Attempts     int            `bson:"attempts"`
	NextTry      time.Time      `bson:"next_try"`
	GiveUpAt     time.Time      `bson:"give_up_at"`
	CreatedAt    time.Time      `bson:"created_at"`
	SentAt       time.Time      `bson:"sent_at,omitempty"`
	LastError    string         `bson:"last_error,omitempty"`
}

// ScoreGiveUp is how long a score is tried before it is given up.
const ScoreGiveUp = 48 * time.Hour

// enqueueScore inserts a score for the link and records it as the link's
// last queued score.
func (s *Service) enqueueScore(ctx context.Context, l *GradeLink, sc Score) error {
	now := s.now().UTC().Truncate(time.Millisecond)
	m := scoreMessage{ID: random(), Link: l.ID, UserID: l.UserID, Registration: l.Registration, LineItem: l.LineItem, Body: scoreBody(l, sc, now),
		State: ScorePending, NextTry: now, GiveUpAt: now.Add(ScoreGiveUp), CreatedAt: now}
	if _, err := s.o.DB.Collection(scoresCollection).InsertOne(ctx, m); err != nil {
		return err
	}
	_, err := s.o.DB.Collection(gradeLinksCollection).UpdateByID(ctx, l.ID, bson.D{{Key: "$set", Value: bson.D{{Key: "posted", Value: sc.key()}}}})
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return err
}

// ScoreState is a queued score as the administrators and tests see it.
type ScoreState struct {
	ID, UserID, LineItem, State, LastError string
	Attempts                               int
	Body                                   map[string]any
}

// Scores are the queued scores of a user, oldest first.
func (s *Service) Scores(ctx context.Context, userID string) ([]ScoreState, error) {
	cur, err := s.o.DB.Collection(scoresCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}}, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}))
	if err != nil {
		return nil, err
	}
	var ms []scoreMessage
	if err := cur.All(ctx, &ms); err != nil {
		return nil, err
	}
	var out []ScoreState
	for _, m := range ms {
		out = append(out, ScoreState{ID: m.ID, UserID: m.UserID, LineItem: m.LineItem, State: m.State, LastError: m.LastError, Attempts: m.Attempts, Body: m.Body})
	}
	return out, nil
}

type scoreClaim struct {
	ID     string    `bson:"_id"` // score id # try
	Holder string    `bson:"holder"`
	Until  time.Time `bson:"until"`
}

// SendScores sends due scores until ctx ends (one sender per instance;
// each try is claimed by an insert, so only one sender makes it).
func (s *Service) SendScores(ctx context.Context, poll time.Duration) {
	for {
		n, err := s.SendScoresOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.o.Logger.Warn("lti: sending scores", "err", err)
		}
		if n >= scoreBatch {
			continue
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

const scoreBatch = 50

// SendScoresOnce claims up to a batch of due scores, sends each and
// records the result; it returns how many it tried.
func (s *Service) SendScoresOnce(ctx context.Context) (int, error) {
	now := s.now().UTC()
	coll := s.o.DB.Collection(scoresCollection)
	cur, err := coll.Find(ctx, bson.D{{Key: "state", Value: ScorePending}, {Key: "next_try", Value: bson.D{{Key: "$lte", Value: now}}}},
		options.Find().SetSort(bson.D{{Key: "next_try", Value: 1}}).SetLimit(scoreBatch*2))
	if err != nil {
		return 0, err
	}
	var due []scoreMessage
	if err := cur.All(ctx, &due); err != nil {
		return 0, err
	}
	tried := 0
	regs := map[string]*Registration{}
	for i := range due {
		if tried == scoreBatch {
			break
		}
		m := &due[i]
		try, ok, err := s.claimScore(ctx, m.ID, m.Attempts)
		if err != nil {
			return tried, err
		}
		if !ok {
			continue
		}
		// Read it again after the claim: another sender may have
		// finished it between the look and the claim.
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: m.ID}}).Decode(m); err != nil || m.State != ScorePending {
			continue
		}
		m.Attempts = try
		tried++
		reg := regs[m.Registration]
		if reg == nil {
			if reg, err = s.Registration(ctx, m.Registration); err != nil {
				s.recordScore(ctx, m, &deliveryError{status: http.StatusGone, err: err})
				continue
			}
			regs[m.Registration] = reg
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = s.postScore(sctx, reg, m)
		cancel()
		s.recordScore(ctx, m, err)
	}
	return tried, nil
}

// claimScore takes a score's next try by inserting its claim; a claim of
// a sender that died (its lease over) is stepped over.
func (s *Service) claimScore(ctx context.Context, id string, attempts int) (int, bool, error) {
	claims := s.o.DB.Collection(scoreClaimsCollection)
	for try := attempts + 1; try <= attempts+5; try++ {
		now := s.now().UTC()
		_, err := claims.InsertOne(ctx, scoreClaim{ID: id + "#" + strconv.Itoa(try), Holder: s.holder, Until: now.Add(2 * time.Minute)})
		if err == nil {
			return try, true, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return 0, false, err
		}
		var c scoreClaim
		if err := claims.FindOne(ctx, bson.D{{Key: "_id", Value: id + "#" + strconv.Itoa(try)}}).Decode(&c); err != nil || c.Until.After(now) {
			return 0, false, nil
		}
	}
	return 0, false, nil
}

// recordScore writes a try's result (only the try's owner writes).
func (s *Service) recordScore(ctx context.Context, m *scoreMessage, sendErr error) {
	now := s.now().UTC()
	set := bson.D{{Key: "attempts", Value: m.Attempts}}
	var de *deliveryError
	if sendErr != nil && !errors.As(sendErr, &de) {
		de = &deliveryError{err: sendErr}
	}
	switch {
	case sendErr == nil:
		set = append(set, bson.E{Key: "state", Value: ScoreSent}, bson.E{Key: "sent_at", Value: now})
	case de.permanent():
		set = append(set, bson.E{Key: "state", Value: ScoreFailed}, bson.E{Key: "last_error", Value: clip(sendErr.Error())})
		s.o.Logger.Warn("lti: the platform refused a score for good", "score", m.ID, "err", sendErr)
	case now.After(m.GiveUpAt):
		set = append(set, bson.E{Key: "state", Value: ScoreFailed}, bson.E{Key: "last_error", Value: clip("not accepted within 48 h: " + sendErr.Error())})
	default:
		wait := retry.Backoff(s.o.ScoreBackoff, m.Attempts)
		if de.retryAfter > 0 {
			wait = min(de.retryAfter, time.Hour) // the platform's rate limit says when
		}
		set = append(set, bson.E{Key: "next_try", Value: now.Add(wait)}, bson.E{Key: "last_error", Value: clip(sendErr.Error())})
	}
	ctx = context.WithoutCancel(ctx)
	for i := range 20 {
		if _, err := s.o.DB.Collection(scoresCollection).UpdateByID(ctx, m.ID, bson.D{{Key: "$set", Value: set}}); err == nil {
			return
		}
		time.Sleep(time.Duration(i+1) * 100 * time.Millisecond)
	}
	s.o.Logger.Error("lti: recording a score's try failed", "score", m.ID)
}

// DeleteUser forgets a person (account deletion): their grade links, their
// scores not yet sent and sent, and their waiting deep linking requests.
// A score already in a platform's gradebook is the platform's.
func (s *Service) DeleteUser(ctx context.Context, userID string) error {
	for _, coll := range []string{gradeLinksCollection, scoresCollection, deepLinksCollection} {
		if _, err := s.o.DB.Collection(coll).DeleteMany(ctx, bson.D{{Key: "user_id", Value: userID}}); err != nil {
			return err
		}
	}
	return nil
}

const invitationsCollection = "lti_invitations"

func (s *Service) saveInvitation(ctx context.Context, inv Invitation) error {
	_, err := s.o.DB.Collection(invitationsCollection).InsertOne(ctx, inv)
	return err
}

func (s *Service) findInvitation(ctx context.Context, id string) (*Invitation, error) {
	var inv Invitation
	err := s.o.DB.Collection(invitationsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&inv)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrInvitation
	}
	if err != nil {
		return nil, err
	}
	return &inv, nil
}

// dropInvitation removes a used registration address.
func (s *Service) dropInvitation(ctx context.Context, id string) error {
	_, err := s.o.DB.Collection(invitationsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return err
}

const rostersCollection = "lti_rosters"

// roster is a course's membership service seen in a launch.
type roster struct {
	ID           string    `bson:"_id"` // registration|url
	Registration string    `bson:"registration"`
	URL          string    `bson:"url"`
	UpdatedAt    time.Time `bson:"updated_at"`
}

func (s *Service) saveRoster(ctx context.Context, reg *Registration, u string) error {
	id := reg.ID + "|" + u
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "registration", Value: reg.ID}, {Key: "url", Value: u}, {Key: "updated_at", Value: s.now().UTC().Truncate(time.Millisecond)}}}}
	var err error
	for range 3 {
		_, err = s.o.DB.Collection(rostersCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, update, options.UpdateOne().SetUpsert(true))
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	return err
}

func (s *Service) rosters(ctx context.Context) ([]roster, error) {
	cur, err := s.o.DB.Collection(rostersCollection).Find(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	var out []roster
	return out, cur.All(ctx, &out)
}

// PurgeScores drops what the score outbox no longer needs: claims over a
// day old and scores sent or given up over keep ago.
func (s *Service) PurgeScores(ctx context.Context, keep time.Duration) (int64, error) {
	now := s.now().UTC()
	if _, err := s.o.DB.Collection(scoreClaimsCollection).DeleteMany(ctx, bson.D{{Key: "until", Value: bson.D{{Key: "$lt", Value: now.Add(-24 * time.Hour)}}}}); err != nil {
		return 0, err
	}
	r, err := s.o.DB.Collection(scoresCollection).DeleteMany(ctx, bson.D{{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{ScoreSent, ScoreFailed}}}},
		{Key: "created_at", Value: bson.D{{Key: "$lt", Value: now.Add(-keep)}}}})
	if err != nil {
		return 0, err
	}
	return r.DeletedCount, nil
}
