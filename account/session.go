package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Session is a signed-in browser or API client. The token itself is never
// stored: the document's id is its SHA-256.
type Session struct {
	ID         string `bson:"_id" json:"-"`
	UserID     string `bson:"user_id" json:"-"`
	CSRF       string `bson:"csrf" json:"-"`
	Pending2FA bool   `bson:"pending_2fa" json:"-"` // password given, second factor not yet
	// Provider is the identity provider the session was signed in with
	// ("" for a password); MFA: that provider is trusted for the second
	// factor and said the person used several.
	Provider  string    `bson:"provider,omitempty" json:"-"`
	MFA       bool      `bson:"mfa,omitempty" json:"-"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	LastSeen  time.Time `bson:"last_seen" json:"last_seen"`
	ExpiresAt time.Time `bson:"expires_at" json:"expires_at"`
	UserAgent string    `bson:"user_agent" json:"user_agent"`
	IP        string    `bson:"ip" json:"ip"`
}

// NewToken makes a session token of 256 random bits.
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// StartSession signs a user in: a new token every time. pending2FA means
// the second factor is still to be given.
func (s *Store) StartSession(ctx context.Context, u *User, pending2FA bool, userAgent, ip string) (token string, sess *Session, err error) {
	return s.StartProviderSession(ctx, u, pending2FA, "", false, userAgent, ip)
}

// StartProviderSession signs in a user an identity provider vouched for:
// the session remembers the provider (for signing out there) and whether
// the provider gave the second factor.
func (s *Store) StartProviderSession(ctx context.Context, u *User, pending2FA bool, provider string, mfa bool, userAgent, ip string) (token string, sess *Session, err error) {
	token = NewToken()
	now := s.now().UTC()
	if len(userAgent) > 200 {
		userAgent = userAgent[:200]
	}
	sess = &Session{ID: hashToken(token), UserID: u.ID, CSRF: NewToken(), Pending2FA: pending2FA, Provider: provider, MFA: mfa, CreatedAt: now, LastSeen: now,
		ExpiresAt: now.Add(s.AbsoluteTimeout), UserAgent: userAgent, IP: ip}
	if pending2FA {
		sess.ExpiresAt = now.Add(10 * time.Minute)
	}
	_, err = s.db.Collection(sessionsCollection).InsertOne(ctx, sess)
	if err != nil {
		return "", nil, err
	}
	if err := s.touchUser(ctx, u.ID, now, true); err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// touchUser records when a user was last active (for the retention of
// inactive accounts); tell: OnChange is told (the reports count the
// days people were active, so a touch within a day they were already
// active on changes nothing of theirs).
func (s *Store) touchUser(ctx context.Context, userID string, at time.Time, tell bool) error {
	_, err := s.db.Collection(usersCollection).UpdateByID(ctx, userID, bson.D{{Key: "$max", Value: bson.D{{Key: "last_active", Value: at}}}})
	if tell {
		s.tell(userID)
	}
	return err
}

// touchEvery limits last-seen writes to one per minute per session.
const touchEvery = time.Minute

// Session finds the session of a token and its user, refusing expired,
// idle and disabled ones. It records activity at most once a minute.
//
// The session and user are the cached ones, shared by every request of
// the session: read them, never modify them (copy the user to change
// it, as the e-mail change does). Copying them for every request was
// most of a signed-in page's allocations, and so of the collector's work.
func (s *Store) Session(ctx context.Context, token string) (*Session, *User, error) {
	if token == "" || len(token) > 100 {
		return nil, nil, ErrSessionNotActive
	}
	id := hashToken(token)
	for attempt := 0; attempt < 2; attempt++ {
		c, err := s.sessions.GetOrLoad(id, func() (*cachedSession, string, error) {
			loaded := s.now()
			sess, u, err := s.loadSession(ctx, id)
			if err != nil {
				return nil, "", err
			}
			u.SessionMFA = sess.MFA && !sess.Pending2FA
			return &cachedSession{session: *sess, user: *u, loaded: loaded}, sessionGroup(u.ID), nil
		})
		if err != nil {
			return nil, nil, err
		}
		now := s.now()
		if now.Sub(c.loaded) > SessionCacheTTL && !s.following(now) {
			s.sessions.Delete(id) // older than an unfollowed instance may trust
			continue
		}
		if now.Before(c.session.ExpiresAt) && now.Sub(c.session.LastSeen) <= s.IdleTimeout {
			return &c.session, &c.user, nil
		}
		s.sessions.Delete(id) // stale in the cache: look again
	}
	return nil, nil, ErrSessionNotActive
}

// loadSession reads a session and its user, refusing expired, idle and
// disabled ones, and records activity at most once a minute.
func (s *Store) loadSession(ctx context.Context, id string) (*Session, *User, error) {
	var sess Session
	err := s.db.Collection(sessionsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&sess)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil, ErrSessionNotActive
	}
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	if now.After(sess.ExpiresAt) || now.Sub(sess.LastSeen) > s.IdleTimeout {
		_, _ = s.db.Collection(sessionsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: sess.ID}})
		return nil, nil, ErrSessionNotActive
	}
	u, err := s.User(ctx, sess.UserID)
	if errors.Is(err, ErrNotFound) || err == nil && u.Disabled {
		return nil, nil, ErrSessionNotActive
	}
	if err != nil {
		return nil, nil, err // the store failed: the session may be fine
	}
	if now.Sub(sess.LastSeen) > touchEvery {
		sess.LastSeen = now.UTC()
		_, _ = s.db.Collection(sessionsCollection).UpdateByID(ctx, sess.ID, bson.D{{Key: "$set", Value: bson.D{{Key: "last_seen", Value: sess.LastSeen}}}})
		_ = s.touchUser(ctx, u.ID, sess.LastSeen, !SameDay(u.LastActive, sess.LastSeen))
	}
	return &sess, u, nil
}

// CompleteTwoFactor turns a pending session into a full one, with a new
// token (the old one stops working).
func (s *Store) CompleteTwoFactor(ctx context.Context, sess *Session, u *User, userAgent, ip string) (string, *Session, error) {
	s.dropSessions(ctx, u.ID)
	if _, err := s.db.Collection(sessionsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: sess.ID}}); err != nil {
		return "", nil, err
	}
	return s.StartSession(ctx, u, false, userAgent, ip)
}

// EndSession signs one session out. The user id guards against ending
// someone else's session.
func (s *Store) EndSession(ctx context.Context, userID, sessionID string) (bool, error) {
	defer s.dropSessions(ctx, userID)
	r, err := s.db.Collection(sessionsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: sessionID}, {Key: "user_id", Value: userID}})
	if err != nil {
		return false, err
	}
	return r.DeletedCount == 1, nil
}

// EndAllSessions signs a user out everywhere, except the session keep.
func (s *Store) EndAllSessions(ctx context.Context, userID, keep string) (int64, error) {
	defer s.dropSessions(ctx, userID)
	filter := bson.D{{Key: "user_id", Value: userID}}
	if keep != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$ne", Value: keep}}})
	}
	r, err := s.db.Collection(sessionsCollection).DeleteMany(ctx, filter)
	if err != nil {
		return 0, err
	}
	return r.DeletedCount, nil
}

// Revocation notes. Every change made through the store to a user's
// sessions or to what a session carries of the user (sign-out, role,
// unit, disabling, deletion, second factor) drops the user's sessions
// from this instance's cache and leaves a note, {user, at}, in
// session_revocations (user: a hash of the user's id, so a note left by
// an account's deletion names no one). An instance that reads the notes
// (ReadRevocations, every RevocationsEvery) drops the same sessions
// from its cache, and may then trust a looked-up session for up to
// SessionTrustMax instead of rereading the session and its user every
// SessionCacheTTL. Each read takes the notes of the last
// revocationLookback again (a note may be written just before the change
// it stands for lands, and clocks differ), and trust beyond
// SessionCacheTTL lasts only while the last successful read began less
// than SessionCacheTTL ago: a change shows on every instance within
// SessionCacheTTL, as without the notes. A note that cannot be written
// (the store failing) leaves SessionTrustMax as the bound.
const (
	revocationsCollection = "session_revocations"
	// RevocationsEvery is how often a following instance reads the notes.
	RevocationsEvery = 2 * time.Second
	// revocationLookback is how far back every read looks.
	revocationLookback = 30 * time.Second
	// revocationKeep is how long a note is kept (DeleteExpiredSessions).
	revocationKeep = 10 * time.Minute
)

// dropSessions drops a user's sessions from this instance's cache and
// leaves the note other instances read.
func (s *Store) dropSessions(ctx context.Context, userID string) {
	group := sessionGroup(userID)
	s.sessions.DeleteGroup(group)
	if userID == "" {
		return
	}
	// The note outlives a request that ended (the change it stands for
	// has been made).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, _ = s.db.Collection(revocationsCollection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: NewID()}, {Key: "user", Value: group}, {Key: "at", Value: s.now().UTC()}})
}

// sessionGroup is the cache group of a user's sessions, and the user of
// their revocation notes: the user's id hashed.
func sessionGroup(userID string) string {
	h := sha256.Sum256([]byte("session-revocation\x00" + userID))
	return hex.EncodeToString(h[:16])
}

// ReadRevocations reads the revocation notes of the last
// revocationLookback and drops their users' sessions from this
// instance's cache; while reads succeed, sessions are trusted up to
// SessionTrustMax (see dropSessions).
func (s *Store) ReadRevocations(ctx context.Context) error {
	began := s.now()
	cur, err := s.db.Collection(revocationsCollection).Find(ctx,
		bson.D{{Key: "at", Value: bson.D{{Key: "$gte", Value: began.Add(-revocationLookback).UTC()}}}},
		options.Find().SetProjection(bson.D{{Key: "user", Value: 1}}))
	if err != nil {
		return fmt.Errorf("account: revocations: %w", err)
	}
	var notes []struct {
		User string `bson:"user"`
	}
	if err := cur.All(ctx, &notes); err != nil {
		return fmt.Errorf("account: revocations: %w", err)
	}
	for _, n := range notes {
		s.sessions.DeleteGroup(n.User)
	}
	s.followed.Store(began.UnixNano())
	return nil
}

// following reports whether the revocation notes were read recently
// enough for sessions to be trusted beyond SessionCacheTTL.
func (s *Store) following(now time.Time) bool {
	f := s.followed.Load()
	return f != 0 && now.Sub(time.Unix(0, f)) < SessionCacheTTL
}

// Sessions lists a user's active sessions, newest first.
func (s *Store) Sessions(ctx context.Context, userID string) ([]Session, error) {
	cur, err := s.db.Collection(sessionsCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}, {Key: "pending_2fa", Value: false}},
		options.Find().SetSort(bson.D{{Key: "last_seen", Value: -1}}))
	if err != nil {
		return nil, err
	}
	var out []Session
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	now := s.now()
	active := out[:0]
	for _, x := range out {
		if now.Before(x.ExpiresAt) && now.Sub(x.LastSeen) <= s.IdleTimeout {
			active = append(active, x)
		}
	}
	return active, nil
}

// DeleteExpiredSessions removes sessions past their time, and revocation
// notes older than revocationKeep (run now and then).
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	now := s.now().UTC()
	r, err := s.db.Collection(sessionsCollection).DeleteMany(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: now}}}},
		bson.D{{Key: "last_seen", Value: bson.D{{Key: "$lt", Value: now.Add(-s.IdleTimeout)}}}},
	}}})
	if err != nil {
		return 0, err
	}
	if _, err := s.db.Collection(revocationsCollection).DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: now.Add(-revocationKeep)}}}}); err != nil {
		return 0, err
	}
	return r.DeletedCount, nil
}
